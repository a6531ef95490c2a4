//! Access tokens (HS256 JWTs, algorithm pinned, every claim checked) and the opaque
//! refresh tokens that name their session.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::domain::{Role, SessionId, Timestamp, UserId};

const ACCESS: &str = "access";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub sid: String,
    pub role: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    pub typ: String,
}

/// What a verified access token says. Its `role` claim is left out on purpose: a request's
/// role comes from the user's stored state, never from a claim that was true at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub user_id: UserId,
    pub session_id: SessionId,
}

/// One signing secret and the `kid` that names it in a token's header.
#[derive(Clone)]
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKey {
    fn new(secret: &[u8]) -> Self {
        Self {
            kid: key_id(secret),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// A name for a secret that reveals nothing about it: a truncated hash, domain-separated
/// from every other use of the secret.
fn key_id(secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"userhub jwt kid\0");
    h.update(secret);
    URL_SAFE_NO_PAD.encode(&h.finalize()[..12])
}

/// Keys and checks for access tokens, built once from the configuration. Tokens are signed
/// with the current secret; while a secret rotates out (`JWT_SECRET_PREVIOUS`), tokens it
/// signed still verify, chosen by the `kid` in their header, so nobody is logged out.
#[derive(Clone)]
pub struct TokenKeys {
    current: SigningKey,
    previous: Option<SigningKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn new(config: &Config) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self {
            current: SigningKey::new(config.jwt_secret.expose()),
            previous: config
                .jwt_secret_previous
                .as_ref()
                .map(|s| SigningKey::new(s.expose())),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl: config.access_token_ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(
        &self,
        user_id: UserId,
        session_id: &SessionId,
        role: Role,
        now: Timestamp,
    ) -> String {
        let iat = now.unix_secs();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_string(),
            sid: session_id.to_string(),
            role: role.as_str().to_owned(),
            iat,
            nbf: iat,
            exp: iat + self.ttl.as_secs() as i64,
            jti: uuid::Uuid::now_v7().to_string(),
            typ: ACCESS.to_owned(),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims with the service key; tests use it to forge near-miss tokens.
    pub fn sign(&self, claims: &AccessClaims) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.kid.clone());
        // HS256 signing of serialisable claims with a valid key cannot fail.
        jsonwebtoken::encode(&header, claims, &self.current.encoding).expect("HS256 signing")
    }

    /// The key a token names: the current one, the previous one while it rotates out, or
    /// (no `kid`: signed before keys were named) the current one. An unknown `kid` is none.
    fn key_for(&self, kid: Option<&str>) -> Option<&SigningKey> {
        let Some(kid) = kid else {
            return Some(&self.current);
        };
        [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.kid == kid)
    }

    /// `None` for anything but a well-signed, current access token of ours.
    pub fn verify(&self, token: &str) -> Option<AccessToken> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = self.key_for(header.kid.as_deref())?;
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &self.validation).ok()?;
        let claims = data.claims;
        if claims.typ != ACCESS || !matches!(claims.role.as_str(), "admin" | "user") {
            return None;
        }
        Some(AccessToken {
            user_id: UserId::parse(&claims.sub)?,
            session_id: SessionId::parse(&claims.sid)?,
        })
    }
}

/// A refresh token: `<user id>.<session id>.<secret>`. The ids say which session item to
/// read; only the SHA-256 of the secret is stored. Its `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub user_id: UserId,
    pub session_id: SessionId,
    secret: String,
}

impl RefreshToken {
    pub fn generate(user_id: UserId, session_id: &SessionId) -> Self {
        Self {
            user_id,
            session_id: session_id.clone(),
            secret: random_secret(),
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.trim().split('.');
        let (user, session, secret) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || secret.len() != 43 {
            return None;
        }
        Some(Self {
            user_id: UserId::parse(user)?,
            session_id: SessionId::parse(session)?,
            secret: secret.to_owned(),
        })
    }

    pub fn hash(&self) -> String {
        sha256_hex(&self.secret)
    }

    pub fn expose(&self) -> String {
        format!("{}.{}.{}", self.user_id, self.session_id, self.secret)
    }
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// 256 random bits, base64url without padding (43 characters).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two hashes without leaking the position of the first difference.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    bytes_equal(a.as_bytes(), b.as_bytes())
}

/// `hashes_equal` for raw digests.
pub fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn refresh_token_debug_is_redacted() {
        let token = RefreshToken::generate(UserId::new(), &crate::domain::SessionId::new(0));
        let printed = format!("{token:?}");
        assert!(!printed.contains(&token.secret), "{printed}");
        assert!(!printed.contains(&token.hash()), "{printed}");
    }

