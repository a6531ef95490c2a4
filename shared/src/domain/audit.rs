//! Audit events: who did what to which user, when, in which request. They name changed
//! fields, never their values, so the trail holds no personal data or secrets.

use serde::Serialize;

use super::{Principal, Timestamp, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub id: String,
    pub user_id: UserId,
    pub actor: String,
    pub action: String,
    pub fields: Vec<String>,
    pub at: Timestamp,
    pub request_id: String,
}

impl AuditEvent {
    pub fn new(user_id: UserId, actor: Actor, action: &str, request_id: &str) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            user_id,
            actor: actor.0,
            action: action.to_owned(),
            fields: Vec::new(),
            at: Timestamp::now(),
            request_id: request_id.to_owned(),
        }
    }

    pub fn with_fields(mut self, fields: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }
}

/// Who acted, as written in the trail: `user:<id>`, `api_key:<id>`, `anonymous`, `system`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Actor {
    pub fn of(principal: &Principal) -> Self {
        match principal {
            Principal::User { id, .. } => Self(format!("user:{id}")),
            Principal::ApiKey { id, .. } => Self(format!("api_key:{id}")),
        }
    }

    pub fn user(id: UserId) -> Self {
        Self(format!("user:{id}"))
    }

    /// The person a recorded actor (`user:<id>`) names; `None` for any other actor.
    pub fn person(recorded: &str) -> Option<UserId> {
        recorded.strip_prefix("user:").and_then(UserId::parse)
    }

    pub fn anonymous() -> Self {
        Self("anonymous".into())
    }

    pub fn system() -> Self {
        Self("system".into())
    }
}
