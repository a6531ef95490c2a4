//! POST /users/bulk and PATCH /users/bulk: up to 100 items, each succeeding or failing on
//! its own, results in request order.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use userhub::config::Feature;
use userhub::domain::bulk::{self, Claimed, Repeated};
use userhub::domain::input::{ChangesInput, NewUserInput};
use userhub::domain::{Actor, Scope, User};
use userhub::error::Problem;
use userhub::http::{from_value, Auth, Json, RequestId};
use userhub::{AppState, Error};

/// Items written at once: enough to overlap round trips, few enough not to pile up
/// transaction conflicts on the counter items.
const CONCURRENCY: usize = 4;

#[derive(Serialize)]
struct ItemResult {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Problem>,
}

impl ItemResult {
    /// An item's outcome; a failure is a whole problem document, with the request's id
    /// like any other (the `Problem` schema requires it).
    fn of(
        index: usize,
        id: Option<String>,
        ok_status: u16,
        result: Result<User, Error>,
        request_id: &str,
    ) -> Self {
        match result {
            Ok(user) => Self {
                index,
                id,
                status: ok_status,
                user: Some(user),
                error: None,
            },
            Err(e) => {
                let mut problem = e.into_problem();
                problem.request_id = Some(request_id.to_owned());
                Self {
                    index,
                    id,
                    status: problem.status,
                    user: None,
                    error: Some(problem),
                }
            }
        }
    }
}

fn check_size(len: usize, field: &str) -> Result<(), Error> {
    bulk::check_size(len).map_err(|m| Error::field(field, m))
}

/// A name an earlier item claimed is taken, as it would be one request at a time.
fn repeated(name: Repeated) -> Error {
    match name {
        Repeated::Email => Error::conflict("email_taken", "email appears earlier in this request"),
        Repeated::Username => {
            Error::conflict("username_taken", "username appears earlier in this request")
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    users: Vec<serde_json::Value>,
}

pub(crate) async fn create(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    RequestId(request_id): RequestId,
    Json(body): Json<CreateBody>,
) -> Result<Response, Error> {
    ctx.require_feature(Feature::UsersBulk)?;
    principal.require_scope(Scope::UsersWrite)?;
    check_size(body.users.len(), "users")?;
    // Validation and in-request duplicate detection happen up front, in order, so the
    // first occurrence of an email or username wins, as it would one request at a time.
    let mut claimed = Claimed::default();
    let prepared: Vec<_> = body
        .users
        .into_iter()
        .map(|raw| {
            let new = from_value::<NewUserInput>(raw)?
                .validate(false)
                .map_err(Error::Validation)?;
            principal.may_create(&new)?;
            claimed.claim(&new).map_err(repeated)?;
            Ok(new)
        })
        .collect();
    let actor = Actor::of(&principal);
    let results: Vec<ItemResult> = stream::iter(prepared.into_iter().enumerate())
        .map(|(index, new)| {
            let (ctx, actor, request_id) = (&ctx, actor.clone(), &request_id);
            async move {
                let result = match new {
                    Ok(new) => {
                        userhub::accounts::recovery::create_user(ctx, new, actor, request_id).await
                    }
                    Err(e) => Err(e),
                };
                ItemResult::of(index, None, 201, result, request_id)
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    Ok(axum::Json(serde_json::json!({ "results": results })).into_response())
}

/// What PATCH /users/bulk may change: deliberately less than a single PATCH.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkChange {
    status: Option<String>,
    is_admin: Option<bool>,
    #[serde(default, deserialize_with = "userhub::domain::input::nullable")]
    display_name: Option<Option<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateBody {
    ids: Vec<String>,
    update: BulkChange,
}

pub(crate) async fn update(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    RequestId(request_id): RequestId,
    Json(body): Json<UpdateBody>,
) -> Result<Response, Error> {
    ctx.require_feature(Feature::UsersBulk)?;
    principal.require_scope(Scope::UsersWrite)?;
    check_size(body.ids.len(), "ids")?;
    let ids = bulk::parse_ids(&body.ids).map_err(|e| Error::Validation(vec![e]))?;
    let input = ChangesInput {
        status: body.update.status,
        is_admin: body.update.is_admin,
        display_name: body.update.display_name,
        ..Default::default()
    };
    let changes = input.validate().map_err(Error::Validation)?;
    if changes.is_empty() {
        return Err(Error::field("update", "must name at least one field"));
    }
    let results: Vec<(ItemResult, bool)> = stream::iter(ids.into_iter().enumerate())
        .map(|(index, id)| {
            let (ctx, principal, request_id, changes) = (&ctx, &principal, &request_id, &changes);
            async move {
                let result =
                    userhub::users::update(ctx, id, changes, None, principal, request_id).await;
                let changed = result.as_ref().is_ok_and(|u| u.changed);
                let result = result.map(|u| u.user);
                (
                    ItemResult::of(index, Some(id.to_string()), 200, result, request_id),
                    changed,
                )
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    // Only users that really changed count: a no-op (already inactive, same name) is a 200
    // that updated nothing.
    let updated = results.iter().filter(|(_, changed)| *changed).count();
    let results: Vec<ItemResult> = results.into_iter().map(|(r, _)| r).collect();
    Ok(axum::Json(serde_json::json!({ "updated": updated, "results": results })).into_response())
}
