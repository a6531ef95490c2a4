//! argon2id with the OWASP parameters (m=19456 KiB, t=2, p=1), set explicitly so a change
//! of the crate's defaults can never weaken stored hashes.

use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use argon2::password_hash::{Output, ParamsString, PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use super::tokens::bytes_equal;
use crate::domain::import::{FirebaseScrypt, FIREBASE_PREFIX};

pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

fn params() -> Params {
    // The constants are valid argon2 parameters; a failure here is a bug caught by tests.
    Params::new(M_COST_KIB, T_COST, P_COST, None).expect("OWASP argon2 parameters are valid")
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

impl Verified {
    /// The stronger hash to store in place of the one that matched, if any.
    pub fn rehashed(&self) -> Option<&str> {
        match self {
            Verified::YesRehashed(hash) => Some(hash),
            Verified::No | Verified::Yes => None,
        }
    }
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

/// argon2's 19 MiB of working memory, one block array per `HASHING` place, kept between
/// hashes. A fresh array per hash let glibc keep the freed ones in its per-thread arenas: an
/// import of 2,000 plain-text passwords peaked at 914 MiB of RSS (the jobs worker had 256 MB).
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Hashing could not run (no blocking thread, no salt): a fault of the system, never of
/// the password, so callers answer it with a 500.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Runs argon2 work on a blocking thread (it takes tens of milliseconds of CPU) once one of
/// the `HASHING` places is free, lending it that place's working memory.
async fn argon2<T: Send + 'static>(
    work: impl FnOnce(&mut Vec<Block>) -> Result<T, HashError> + Send + 'static,
) -> Result<T, HashError> {
    let _place = HASHING
        .acquire()
        .await
        .expect("the hashing semaphore is never closed");
    let mut memory = memory_pool().pop().unwrap_or_default();
    let (result, mut memory) = tokio::task::spawn_blocking(move || (work(&mut memory), memory))
        .await
        .map_err(|e| HashError(e.to_string()))?;
    // Keep no more than today's hash needs, whatever an imported hash grew it to.
    memory.truncate(params().block_count());
    memory.shrink_to_fit();
    memory_pool().push(memory);
    result
}

/// The pool holds plain buffers, so a panic while it was locked left nothing half-done.
fn memory_pool() -> MutexGuard<'static, Vec<Vec<Block>>> {
    MEMORY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Hashes `password` with `argon2` into `out`, in `memory`, grown to what its parameters
/// need (only an imported hash stronger than today's grows it).
fn argon2_into(
    argon2: &Argon2<'_>,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> argon2::Result<()> {
    let blocks = argon2.params().block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..])
}

/// Hashes a new password.
pub async fn hash(password: String) -> Result<String, HashError> {
    argon2(move |memory| hash_now(&password, memory)).await
}

fn new_salt() -> Result<SaltString, HashError> {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    SaltString::encode_b64(&bytes).map_err(|e| HashError(e.to_string()))
}

/// argon2's `PasswordHasher::hash_password` with today's parameters, computed in `memory`.
fn hash_now(password: &str, memory: &mut Vec<Block>) -> Result<String, HashError> {
    let failed = |e: &dyn std::fmt::Display| HashError(e.to_string());
    let salt = new_salt()?;
    let mut salt_bytes = [0u8; 16];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(&argon2, password, salt_bytes, &mut out, memory).map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// Verifies `password` against `stored`, or against the dummy hash when there is none,
/// so every call costs one argon2 evaluation.
pub async fn verify(password: String, stored: Option<String>) -> Result<Verified, HashError> {
    argon2(move |memory| verify_now(&password, stored.as_deref(), memory)).await
}

fn verify_now(
    password: &str,
    stored: Option<&str>,
    memory: &mut Vec<Block>,
) -> Result<Verified, HashError> {
    let Some(stored) = stored else {
        // No account: still pay one hash, then fail.
        let _ = verify_argon2(password, DUMMY_HASH, memory);
        return Ok(Verified::No);
    };
    let (ok, current) = match imported_algorithm(stored) {
        Some(algorithm) => (algorithm.verify(password, stored), false),
        None => match verify_argon2(password, stored, memory) {
            Some((ok, current)) => (ok, current),
            None => {
                // An unparseable stored hash still pays one hash, then fails closed.
                let _ = verify_argon2(password, DUMMY_HASH, memory);
                return Ok(Verified::No);
            }
        },
    };
    match (ok, current) {
        (false, _) => Ok(Verified::No),
        (true, true) => Ok(Verified::Yes),
        (true, false) => hash_now(password, memory).map(Verified::YesRehashed),
    }
}

/// Whether `password` matches an argon2 PHC string, and whether that hash is as strong as
/// today's; `None` when `phc` is not one.
fn verify_argon2(password: &str, phc: &str, memory: &mut Vec<Block>) -> Option<(bool, bool)> {
    let parsed = PasswordHash::new(phc).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let ok = argon2_matches(password, &parsed, algorithm, memory).unwrap_or(false);
    Some((ok, is_current(&parsed)))
}

/// argon2's own `PasswordVerifier::verify_password`, computed in `memory`; `None` when the
/// hash's parameters, version or salt are not valid argon2 ones.
fn argon2_matches(
    password: &str,
    parsed: &PasswordHash<'_>,
    algorithm: Algorithm,
    memory: &mut Vec<Block>,
) -> Option<bool> {
    let expected = parsed.hash?;
    let params = Params::try_from(parsed).ok()?;
    let version = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from);
    let argon2 = Argon2::new(algorithm, version.ok()?, params);
    let mut salt = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
    let mut out = vec![0u8; expected.len()];
    argon2_into(&argon2, password, salt, &mut out, memory).ok()?;
    Some(bytes_equal(&out, expected.as_bytes()))
}

