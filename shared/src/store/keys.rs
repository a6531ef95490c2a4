//! Key shapes of every item kind. See ARCHITECTURE.md, "Item kinds".

use super::inventory::ReservationKind;
use crate::domain::{Email, UserId, Username};

pub(super) const PROFILE: &str = "PROFILE";
pub(super) const USER_PREFIX: &str = "USER#";
pub(super) const SESSION_PREFIX: &str = "SESSION#";
/// The partition every user item shares on the directory indexes.
pub(super) const DIRECTORY: &str = "U";

pub(super) fn health() -> (String, String) {
    ("HEALTH".into(), "HEALTH".into())
}

pub(super) fn user_pk(id: UserId) -> String {
    format!("{USER_PREFIX}{id}")
}

/// A session item is keyed by its slot, so a user never has more items than slots.
pub(super) fn session_sk(slot: u32) -> String {
    format!("{SESSION_PREFIX}{slot}")
}

pub(super) fn email(email: &Email) -> (String, String) {
    reservation(ReservationKind::Email, email.as_str())
}

pub(super) fn username(username: &Username) -> (String, String) {
    reservation(ReservationKind::Username, username.as_str())
}

pub(super) fn reservation(kind: ReservationKind, value: &str) -> (String, String) {
    match kind {
        ReservationKind::Email => (format!("EMAIL#{value}"), "EMAIL".into()),
        ReservationKind::Username => (format!("USERNAME#{value}"), "USERNAME".into()),
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

pub(super) fn rate_limit(action: &str, subject: &str, window_start: u64) -> (String, String) {
    (format!("RL#{action}#{subject}"), window_start.to_string())
}

pub(super) const AUDIT_PREFIX: &str = "AUDIT#";

pub(super) fn audit_pk(user: UserId) -> String {
    format!("{AUDIT_PREFIX}{user}")
}

pub(super) const COUNTERS: &str = "COUNTER";
pub(super) const STATUS_COUNTS: &str = "STATUS";

pub(super) fn signups_sk(year: i32) -> String {
    format!("SIGNUPS#{year}")
}

/// The year of a signup counter's sort key.
pub(super) fn signups_year(sk: &str) -> Option<i32> {
    sk.strip_prefix("SIGNUPS#")?.parse().ok()
}

pub(super) const API_KEYS: &str = "APIKEY";

/// Every export job shares one partition, sorted by time-ordered id. The stream filter in
/// template.yaml matches this `pk` exactly.
pub(super) const EXPORTS: &str = "EXPORT";
