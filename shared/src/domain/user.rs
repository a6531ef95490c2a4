//! The user and the validated values it is made of. A value of these types has passed
//! validation, so code that holds one never re-checks it.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use uuid::Uuid;

use super::field::FieldError;
use super::{Actor, Timestamp};

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl $name {
            /// A value read back from the store, which only ever holds values that were
            /// validated (or placeholders the domain made) when written.
            pub(crate) fn from_store(raw: &str) -> Self {
                Self(raw.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    };
}

/// A UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(Uuid);

impl UserId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::try_parse(raw).ok().map(Self)
    }
}

impl Default for UserId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Serialize for UserId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A practical RFC 5322 address (dot-atom local part, DNS domain), stored lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);
string_newtype!(Email);

const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~.-";

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("must not be empty");
        }
        if email.chars().count() > Self::MAX_LEN {
            return Err("must be at most 254 characters");
        }
        let (local, domain) = email.rsplit_once('@').ok_or("must contain @")?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c));
        if !local_ok {
            return Err("has an invalid part before @");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = domain.len() <= 253
            && labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if !domain_ok {
            return Err("has an invalid domain");
        }
        // RFC 2606 reserves .invalid; anonymised accounts use it, so nobody may claim it.
        if domain == "invalid" || domain.ends_with(".invalid") {
            return Err("has a reserved domain");
        }
        Ok(Self(email))
    }

    /// The placeholder an anonymised account keeps: unique, and undeliverable by RFC 2606.
    pub fn anonymised(id: UserId) -> Self {
        Self(format!("anon-{id}@anon.invalid"))
    }
}

/// 3..32 of `[a-z0-9_.-]`, starting with a letter or digit; input is lowercased so that
/// uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);
string_newtype!(Username);

impl Username {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim().to_lowercase();
        let len = name.chars().count();
        if !(3..=Self::MAX_LEN).contains(&len) {
            return Err("must be 3 to 32 characters");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        {
            return Err("may contain only letters, digits, '_', '.' and '-'");
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err("must start with a letter or digit");
        }
        Ok(Self(name))
    }

    pub fn anonymised(id: UserId) -> Self {
        Self(format!("anon-{id}"))
    }
}

/// Trimmed, at most 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);
string_newtype!(DisplayName);

impl DisplayName {
    /// `Ok(None)` for a blank name: clearing the name is allowed.
    pub fn parse(raw: &str) -> Result<Option<Self>, &'static str> {
        let name = raw.trim();
        if name.chars().count() > 100 {
            return Err("must be at most 100 characters");
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok((!name.is_empty()).then(|| Self(name.to_owned())))
    }
}

/// An absolute `https` URL of at most 2048 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureUrl(String);
string_newtype!(PictureUrl);

impl PictureUrl {
    pub fn parse(raw: &str) -> Result<Option<Self>, &'static str> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.len() > 2048 {
            return Err("must be at most 2048 characters");
        }
        let url = url::Url::parse(raw).map_err(|_| "must be an absolute URL")?;
        if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
            return Err("must be an https URL");
        }
        Ok(Some(Self(raw.to_owned())))
    }
}

/// How a person names their account at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginName {
    Email(Email),
    Username(Username),
}

