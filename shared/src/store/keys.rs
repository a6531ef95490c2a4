//! Key shapes of every item kind, and the only place that builds a key: each function
//! returns an item's whole key (`pk` and `sk`). See ARCHITECTURE.md, "Item kinds".

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{Email, LoginName, SessionId, User, UserId, Username};

/// An item's table key (`pk` and `sk`); items start from it and add their attributes.
pub(super) type Key = HashMap<String, AttributeValue>;

pub(super) const PROFILE: &str = "PROFILE";
pub(super) const USER_PREFIX: &str = "USER#";
pub(super) const SESSION_PREFIX: &str = "SESSION#";
pub(super) const AUDIT_PREFIX: &str = "AUDIT#";
/// The partition every user item shares on the directory indexes.
pub(super) const DIRECTORY: &str = "U";
pub(super) const COUNTERS: &str = "COUNTER";
pub(super) const STATUS_COUNTS: &str = "STATUS";
pub(super) const API_KEYS: &str = "APIKEY";
/// Every export job shares one partition, sorted by time-ordered id. The stream filter in
/// template.yaml matches this `pk` exactly.
pub(super) const EXPORTS: &str = "EXPORT";
/// Every import job shares one partition, sorted by time-ordered id. The stream filter in
/// template.yaml matches this `pk` exactly.
pub(super) const IMPORTS: &str = "IMPORT";

fn key(pk: impl Into<String>, sk: impl Into<String>) -> Key {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.into())),
        ("sk".to_owned(), AttributeValue::S(sk.into())),
    ])
}

pub(super) fn health() -> Key {
    key("HEALTH", "HEALTH")
}

/// The partition of a user: its profile and its sessions.
pub(super) fn user_partition(id: UserId) -> String {
    format!("{USER_PREFIX}{id}")
}

pub(super) fn profile(id: UserId) -> Key {
    key(user_partition(id), PROFILE)
}

/// The profile keys of `ids`, each once (BatchGetItem refuses a key named twice).
pub(super) fn profiles(ids: &[UserId]) -> Vec<Key> {
    let mut keys: Vec<Key> = Vec::with_capacity(ids.len());
    for key in ids.iter().map(|id| profile(*id)) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// A session item is keyed by its slot, so a user never has more items than slots.
pub(super) fn session(user: UserId, session: &SessionId) -> Key {
    key(
        user_partition(user),
        format!("{SESSION_PREFIX}{}", session.slot()),
    )
}

/// What a reservation item reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReservationKind {
    Email,
    Username,
}

impl ReservationKind {
    pub fn name(self) -> &'static str {
        match self {
            ReservationKind::Email => "email",
            ReservationKind::Username => "username",
        }
    }

    /// The user's value this kind reserves.
    pub fn value_of(self, user: &User) -> &str {
        match self {
            ReservationKind::Email => user.email.as_str(),
            ReservationKind::Username => user.username.as_str(),
        }
    }
}

pub(super) fn reservation(kind: ReservationKind, value: &str) -> Key {
    match kind {
        ReservationKind::Email => key(format!("EMAIL#{value}"), "EMAIL"),
        ReservationKind::Username => key(format!("USERNAME#{value}"), "USERNAME"),
    }
}

pub(super) fn email(email: &Email) -> Key {
    reservation(ReservationKind::Email, email.as_str())
}

pub(super) fn username(username: &Username) -> Key {
    reservation(ReservationKind::Username, username.as_str())
}

/// The reservation a login name is held by.
pub(super) fn login_name(name: &LoginName) -> Key {
    match name {
        LoginName::Email(e) => email(e),
        LoginName::Username(u) => username(u),
    }
}

/// The reserved value of an email or username reservation's key, if it is one.
pub(super) fn reservation_of<'a>(pk: &'a str, sk: &str) -> Option<(ReservationKind, &'a str)> {
    match sk {
        "EMAIL" => pk
            .strip_prefix("EMAIL#")
            .map(|v| (ReservationKind::Email, v)),
        "USERNAME" => pk
            .strip_prefix("USERNAME#")
            .map(|v| (ReservationKind::Username, v)),
        _ => None,
    }
}

/// The user id of a `USER#<id>` or `AUDIT#<id>` partition key.
pub(super) fn user_of(pk: &str) -> Option<UserId> {
    pk.strip_prefix(USER_PREFIX)
        .or_else(|| pk.strip_prefix(AUDIT_PREFIX))
        .and_then(UserId::parse)
}

pub(super) fn rate_limit(action: &str, subject: &str, window_start: u64) -> Key {
    key(format!("RL#{action}#{subject}"), window_start.to_string())
}

/// The partition of a user's audit trail, which outlives the user.
pub(super) fn audit_partition(user: UserId) -> String {
    format!("{AUDIT_PREFIX}{user}")
}

pub(super) fn audit(user: UserId, event: &str) -> Key {
    key(audit_partition(user), event)
}

pub(super) fn status_counts() -> Key {
    key(COUNTERS, STATUS_COUNTS)
}

pub(super) fn signups(year: i32) -> Key {
    key(COUNTERS, format!("SIGNUPS#{year}"))
}

/// The year of a signup counter's sort key.
pub(super) fn signups_year(sk: &str) -> Option<i32> {
    sk.strip_prefix("SIGNUPS#")?.parse().ok()
}

pub(super) fn api_key(id: &str) -> Key {
    key(API_KEYS, id)
}

pub(super) fn export_job(id: &str) -> Key {
    key(EXPORTS, id)
}

pub(super) fn import_job(id: &str) -> Key {
    key(IMPORTS, id)
}

/// The id of the job of `partition` (`EXPORTS` or `IMPORTS`) a stream record's keys name,
/// if they name one.
pub(super) fn job_of<'a>(partition: &str, pk: &str, sk: &'a str) -> Option<&'a str> {
    (pk == partition).then_some(sk)
}

/// A one-time token, addressed by the hash of the secret the link carries.
pub(super) fn token(hash: &str) -> Key {
    key(format!("TOKEN#{hash}"), "TOKEN")
}

/// The newest token of a user for one purpose: older ones no longer match it.
pub(super) fn current_token(user: UserId, purpose: &str) -> Key {
    key(format!("TOKENS#{user}"), purpose)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservation_keys_round_trip() {
        for kind in [ReservationKind::Email, ReservationKind::Username] {
            let k = reservation(kind, "ann@example.com");
            let (pk, sk) = (k["pk"].as_s().unwrap(), k["sk"].as_s().unwrap());
            assert_eq!(reservation_of(pk, sk), Some((kind, "ann@example.com")));
        }
        assert_eq!(reservation_of("USER#x", "PROFILE"), None);
    }
}
