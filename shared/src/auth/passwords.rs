//! argon2id with the OWASP parameters (m=19456 KiB, t=2, p=1), set explicitly so a change
//! of the crate's defaults can never weaken stored hashes.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::Error;

pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

fn hasher() -> Argon2<'static> {
    // The constants are valid argon2 parameters; a failure here is a bug caught by tests.
    let params =
        Params::new(M_COST_KIB, T_COST, P_COST, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody has, verified when the account does not exist so that an
/// unknown email costs the same one hash as a wrong password.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$dXNlcmh1Yi1kdW1teS1zYWx0$yRyC1rQ1Ji86bL0o9kR+r9UFhqYvhMzRbWtvVTYySEQ";

/// The result of checking a password. Its `Debug` never shows a hash.
#[derive(Clone, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but hashed with weaker parameters than today's: store this new hash.
    YesRehashed(String),
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verified::No => "No",
            Verified::Yes => "Yes",
            Verified::YesRehashed(_) => "YesRehashed(..)",
        })
    }
}

/// At most one argon2 evaluation per CPU at a time. More would only queue for the same cores,
/// holding 19 MiB each, and starve the I/O of every other request in the process (a burst of
/// 100 parallel logins to the local API timed out its DynamoDB calls).
static HASHING: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get())));

/// Runs argon2 work on a blocking thread (it takes tens of milliseconds of CPU) once one of
/// the `HASHING` places is free.
async fn argon2<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let _place = HASHING
        .acquire()
        .await
        .expect("the hashing semaphore is never closed");
    tokio::task::spawn_blocking(work)
        .await
        .map_err(Error::internal)?
}

/// Hashes a new password.
pub async fn hash(password: String) -> Result<String, Error> {
    argon2(move || hash_now(&password)).await
}

fn new_salt() -> Result<SaltString, Error> {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    SaltString::encode_b64(&bytes).map_err(|e| Error::internal(e.to_string()))
}

fn hash_now(password: &str) -> Result<String, Error> {
    let salt = new_salt()?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(e.to_string()))
}

/// Verifies `password` against `stored`, or against the dummy hash when there is none,
/// so every call costs one argon2 evaluation.
pub async fn verify(password: String, stored: Option<String>) -> Result<Verified, Error> {
    argon2(move || verify_now(&password, stored.as_deref())).await
}

fn verify_now(password: &str, stored: Option<&str>) -> Result<Verified, Error> {
    let real = stored.is_some();
    let phc = stored.unwrap_or(DUMMY_HASH);
    let Ok(parsed) = PasswordHash::new(phc) else {
        // An unparseable stored hash still pays one hash, then fails closed.
        let _ = hasher().verify_password(
            password.as_bytes(),
            &PasswordHash::new(DUMMY_HASH).map_err(|e| Error::internal(e.to_string()))?,
        );
        return Ok(Verified::No);
    };
    let ok = hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    if !(ok && real) {
        return Ok(Verified::No);
    }
    if is_current(&parsed) {
        Ok(Verified::Yes)
    } else {
        hash_now(password).map(Verified::YesRehashed)
    }
}

fn is_current(hash: &PasswordHash<'_>) -> bool {
    let Ok(params) = Params::try_from(hash) else {
        return false;
    };
    hash.algorithm.as_str() == "argon2id"
        && hash.version == Some(Version::V0x13 as u32)
        && params.m_cost() >= M_COST_KIB
        && params.t_cost() >= T_COST
        && params.p_cost() >= P_COST
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_debug_is_redacted() {
        let printed = format!("{:?}", Verified::YesRehashed("$argon2id$secret".into()));
        assert_eq!(printed, "YesRehashed(..)");
    }

    #[test]
    fn hashes_with_owasp_parameters_and_verifies() {
        let h = hash_now("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(
            verify_now("correct horse battery", Some(&h)).unwrap(),
            Verified::Yes
        );
        assert_eq!(
            verify_now("wrong horse battery", Some(&h)).unwrap(),
            Verified::No
        );
    }

    #[test]
    fn unknown_account_never_verifies() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert_eq!(verify_now("anything at all", None).unwrap(), Verified::No);
        assert_eq!(
            verify_now("anything at all", Some("not a hash")).unwrap(),
            Verified::No
        );
    }

    #[test]
    fn weaker_hashes_are_upgraded() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery", &new_salt().unwrap())
        .unwrap()
        .to_string();
        match verify_now("correct horse battery", Some(&weak)).unwrap() {
            Verified::YesRehashed(new) => assert!(new.contains("m=19456,t=2,p=1")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }
}