impl LoginName {
    /// The name a login gives: exactly one of `email` and `username`, none longer than the
    /// longest of its kind (the API document's limits, which no account can exceed, so the
    /// refusal tells nothing about accounts). Within them anything parses, as in `parse`.
    pub fn from_login(email: Option<&str>, username: Option<&str>) -> Result<Self, FieldError> {
        let (field, raw, max) = match (email, username) {
            (Some(e), None) => ("email", e, Email::MAX_LEN),
            (None, Some(u)) => ("username", u, Username::MAX_LEN),
            _ => {
                return Err(FieldError::new(
                    "email",
                    "give exactly one of email or username",
                ))
            }
        };
        if raw.chars().count() > max {
            return Err(FieldError::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
        Ok(Self::parse(raw))
    }

    /// An identifier that contains `@` is an email; anything else a username. Input that
    /// is neither still yields a name (it simply matches no account), so a malformed
    /// identifier is indistinguishable from an unknown one.
    pub fn parse(raw: &str) -> Self {
        if raw.contains('@') {
            Email::parse(raw).map_or_else(
                |_| LoginName::Email(Email(raw.trim().to_lowercase())),
                LoginName::Email,
            )
        } else {
            Username::parse(raw).map_or_else(
                |_| LoginName::Username(Username(raw.trim().to_lowercase())),
                LoginName::Username,
            )
        }
    }

    /// The normalised identifier, for per-account rate limits.
    pub fn normalised(&self) -> &str {
        match self {
            LoginName::Email(e) => e.as_str(),
            LoginName::Username(u) => u.as_str(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Inactive,
    Deleted,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Active, Status::Inactive, Status::Deleted];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
            Status::Deleted => "deleted",
        }
    }
}

impl Status {
    /// A status a create or a PATCH may ask for. `deleted` is entered and left only through
    /// the lifecycle routes (DELETE, restore, anonymize), never set as a value.
    pub fn settable(raw: &str) -> Result<Self, &'static str> {
        match raw.parse()? {
            Status::Deleted => Err("must be active or inactive (deleting goes through DELETE)"),
            status => Ok(status),
        }
    }
}

impl FromStr for Status {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or("must be active, inactive or deleted")
    }
}

/// A user as the domain sees it. The password hash is carried for the auth code but is
/// never serialised nor printed: neither the JSON view nor a log line can leak it.
#[derive(Clone, PartialEq, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub username: Username,
    pub display_name: Option<DisplayName>,
    pub profile_picture_url: Option<PictureUrl>,
    pub status: Status,
    pub is_admin: bool,
    /// Whether the person proved they read mail at `email` (a verification or reset link).
    /// An email change clears it.
    pub email_verified: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
    pub version: u64,
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// The authority version: bumped by every change of what the account may do (see
    /// `changes_authority`). A session created under another value is dead.
    #[serde(skip)]
    pub authority: u64,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("is_admin", &self.is_admin)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl User {
    pub fn can_log_in(&self) -> bool {
        self.status == Status::Active && self.password_hash.is_some()
    }

    /// Whether the user was anonymised: it holds the placeholder email only anonymisation
    /// gives, which no input can claim (the `.invalid` domain is refused).
    pub fn is_anonymised(&self) -> bool {
        self.email == Email::anonymised(self.id)
    }

    /// Whether the account holds admin power right now (an inactive or deleted admin holds
    /// none).
    pub fn is_active_admin(&self) -> bool {
        self.is_admin && self.status == Status::Active
    }

    /// Whether `after` differs from this user in what grants power: admin rights, status or
    /// password. Such a change must outlive no session made before it.
    pub fn changes_authority(&self, after: &User) -> bool {
        self.is_admin != after.is_admin
            || self.status != after.status
            || self.password_hash != after.password_hash
    }

    /// The authority version `after` is stored with when it replaces this user.
    pub fn authority_after(&self, after: &User) -> u64 {
        self.authority + u64::from(self.changes_authority(after))
    }

    /// Whether `actor` is this active admin taking its own admin power away (deactivating,
    /// deleting, anonymising, erasing or demoting itself; `after` is `None` once erased).
    /// Refused, so that the last person able to fix a mistake cannot lock themself out with
    /// one request; another admin can do it.
    pub fn is_self_lockout(&self, actor: &Actor, after: Option<&User>) -> bool {
        self.is_active_admin()
            && *actor == Actor::user(self.id)
            && !after.is_some_and(User::is_active_admin)
    }
}

