//! The password policy (NIST 800-63B style): length and a deny-list, no composition rules.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use super::{Email, Username};

/// Shipped in the binary so the check needs no I/O; see `data/README.md` for its source.
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().map(str::trim).collect())
}

/// A plaintext password that passed the policy. Its `Debug` never shows it.
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(
        raw: &str,
        email: Option<&Email>,
        username: Option<&Username>,
    ) -> Result<Self, &'static str> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err("must be at least 8 characters");
        }
        if chars > Self::MAX_CHARS {
            return Err("must be at most 128 characters");
        }
        let lower = raw.to_lowercase();
        if common_passwords().contains(lower.as_str()) {
            return Err("is too common");
        }
        let same_as = |other: &str| lower == other || lower.split('@').next() == Some(other);
        if email.is_some_and(|e| lower == e.as_str())
            || email
                .and_then(|e| e.as_str().split('@').next())
                .is_some_and(same_as)
            || username.is_some_and(|u| same_as(u.as_str()))
        {
            return Err("must not be the email or username");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

/// A password as typed to prove who one is (never checked against the policy). Its
/// `Debug` never shows it.
#[derive(Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct CurrentPassword(String);

impl CurrentPassword {
    pub fn expose(self) -> String {
        self.0
    }
}

impl fmt::Debug for CurrentPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CurrentPassword(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_loaded() {
        assert!(common_passwords().len() > 1000);
        assert!(common_passwords().contains("password"));
    }

    #[test]
    fn policy() {
        let email = Email::parse("ann.lee@example.com").unwrap();
        let user = Username::parse("annlee99").unwrap();
        assert!(NewPassword::parse("short", None, None).is_err());
        assert!(NewPassword::parse(&"x".repeat(129), None, None).is_err());
        assert!(NewPassword::parse("Password", None, None).is_err());
        assert!(NewPassword::parse("12345678", None, None).is_err());
        assert!(NewPassword::parse("ann.lee@example.com", Some(&email), None).is_err());
        assert!(NewPassword::parse("Ann.Lee@example.com", Some(&email), None).is_err());
        assert!(NewPassword::parse("AnnLee99", None, Some(&user)).is_err());
        assert!(NewPassword::parse("correct horse battery", Some(&email), Some(&user)).is_ok());
        // Length counts characters, not bytes.
        assert!(NewPassword::parse("ééééééé", None, None).is_err());
        assert!(NewPassword::parse("éééééééé", None, None).is_ok());
    }

    #[test]
    fn debug_is_redacted() {
        let p = NewPassword::parse("correct horse battery", None, None).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
        let c: CurrentPassword = serde_json::from_str("\"correct horse\"").unwrap();
        assert!(!format!("{c:?}").contains("horse"));
    }
}
