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

/// Keys and checks for access tokens, built once from the configuration.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
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
        let secret = config.jwt_secret.expose();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
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
        // HS256 signing of serialisable claims with a valid key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing")
    }

    /// `None` for anything but a well-signed, current access token of ours.
    pub fn verify(&self, token: &str) -> Option<AccessToken> {
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?;
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
/// read; only the SHA-256 of the secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
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

    fn keys() -> TokenKeys {
        let vars: HashMap<&str, &str> = [
            ("TABLE_NAME", "t"),
            ("BUCKET_NAME", "b"),
            ("JWT_SECRET", "an-unguessable-secret-of-32-bytes!!"),
        ]
        .into();
        TokenKeys::new(&Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap())
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
        let good = AccessClaims {
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
        };
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
}