#[cfg(test)]
impl User {
    /// The one hand-built user of the tests: active, no admin, unverified, version and
    /// authority 1, no password. Tests override what they are about.
    pub(crate) fn fixture() -> Self {
        let now = Timestamp::now();
        User {
            id: UserId::new(),
            email: Email::parse("ann@example.com").unwrap(),
            username: Username::parse("ann").unwrap(),
            display_name: None,
            profile_picture_url: None,
            status: Status::Active,
            is_admin: false,
            email_verified: false,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            version: 1,
            password_hash: None,
            authority: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names_are_one_and_no_longer_than_any_account_can_have() {
        let field =
            |e: Option<&str>, u: Option<&str>| LoginName::from_login(e, u).map_err(|e| e.field);
        let long = "é".repeat(Email::MAX_LEN + 1);
        assert_eq!(field(Some(&long), None), Err("email".into()));
        assert_eq!(
            field(None, Some(&"a".repeat(Username::MAX_LEN + 1))),
            Err("username".into())
        );
        assert_eq!(field(Some("a@b.c"), Some("ann")), Err("email".into()));
        assert_eq!(field(None, None), Err("email".into()));
        // Malformed but within the limits: a name that simply matches no account.
        let name = LoginName::from_login(Some(" Not An Email@@ "), None).unwrap();
        assert_eq!(name.normalised(), "not an email@@");
        assert!(LoginName::from_login(None, Some(&"b".repeat(Username::MAX_LEN))).is_ok());
    }

    #[test]
    fn email_is_lowercased_and_checked() {
        assert_eq!(
            Email::parse(" Ann.Lee+x@Example.COM ").unwrap().as_str(),
            "ann.lee+x@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a..b@example.com",
            ".a@example.com",
            "ann@-example.com",
            "anon-1@anon.invalid",
            "ann@example.c0m",
            "an n@example.com",
            "ann@exa_mple.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn username_rules() {
        assert_eq!(Username::parse("Ann_Lee").unwrap().as_str(), "ann_lee");
        for bad in ["an", "_ann", "ann lee", "ann!", &"a".repeat(33), "émile"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Username::parse(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn display_name_trims_and_rejects_controls() {
        assert_eq!(
            DisplayName::parse("  Ann Lee ").unwrap().unwrap().as_str(),
            "Ann Lee"
        );
        assert_eq!(DisplayName::parse("   ").unwrap(), None);
        assert!(DisplayName::parse("Ann\u{7}").is_err());
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn picture_must_be_https() {
        assert!(PictureUrl::parse("https://example.com/a.png")
            .unwrap()
            .is_some());
        for bad in [
            "http://example.com/a.png",
            "javascript:alert(1)",
            "example.com/a.png",
            "https://",
        ] {
            assert!(PictureUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("https://example.com/{}", "a".repeat(2040));
        assert!(PictureUrl::parse(&long).is_err());
    }

    #[test]
    fn status_round_trips() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
        }
        assert!("banned".parse::<Status>().is_err());
        assert_eq!(Status::settable("inactive"), Ok(Status::Inactive));
        assert!(Status::settable("deleted").is_err());
        assert!(Status::settable("banned").is_err());
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = UserId::new();
        let b = UserId::new();
        assert!(a.to_string() < b.to_string() || a == b);
        assert_eq!(UserId::parse(&a.to_string()), Some(a));
        assert_eq!(UserId::parse("nope"), None);
    }

    #[test]
    fn only_admin_rights_status_and_password_change_authority() {
        let before = User {
            is_admin: true,
            version: 4,
            password_hash: Some("h1".into()),
            authority: 7,
            ..User::fixture()
        };
        let mut profile = before.clone();
        profile.email = Email::parse("lee@example.com").unwrap();
        profile.display_name = DisplayName::parse("Ann").unwrap();
        profile.version = 5;
        assert_eq!(before.authority_after(&profile), 7);
        let changes: [fn(&mut User); 3] = [
            |u| u.is_admin = false,
            |u| u.status = Status::Inactive,
            |u| u.password_hash = Some("h2".into()),
        ];
        for change in changes {
            let mut after = before.clone();
            change(&mut after);
            assert!(before.changes_authority(&after));
            assert_eq!(before.authority_after(&after), 8);
        }
        assert!(before.is_active_admin());
        assert!(!User {
            status: Status::Deleted,
            ..before
        }
        .is_active_admin());
    }
}
