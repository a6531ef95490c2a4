//! One-time links: password reset, invitation and email verification. A token is 256
//! random bits that the holder proves by presenting; the table keeps only its hash, and
//! what it may do is written here.

use super::{Status, Timestamp, User, UserId};

/// What a link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    PasswordReset,
    Invitation,
    EmailVerification,
}

/// Links of one purpose supersede each other: a user has at most one usable link to set a
/// password (reset or invitation) and one to verify the email, the newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SetPassword,
    VerifyEmail,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::SetPassword => "set_password",
            Purpose::VerifyEmail => "verify_email",
        }
    }
}

impl TokenKind {
    const ALL: [TokenKind; 3] = [
        TokenKind::PasswordReset,
        TokenKind::Invitation,
        TokenKind::EmailVerification,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::PasswordReset => "password_reset",
            TokenKind::Invitation => "invitation",
            TokenKind::EmailVerification => "email_verification",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    pub fn purpose(self) -> Purpose {
        match self {
            TokenKind::PasswordReset | TokenKind::Invitation => Purpose::SetPassword,
            TokenKind::EmailVerification => Purpose::VerifyEmail,
        }
    }
}

/// A stored token: its hash, what it is for, whom and which address it was mailed to, and
/// until when it works. The address is kept only as a digest, so that an anonymised
/// account leaves no address behind in its links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// SHA-256 hex of the token; the token itself is never stored.
    pub hash: String,
    pub kind: TokenKind,
    pub user_id: UserId,
    /// SHA-256 hex of the address the link was mailed to.
    pub email_digest: String,
    pub created_at: Timestamp,
    /// Unix seconds; the token no longer works from this second on.
    pub expires_at: u64,
}

impl TokenRecord {
    pub fn is_live(&self, now_secs: u64) -> bool {
        now_secs < self.expires_at
    }

    /// Whether the token still speaks for `user`, whose address has `email_digest`: a link
    /// belongs to the address it was mailed to, so an email change (or a deletion) since
    /// then voids it.
    pub fn applies_to(&self, user: &User, email_digest: &str) -> bool {
        user.id == self.user_id
            && self.email_digest == email_digest
            && user.status != Status::Deleted
    }
}

/// A presented token's shape: 43 base64url characters (256 bits). Anything else is refused
/// before it costs a read.
pub fn is_well_formed(raw: &str) -> bool {
    raw.len() == 43
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            authority: 0,
            ..User::fixture()
        }
    }

    fn token(user: &User) -> TokenRecord {
        TokenRecord {
            hash: "h".into(),
            kind: TokenKind::PasswordReset,
            user_id: user.id,
            email_digest: "digest of ann".into(),
            created_at: Timestamp::now(),
            expires_at: 1_000,
        }
    }

    #[test]
    fn kinds_round_trip_and_share_purposes() {
        for k in TokenKind::ALL {
            assert_eq!(TokenKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(TokenKind::parse("other"), None);
        assert_eq!(
            TokenKind::Invitation.purpose(),
            TokenKind::PasswordReset.purpose()
        );
        assert_ne!(
            TokenKind::EmailVerification.purpose(),
            TokenKind::PasswordReset.purpose()
        );
    }

    #[test]
    fn expiry_is_exclusive() {
        let t = token(&user());
        assert!(t.is_live(999));
        assert!(!t.is_live(1_000));
    }

    #[test]
    fn a_token_belongs_to_its_address_and_a_live_account() {
        let u = user();
        let t = token(&u);
        assert!(t.applies_to(&u, "digest of ann"));
        assert!(!t.applies_to(&u, "digest of another address"));
        assert!(!t.applies_to(&user(), "digest of ann"));
        let mut deleted = u.clone();
        deleted.status = Status::Deleted;
        assert!(!t.applies_to(&deleted, "digest of ann"));
        let mut inactive = u.clone();
        inactive.status = Status::Inactive;
        assert!(t.applies_to(&inactive, "digest of ann"));
    }

    #[test]
    fn shape_check() {
        let good = "A".repeat(42) + "_";
        assert!(is_well_formed(&good));
        for bad in ["", "short", &"A".repeat(44), &("A".repeat(42) + "=")] {
            assert!(!is_well_formed(bad), "{bad:?} accepted");
        }
    }
}
