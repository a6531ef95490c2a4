//! POST/GET/DELETE /api-keys (admin).

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use userhub::domain::api_key::ApiKeyInput;
use userhub::domain::{Actor, Scope, Timestamp, UserId};
use userhub::http::{Auth, Cursors, Json, PageParams, Query};
use userhub::store::ApiKeyRecord;
use userhub::{AppState, Error};

const LIST_SCOPE: &str = "api-keys";

/// An API key as the API shows it: with the id of the admin who created it.
#[derive(Serialize)]
struct KeyView {
    id: String,
    name: String,
    scopes: BTreeSet<Scope>,
    created_at: Timestamp,
    created_by: Option<UserId>,
    expires_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
}

impl From<ApiKeyRecord> for KeyView {
    fn from(r: ApiKeyRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            scopes: r.scopes,
            created_at: r.created_at,
            // Only admins, who are people, create keys: `user:<id>`.
            created_by: Actor::person(&r.created_by),
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
        }
    }
}

#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    view: KeyView,
    /// Shown once: only its hash is stored.
    key: String,
}

pub(crate) async fn create(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Json(body): Json<ApiKeyInput>,
) -> Result<Response, Error> {
    principal.require_admin()?;
    let now = Timestamp::now();
    let new = body.validate(now).map_err(Error::Validation)?;
    let (id, key, hash) = userhub::auth::api_keys::generate();
    let record = ApiKeyRecord {
        id,
        name: new.name,
        scopes: new.scopes,
        created_at: now,
        created_by: Actor::of(&principal).to_string(),
        expires_at: new.expires_at,
        last_used_at: None,
        hash,
    };
    ctx.store.put_api_key(&record).await?;
    let created = Created {
        view: record.into(),
        key,
    };
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

pub(crate) async fn list(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Query(params): Query<PageParams>,
    uri: Uri,
) -> Result<Response, Error> {
    principal.require_admin()?;
    let cursors = Cursors::new(&ctx.cursors, LIST_SCOPE);
    let (limit, after) = params.start(&cursors)?;
    let page = ctx.store.api_keys_page(limit, after).await?;
    let items: Vec<KeyView> = page.items.into_iter().map(KeyView::from).collect();
    Ok(cursors.respond(&items, page.next, Some(&uri)))
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
