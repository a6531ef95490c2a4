//! Validation of a new API key as an admin sends it (POST /api-keys). Every invalid field is
//! reported at once, like every other input.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::FieldError;
use super::{Scope, Timestamp};

/// The POST /api-keys body, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<Timestamp>,
}

/// A new API key's settings that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: BTreeSet<Scope>,
    pub expires_at: Option<Timestamp>,
}

const MAX_NAME_CHARS: usize = 100;

impl ApiKeyInput {
    /// `now` decides whether `expires_at` is in the future.
    pub fn validate(&self, now: Timestamp) -> Result<NewApiKey, Vec<FieldError>> {
        let name = parse_name(&self.name).map_err(|m| FieldError::new("name", m));
        let scopes = parse_scopes(&self.scopes).map_err(|m| FieldError::new("scopes", m));
        let expires_at = match self.expires_at {
            Some(t) if t <= now => Err(FieldError::new("expires_at", "must be in the future")),
            other => Ok(other),
        };
        match (name, scopes, expires_at) {
            (Ok(name), Ok(scopes), Ok(expires_at)) => Ok(NewApiKey {
                name,
                scopes,
                expires_at,
            }),
            (name, scopes, expires_at) => Err([name.err(), scopes.err(), expires_at.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }
}

fn parse_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err("must be 1 to 100 characters, no control characters");
    }
    Ok(name.to_owned())
}

/// A non-empty list of known scopes, each at most once (`uniqueItems` in openapi.yaml): a
/// repeated scope is a client mistake worth reporting, not something to fold silently.
fn parse_scopes(raw: &[String]) -> Result<BTreeSet<Scope>, &'static str> {
    let scopes = raw
        .iter()
        .map(|s| s.parse::<Scope>())
        .collect::<Result<BTreeSet<Scope>, _>>()
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or("must be a non-empty list of users:read, users:write, users:export, users:import")?;
    if scopes.len() != raw.len() {
        return Err("must not list a scope twice");
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, scopes: &[&str], expires_at: Option<Timestamp>) -> ApiKeyInput {
        ApiKeyInput {
            name: name.to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at,
        }
    }

    fn fields(result: Result<NewApiKey, Vec<FieldError>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_valid_key_is_trimmed_and_its_scopes_collected() {
        let now = Timestamp::now();
        let key = input(" etl ", &["users:write", "users:read"], None)
            .validate(now)
            .unwrap();
        assert_eq!(key.name, "etl");
        assert_eq!(
            key.scopes,
            BTreeSet::from([Scope::UsersRead, Scope::UsersWrite])
        );
        assert_eq!(key.expires_at, None);
    }

    #[test]
    fn duplicate_scopes_are_refused() {
        let now = Timestamp::now();
        let result = input("etl", &["users:write", "users:write"], None).validate(now);
        assert_eq!(fields(result), ["scopes"]);
    }

    #[test]
    fn unknown_or_no_scopes_are_refused() {
        let now = Timestamp::now();
        assert_eq!(fields(input("etl", &[], None).validate(now)), ["scopes"]);
        assert_eq!(
            fields(input("etl", &["users:fly"], None).validate(now)),
            ["scopes"]
        );
    }

    #[test]
    fn every_invalid_field_is_reported_at_once() {
        let now = Timestamp::now();
        let result = input(" \u{7}", &["users:fly"], Some(now)).validate(now);
        assert_eq!(fields(result), ["name", "scopes", "expires_at"]);
        let long = "k".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(
            fields(input(&long, &["users:read"], None).validate(now)),
            ["name"]
        );
    }
}
