//! Opaque list cursors: the store's position, sealed with an HMAC whose key is derived from
//! the server secret and whose input includes the query the cursor belongs to. A tampered,
//! truncated, foreign or replayed-with-other-filters cursor fails to open: 400, never 500.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

type HmacSha256 = Hmac<Sha256>;

pub use crate::store::Position;

/// A cursor that did not open: tampered, truncated, foreign, or of another query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not one this list handed out")]
pub struct InvalidCursor;

#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// A key of its own, so a cursor MAC can never be mistaken for a token signature.
    pub fn derive(secret: &Secret) -> Self {
        let mut mac =
            HmacSha256::new_from_slice(secret.expose()).expect("HMAC takes any key length");
        mac.update(b"userhub/cursor/v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, scope: &str, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    /// `scope` names the query (route, filters, sort); the cursor only opens for the same.
    pub fn seal(&self, scope: &str, position: &Position) -> String {
        let payload = serde_json::to_vec(position).expect("a string map serialises");
        let tag = self.mac(scope, &payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    pub fn open(&self, scope: &str, raw: &str) -> Result<Position, InvalidCursor> {
        let (payload, tag) = raw.split_once('.').ok_or(InvalidCursor)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidCursor)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| InvalidCursor)?;
        self.mac(scope, &payload)
            .verify_slice(&tag)
            .map_err(|_| InvalidCursor)?;
        serde_json::from_slice(&payload).map_err(|_| InvalidCursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CursorKey {
        CursorKey::derive(&Secret::new(vec![byte; 32]).unwrap())
    }

    #[test]
    fn round_trips_within_its_scope_only() {
        let k = key(1);
        let pos: Position = [("pk".to_string(), "USER#1".to_string())].into();
        let c = k.seal("users?sort=email", &pos);
        assert_eq!(k.open("users?sort=email", &c).unwrap(), pos);
        assert!(k.open("users?sort=created_at", &c).is_err());
        assert!(key(2).open("users?sort=email", &c).is_err());
    }

    #[test]
    fn tampering_and_truncation_fail() {
        let k = key(1);
        let pos: Position = [("pk".to_string(), "A".to_string())].into();
        let c = k.seal("s", &pos);
        for bad in [
            c[..c.len() - 2].to_string(),
            c.replacen('e', "f", 1),
            format!("x{c}"),
            String::new(),
            "....".into(),
            "not-a-cursor".into(),
        ] {
            assert!(k.open("s", &bad).is_err(), "{bad:?} opened");
        }
    }

    /// Replaces the character at `at` (a char index) with `with`.
    fn mutate(s: &str, at: usize, with: char) -> String {
        let mut chars: Vec<char> = s.chars().collect();
        let i = at % chars.len().max(1);
        if chars.is_empty() {
            return with.to_string();
        }
        chars[i] = with;
        chars.into_iter().collect()
    }

    proptest::proptest! {
        /// No input makes the decoder panic, and none opens without the key.
        #[test]
        fn any_string_fails_to_open_without_panicking(raw in ".*", scope in ".*") {
            proptest::prop_assert!(key(1).open(&scope, &raw).is_err());
        }

        /// Strings shaped like cursors (two base64url parts) fail too.
        #[test]
        fn cursor_shaped_strings_fail(payload in "[A-Za-z0-9_-]{0,80}", tag in "[A-Za-z0-9_-]{0,50}") {
            let raw = format!("{payload}.{tag}");
            proptest::prop_assert!(key(1).open("s", &raw).is_err());
        }

        /// Every position round-trips in its own scope, and no other scope opens it.
        #[test]
        fn positions_round_trip_in_their_scope_only(
            pos in proptest::collection::btree_map(".{0,20}", ".{0,40}", 0..5),
            scope in ".{0,30}",
            other in ".{0,30}",
        ) {
            let k = key(3);
            let sealed = k.seal(&scope, &pos);
            proptest::prop_assert_eq!(k.open(&scope, &sealed).unwrap(), pos);
            if other != scope {
                proptest::prop_assert!(k.open(&other, &sealed).is_err());
            }
        }

        /// Changing any one character of a sealed cursor makes it fail.
        #[test]
        fn any_single_change_fails(at in 0usize..400, with in proptest::char::any()) {
            let k = key(4);
            let pos: Position = [("pk".to_string(), "USER#1".to_string()), ("sk".to_string(), "PROFILE".to_string())].into();
            let sealed = k.seal("users", &pos);
            let changed = mutate(&sealed, at, with);
            if changed != sealed {
                proptest::prop_assert!(k.open("users", &changed).is_err(), "{:?} opened", changed);
            }
        }
    }
}
