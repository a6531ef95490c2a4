//! Opaque list cursors: the store's position, sealed with an HMAC whose key is derived from
//! the server secret and whose input includes the query the cursor belongs to. A tampered,
//! truncated, foreign or replayed-with-other-filters cursor fails to open: 400, never 500.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;
use crate::Error;

type HmacSha256 = Hmac<Sha256>;

pub use crate::store::Position;

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

    pub fn open(&self, scope: &str, raw: &str) -> Result<Position, Error> {
        let (payload, tag) = raw.split_once('.').ok_or(Error::InvalidCursor)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| Error::InvalidCursor)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| Error::InvalidCursor)?;
        self.mac(scope, &payload)
            .verify_slice(&tag)
            .map_err(|_| Error::InvalidCursor)?;
        serde_json::from_slice(&payload).map_err(|_| Error::InvalidCursor)
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
}