    fn keys() -> TokenKeys {
        keys_with("an-unguessable-secret-of-32-bytes!!", None)
    }

    /// Claims that every check accepts, for tests to vary.
    fn good_claims(now: i64) -> AccessClaims {
        AccessClaims {
            iss: "userhub".into(),
            aud: "userhub".into(),
            sub: UserId::new().to_string(),
            sid: SessionId::new(0).to_string(),
            role: "user".into(),
            iat: now,
            nbf: now,
            exp: now + 600,
            jti: "j".into(),
            typ: "access".into(),
        }
    }

    fn keys_with(current: &str, previous: Option<&str>) -> TokenKeys {
        let mut vars: HashMap<&str, &str> = [
            ("TABLE_NAME", "t"),
            ("BUCKET_NAME", "b"),
            ("JWT_SECRET", current),
        ]
        .into();
        if let Some(p) = previous {
            vars.insert("JWT_SECRET_PREVIOUS", p);
        }
        TokenKeys::new(&Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap())
    }

    const OLD: &str = "the-secret-that-is-rotating-out-of-use";
    const NEW: &str = "the-secret-that-signs-every-new-token";

    fn kid(token: &str) -> Option<String> {
        jsonwebtoken::decode_header(token).unwrap().kid
    }

    #[test]
    fn tokens_name_their_key_and_verify_by_it_while_it_rotates() {
        let id = UserId::new();
        let before = keys_with(OLD, None);
        let old_token = before.issue(id, &SessionId::new(1), Role::User, Timestamp::now());
        let during = keys_with(NEW, Some(OLD));
        let new_token = during.issue(id, &SessionId::new(2), Role::User, Timestamp::now());
        // New tokens are signed with the new key, and say so.
        assert_eq!(kid(&new_token), Some(key_id(NEW.as_bytes())));
        assert_ne!(kid(&old_token), kid(&new_token));
        assert!(before.verify(&new_token).is_none());
        // Nobody is logged out by the rotation...
        assert_eq!(during.verify(&old_token).unwrap().user_id, id);
        assert_eq!(during.verify(&new_token).unwrap().user_id, id);
        // ...until the previous key is dropped.
        let after = keys_with(NEW, None);
        assert!(after.verify(&old_token).is_none());
        assert!(after.verify(&new_token).is_some());
    }

