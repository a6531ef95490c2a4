//! The users function: /users/* and /stats/*. Handlers read like the contract: extract,
//! check access, call the core, respond.

mod bulk;
mod listing;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use userhub::auth::recovery;
use userhub::domain::input::{ChangesInput, NewUserInput};
use userhub::domain::{Actor, Email, LoginName, Principal, Scope, UserId, Username};
use userhub::http::{
    if_match, not_modified, page_response, user_response, Auth, Json, PageParams, PendingAuth,
    Query, RequestId, Routes,
};
use userhub::users::{self, Transition};
use userhub::{AppState, Error};

/// This function's route table (see `userhub::http::Routes`): one line per route.
pub fn routes() -> Routes {
    Routes::new()
        .post("/users", create)
        .get("/users", listing::list)
        .post("/users/search", listing::search)
        .post("/users/bulk", bulk::create)
        .patch("/users/bulk", bulk::update)
        .get("/users/by-email/{email}", by_email)
        .get("/users/by-username/{username}", by_username)
        .get("/users/{id}", read)
        .patch("/users/{id}", update)
        .put("/users/{id}", update)
        .delete("/users/{id}", remove)
        .post("/users/{id}/activate", activate)
        .post("/users/{id}/deactivate", deactivate)
        .post("/users/{id}/restore", restore)
        .post("/users/{id}/anonymize", anonymize)
        .post("/users/{id}/invite", invite)
        .get("/users/{id}/audit", audit)
        .get("/stats/users", stats_users)
        .get("/stats/signups", listing::signups)
}

/// An id that is not a UUID names no user: 404, like any unknown id.
fn user_id(raw: &str) -> Result<UserId, Error> {
    UserId::parse(raw).ok_or(Error::NotFound)
}

async fn create(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    RequestId(request_id): RequestId,
    Json(input): Json<NewUserInput>,
) -> Result<Response, Error> {
    principal.require_admin()?;
    let new = input.validate(false).map_err(Error::Validation)?;
    principal.may_create(&new)?;
    let user = recovery::create_user(&ctx, new, Actor::of(&principal), &request_id).await?;
    let mut res = user_response(StatusCode::CREATED, &user);
    if let Ok(location) = format!("/users/{}", user.id).parse() {
        res.headers_mut().insert(header::LOCATION, location);
    }
    Ok(res)
}

async fn read(
    State(ctx): State<AppState>,
    auth: PendingAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let id = user_id(&id)?;
    let (principal, user) = auth.with_user(&ctx, id).await?;
    principal.require_self_or_scope(id, Scope::UsersRead)?;
    let user = user.ok_or(Error::NotFound)?;
    if not_modified(&headers, user.version) {
        let mut res = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = userhub::http::etag(user.version).parse() {
            res.headers_mut().insert(header::ETAG, v);
        }
        return Ok(res);
    }
    Ok(user_response(StatusCode::OK, &user))
}

async fn by_email(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Path(email): Path<String>,
) -> Result<Response, Error> {
    principal.require_scope(Scope::UsersRead)?;
    let email = Email::parse(&email).map_err(|_| Error::NotFound)?;
    let user = ctx
        .store
        .user_by_email(&email)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(user_response(StatusCode::OK, &user))
}

async fn by_username(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Path(username): Path<String>,
) -> Result<Response, Error> {
    principal.require_scope(Scope::UsersRead)?;
    let username = Username::parse(&username).map_err(|_| Error::NotFound)?;
    let id = ctx
        .store
        .reserved_by(&LoginName::Username(username))
        .await?
        .ok_or(Error::NotFound)?;
    let user = ctx.store.user(id).await?.ok_or(Error::NotFound)?;
    Ok(user_response(StatusCode::OK, &user))
}

async fn update(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(input): Json<ChangesInput>,
) -> Result<Response, Error> {
    let id = user_id(&id)?;
    principal.require_self_or_scope(id, Scope::UsersWrite)?;
    let changes = input.validate().map_err(Error::Validation)?;
    let expected = if_match(&headers);
    let user = recovery::update_profile(
        &ctx,
        &principal,
        id,
        &changes,
        input.current_password,
        expected.as_deref(),
        &request_id,
    )
    .await?;
    Ok(user_response(StatusCode::OK, &user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteParams {
    hard: Option<bool>,
}

async fn remove(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Query(params): Query<DeleteParams>,
    headers: HeaderMap,
) -> Result<StatusCode, Error> {
    let transition = if params.hard == Some(true) {
        Transition::HardDelete
    } else {
        Transition::SoftDelete
    };
    move_user(&ctx, &principal, &id, transition, &headers, &request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn move_user(
    ctx: &AppState,
    principal: &Principal,
    id: &str,
    transition: Transition,
    headers: &HeaderMap,
    request_id: &str,
) -> Result<Option<userhub::domain::User>, Error> {
    principal.require_admin()?;
    let id = user_id(id)?;
    let expected = if_match(headers);
    users::transition(
        ctx,
        id,
        transition,
        expected.as_deref(),
        Actor::of(principal),
        request_id,
    )
    .await
}

macro_rules! lifecycle_route {
    ($name:ident, $transition:expr) => {
        async fn $name(
            State(ctx): State<AppState>,
            Auth(principal): Auth,
            RequestId(request_id): RequestId,
            Path(id): Path<String>,
            headers: HeaderMap,
        ) -> Result<Response, Error> {
            let user = move_user(&ctx, &principal, &id, $transition, &headers, &request_id)
                .await?
                .ok_or(Error::NotFound)?;
            Ok(user_response(StatusCode::OK, &user))
        }
    };
}

lifecycle_route!(activate, Transition::Activate);
lifecycle_route!(deactivate, Transition::Deactivate);
lifecycle_route!(restore, Transition::Restore);
lifecycle_route!(anonymize, Transition::Anonymize);

/// POST /users/{id}/invite: (re-)sends the set-password link of a user without a password.
async fn invite(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    principal.require_admin()?;
    let id = user_id(&id)?;
    recovery::invite(&ctx, id, Actor::of(&principal), &request_id).await?;
    Ok(userhub::http::accepted("the invitation is on its way"))
}

async fn audit(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
    uri: Uri,
) -> Result<Response, Error> {
    principal.require_admin()?;
    let id = user_id(&id)?;
    let scope = format!("audit:{id}");
    let (limit, after) = params.start(&ctx.cursors, &scope)?;
    let page = ctx.store.audit_page(id, limit, after).await?;
    let next = page.next.map(|p| ctx.cursors.seal(&scope, &p));
    Ok(page_response(&page.items, next, &uri))
}

async fn stats_users(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
) -> Result<Response, Error> {
    principal.require_admin()?;
    let counts = ctx.store.status_counts().await?;
    Ok(axum::Json(json!(counts)).into_response())
}