/// Hash formats other systems use, accepted from imports (`domain::import::check_hash`)
/// and verified at login with their own algorithm; a success rehashes with argon2id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Imported {
    Bcrypt,
    DjangoPbkdf2,
    PhcPbkdf2,
    PhcScrypt,
    FirebaseScrypt,
}

fn imported_algorithm(stored: &str) -> Option<Imported> {
    let prefixes = [
        ("$2a$", Imported::Bcrypt),
        ("$2b$", Imported::Bcrypt),
        ("$2y$", Imported::Bcrypt),
        ("pbkdf2_sha256$", Imported::DjangoPbkdf2),
        ("$pbkdf2-sha256$", Imported::PhcPbkdf2),
        ("$scrypt$", Imported::PhcScrypt),
        (FIREBASE_PREFIX, Imported::FirebaseScrypt),
    ];
    prefixes
        .iter()
        .find(|(p, _)| stored.starts_with(p))
        .map(|(_, a)| *a)
}

impl Imported {
    /// Fails closed: a hash that does not parse never verifies.
    fn verify(self, password: &str, stored: &str) -> bool {
        let phc = |verifier: &dyn PasswordVerifier| {
            PasswordHash::new(stored)
                .is_ok_and(|h| verifier.verify_password(password.as_bytes(), &h).is_ok())
        };
        match self {
            Imported::Bcrypt => bcrypt::verify(password, stored).unwrap_or(false),
            Imported::DjangoPbkdf2 => verify_django(password, stored).unwrap_or(false),
            Imported::PhcPbkdf2 => phc(&pbkdf2::Pbkdf2),
            Imported::PhcScrypt => phc(&scrypt::Scrypt),
            Imported::FirebaseScrypt => stored
                .strip_prefix(FIREBASE_PREFIX)
                .and_then(FirebaseScrypt::parse)
                .and_then(|f| verify_firebase(password, &f))
                .unwrap_or(false),
        }
    }
}

/// Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 of the 32-byte key>`.
fn verify_django(password: &str, stored: &str) -> Option<bool> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let mut parts = stored.strip_prefix("pbkdf2_sha256$")?.split('$');
    let iterations: u32 = parts.next()?.parse().ok()?;
    let salt = parts.next()?;
    let expected = STANDARD.decode(parts.next()?).ok()?;
    let mut derived = vec![0u8; expected.len()];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut derived,
    );
    Some(bytes_equal(&derived, &expected))
}

/// Firebase's scrypt: scrypt(password, salt ‖ separator, N = 2^mem_cost, r = rounds, p = 1)
/// keys AES-256-CTR (zero IV), which encrypts the project's signer key; that is the hash.
fn verify_firebase(password: &str, f: &FirebaseScrypt) -> Option<bool> {
    use aes::cipher::{KeyIvInit, StreamCipher};
    let params = scrypt::Params::new(f.mem_cost as u8, f.rounds, 1, 64).ok()?;
    let mut derived = [0u8; 64];
    let salt = [f.salt.as_slice(), f.salt_separator.as_slice()].concat();
    scrypt::scrypt(password.as_bytes(), &salt, &params, &mut derived).ok()?;
    let mut block = f.signer_key.clone();
    let mut cipher = ctr::Ctr128BE::<aes::Aes256>::new(derived[..32].into(), &[0u8; 16].into());
    cipher.apply_keystream(&mut block);
    Some(bytes_equal(&block, &f.hash))
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
    use argon2::password_hash::PasswordHasher;

    use super::*;

    #[test]
    fn verified_debug_is_redacted() {
        let printed = format!("{:?}", Verified::YesRehashed("$argon2id$secret".into()));
        assert_eq!(printed, "YesRehashed(..)");
    }

    #[test]
    fn hashes_with_owasp_parameters_and_verifies() {
        let memory = &mut Vec::new();
        let h = hash_now("correct horse battery", memory).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(
            verify_now("correct horse battery", Some(&h), memory).unwrap(),
            Verified::Yes
        );
        assert_eq!(
            verify_now("wrong horse battery", Some(&h), memory).unwrap(),
            Verified::No
        );
        // argon2's own verifier agrees with ours, so the PHC string is argon2's format.
        let parsed = PasswordHash::new(&h).unwrap();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        assert!(argon2
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
    }

    #[test]
    fn unknown_account_never_verifies() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        let memory = &mut Vec::new();
        assert_eq!(
            verify_now("anything at all", None, memory).unwrap(),
            Verified::No
        );
        assert_eq!(
            verify_now("anything at all", Some("not a hash"), memory).unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn stronger_argon2_hashes_verify_and_leave_the_pool_at_todays_size() {
        let strong = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(2 * M_COST_KIB, T_COST, P_COST, None).unwrap(),
        )
        .hash_password(b"correct horse battery", &new_salt().unwrap())
        .unwrap()
        .to_string();
        let verified = verify("correct horse battery".into(), Some(strong.clone()));
        assert_eq!(verified.await.unwrap(), Verified::Yes);
        let verified = verify("correct horse batterY".into(), Some(strong));
        assert_eq!(verified.await.unwrap(), Verified::No);
        let pool = memory_pool();
        assert!(!pool.is_empty());
        for memory in pool.iter() {
            assert_eq!(memory.capacity(), params().block_count());
        }
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
        let memory = &mut Vec::new();
        match verify_now("correct horse battery", Some(&weak), memory).unwrap() {
            Verified::YesRehashed(new) => assert!(new.contains("m=19456,t=2,p=1")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }
}