    #[test]
    fn an_unknown_or_lying_kid_is_refused() {
        let during = keys_with(NEW, Some(OLD));
        let stranger = keys_with("a-secret-this-service-never-had!!", None);
        let forged = stranger.issue(
            UserId::new(),
            &SessionId::new(1),
            Role::Admin,
            Timestamp::now(),
        );
        assert!(during.verify(&forged).is_none());
        // A token signed with the old key but naming the new one fails its signature check.
        let old = keys_with(OLD, None);
        let claims = good_claims(Timestamp::now().unix_secs());
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key_id(NEW.as_bytes()));
        let lying = jsonwebtoken::encode(&header, &claims, &old.current.encoding).unwrap();
        assert!(during.verify(&lying).is_none());
        // A token without a kid (signed before keys were named) verifies with the current key.
        let bare = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &during.current.encoding,
        )
        .unwrap();
        assert!(during.verify(&bare).is_some());
        assert!(!key_id(NEW.as_bytes()).contains("secret"));
    }

    #[test]
    fn issued_tokens_verify() {
        let k = keys();
        let id = UserId::new();
        let sid = SessionId::new(3);
        let t = k.issue(id, &sid, Role::Admin, Timestamp::now());
        let v = k.verify(&t).unwrap();
        assert_eq!((v.user_id, v.session_id), (id, sid));
    }

    #[test]
    fn near_misses_are_rejected() {
        let k = keys();
        let now = Timestamp::now().unix_secs();
        let good = good_claims(now);
        assert!(k.verify(&k.sign(&good)).is_some());
        let variants = [
            AccessClaims {
                exp: now - 60,
                ..good.clone()
            },
            AccessClaims {
                nbf: now + 600,
                ..good.clone()
            },
            AccessClaims {
                aud: "other".into(),
                ..good.clone()
            },
            AccessClaims {
                iss: "other".into(),
                ..good.clone()
            },
            AccessClaims {
                typ: "refresh".into(),
                ..good.clone()
            },
            AccessClaims {
                role: "root".into(),
                ..good.clone()
            },
            AccessClaims {
                sub: "not-a-uuid".into(),
                ..good.clone()
            },
            AccessClaims {
                sid: String::new(),
                ..good.clone()
            },
        ];
        for claims in variants {
            assert!(k.verify(&k.sign(&claims)).is_none(), "{claims:?} accepted");
        }
        let token = k.sign(&good);
        let (head, rest) = token.split_once('.').unwrap();
        let (payload, _) = rest.split_once('.').unwrap();
        // alg none, and a bad signature.
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(k.verify(&format!("{none_header}.{payload}.")).is_none());
        assert!(k.verify(&format!("{head}.{payload}.AAAA")).is_none());
        let hs512 = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
        assert!(k.verify(&format!("{hs512}.{payload}.AAAA")).is_none());
    }

    #[test]
    fn refresh_tokens_round_trip_and_hide_the_secret() {
        let id = UserId::new();
        let t = RefreshToken::generate(id, &SessionId::new(1));
        let raw = t.expose();
        let parsed = RefreshToken::parse(&raw).unwrap();
        assert_eq!(parsed, t);
        assert_eq!(parsed.hash().len(), 64);
        assert!(!parsed.hash().contains(&t.secret));
        for bad in ["", "a.b.c", &format!("{raw}.x"), &raw[..raw.len() - 1]] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn constant_time_compare() {
        assert!(hashes_equal("abc", "abc"));
        assert!(!hashes_equal("abc", "abd"));
        assert!(!hashes_equal("abc", "ab"));
    }

    /// Refresh tokens round-trip (that API keys parse only in their own shape is checked in
    /// `api_keys::tests`).
    #[test]
    fn refresh_tokens_round_trip() {
        let generated = RefreshToken::generate(UserId::new(), &SessionId::new(2));
        assert_eq!(RefreshToken::parse(&generated.expose()), Some(generated));
    }

    proptest::proptest! {
        /// No string verifies as an access token or parses as a refresh token by chance,
        /// and none makes either panic.
        #[test]
        fn arbitrary_strings_are_no_tokens(raw in ".*") {
            proptest::prop_assert!(keys().verify(&raw).is_none());
            proptest::prop_assert!(RefreshToken::parse(&raw).is_none());
        }

        /// JWT-shaped strings (three base64url parts) do not verify either.
        #[test]
        fn jwt_shaped_strings_do_not_verify(a in "[A-Za-z0-9_-]{0,60}", b in "[A-Za-z0-9_-]{0,120}", c in "[A-Za-z0-9_-]{0,60}") {
            let raw = format!("{a}.{b}.{c}");
            proptest::prop_assert!(keys().verify(&raw).is_none());
        }

        /// Changing any one character of an issued access token breaks it.
        #[test]
        fn any_single_change_breaks_an_access_token(at in 0usize..1000, with in "[A-Za-z0-9_.=-]") {
            let k = keys();
            let token = k.issue(UserId::new(), &SessionId::new(1), Role::User, Timestamp::now());
            let i = at % token.len();
            let changed = format!("{}{}{}", &token[..i], with, &token[i + 1..]);
            if changed != token {
                proptest::prop_assert!(k.verify(&changed).is_none(), "{} verified", changed);
            }
        }
    }
}
