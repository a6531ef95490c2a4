//! POST/GET/DELETE /api-keys (admin).

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use userhub::domain::{Scope, Timestamp};
use userhub::http::{Auth, Json};
use userhub::store::ApiKeyRecord;
use userhub::{AppState, Error};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    name: String,
    scopes: Vec<String>,
    expires_at: Option<Timestamp>,
}

#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    record: ApiKeyRecord,
    /// Shown once: only its hash is stored.
    key: String,
}

pub(crate) async fn create(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Json(body): Json<CreateBody>,
) -> Result<Response, Error> {
    principal.require_admin()?;
    let mut errors = Vec::new();
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        errors.push(userhub::error::FieldError::new(
            "name",
            "must be 1 to 100 characters, no control characters",
        ));
    }
    let scopes: Result<BTreeSet<Scope>, _> =
        body.scopes.iter().map(|s| s.parse::<Scope>()).collect();
    match &scopes {
        Ok(s) if !s.is_empty() => {}
        _ => errors.push(userhub::error::FieldError::new(
            "scopes",
            "must be a non-empty list of users:read, users:write, users:export, users:import",
        )),
    }
    let now = Timestamp::now();
    if body.expires_at.is_some_and(|t| t <= now) {
        errors.push(userhub::error::FieldError::new(
            "expires_at",
            "must be in the future",
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (id, key, hash) = userhub::auth::api_keys::generate();
    let record = ApiKeyRecord {
        id,
        name: name.to_owned(),
        scopes: scopes.unwrap_or_default(),
        created_at: now,
        created_by: userhub::domain::Actor::of(&principal).to_string(),
        expires_at: body.expires_at,
        last_used_at: None,
        hash,
    };
    ctx.store.put_api_key(&record).await?;
    Ok((StatusCode::CREATED, axum::Json(Created { record, key })).into_response())
}

pub(crate) async fn list(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
) -> Result<Response, Error> {
    principal.require_admin()?;
    let keys = ctx.store.api_keys().await?;
    Ok(axum::Json(json!({ "items": keys, "next_cursor": null })).into_response())
}

pub(crate) async fn revoke(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    principal.require_admin()?;
    if ctx.store.delete_api_key(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound)
    }
}
