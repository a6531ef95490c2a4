//! Key shapes of every item kind. See ARCHITECTURE.md, "Item kinds".

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
    (format!("EMAIL#{email}"), "EMAIL".into())
}

pub(super) fn username(username: &Username) -> (String, String) {
    (format!("USERNAME#{username}"), "USERNAME".into())
}

pub(super) fn rate_limit(action: &str, subject: &str, window_start: u64) -> (String, String) {
    (format!("RL#{action}#{subject}"), window_start.to_string())
}

pub(super) fn audit_pk(user: UserId) -> String {
    format!("AUDIT#{user}")
}

pub(super) const COUNTERS: &str = "COUNTER";
pub(super) const STATUS_COUNTS: &str = "STATUS";

pub(super) fn signups_sk(year: i32) -> String {
    format!("SIGNUPS#{year}")
}

pub(super) const API_KEYS: &str = "APIKEY";

/// Every export job shares one partition, sorted by time-ordered id. The stream filter in
/// template.yaml matches this `pk` exactly.
pub(super) const EXPORTS: &str = "EXPORT";

/// Every import job shares one partition, sorted by time-ordered id. The stream filter in
/// template.yaml matches this `pk` exactly.
pub(super) const IMPORTS: &str = "IMPORT";
