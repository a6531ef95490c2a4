//! API keys: `uhk_<id>_<secret>`. The prefix makes leaked keys easy to spot (secret
//! scanners, logs); the id says which item to read; only a SHA-256 of the key is stored.

use super::tokens::{random_secret, sha256_hex};

pub const PREFIX: &str = "uhk_";

/// A key as presented: its id and the hash to compare. `Debug` shows only the id.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedKey {
    pub id: String,
    pub hash: String,
}

impl std::fmt::Debug for PresentedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A freshly generated key: its id, the full key (shown once), and what to store.
pub fn generate() -> (String, String, String) {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let key = format!("{PREFIX}{id}_{}", random_secret());
    let hash = sha256_hex(&key);
    (id, key, hash)
}

pub fn parse(raw: &str) -> Option<PresentedKey> {
    let rest = raw.trim().strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) || secret.len() != 43 {
        return None;
    }
    Some(PresentedKey {
        id: id.to_owned(),
        hash: sha256_hex(raw.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_key_debug_is_redacted() {
        let (_, key, hash) = generate();
        let printed = format!("{:?}", parse(&key).unwrap());
        assert!(!printed.contains(&hash), "{printed}");
    }

    #[test]
    fn generated_keys_parse_back() {
        let (id, key, hash) = generate();
        assert!(key.starts_with("uhk_"));
        let p = parse(&key).unwrap();
        assert_eq!((p.id, p.hash), (id, hash));
        assert!(parse("uhk_abc_def").is_none());
        assert!(parse(&key.replace("uhk_", "xyz_")).is_none());
    }

    proptest::proptest! {
        /// API keys parse only in their exact shape (the refresh-token side of this check
        /// is in `tokens::tests`).
        #[test]
        fn api_keys_parse_only_their_own_shape(raw in "uhk_.*|[0-9a-f-]{36}\\..*") {
            if let Some(key) = parse(&raw) {
                proptest::prop_assert_eq!(key.id.len(), 32);
            }
        }
    }
}
