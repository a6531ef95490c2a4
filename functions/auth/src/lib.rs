//! The auth function: /auth/* and /api-keys*. Handlers read like the contract: extract,
//! call the core, respond.

mod api_keys;
pub mod openapi;
mod recovery;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use userhub::accounts::{self, sessions};
use userhub::domain::input::{ChangesInput, NewUserInput};
use userhub::domain::rate_limit::Action;
use userhub::domain::{LoginName, Principal, SessionId};
use userhub::http::{
    user_response, with_location, Auth, ClientIp, Json, PendingAuth, RequestId, Routes,
};
use userhub::{AppState, Error};

/// This function's route table (see `userhub::http::Routes`): one line per route.
pub fn routes() -> Routes {
    Routes::new()
        .post("/auth/register", register)
        .post("/auth/login", login)
        .post("/auth/refresh", refresh)
        .post("/auth/logout", logout)
        .post("/auth/logout-all", logout_all)
        .get("/auth/me", me)
        .patch("/auth/me", update_me)
        .post("/auth/password", change_password)
        .post("/auth/password/forgot", recovery::forgot)
        .post("/auth/password/reset", recovery::reset)
        .post("/auth/verify-email", recovery::verify)
        .post("/auth/verify-email/resend", recovery::resend)
        .post("/api-keys", api_keys::create)
        .get("/api-keys", api_keys::list)
        .delete("/api-keys/{id}", api_keys::revoke)
        .get("/openapi.yaml", openapi::yaml)
        .get("/openapi.json", openapi::json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
    display_name: Option<String>,
    profile_picture_url: Option<String>,
}

async fn register(
    State(ctx): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    Json(body): Json<RegisterBody>,
) -> Result<Response, Error> {
    accounts::limit(&ctx, Action::RegisterIp, &ip.to_string()).await?;
    let input = NewUserInput {
        email: body.email,
        username: body.username,
        password: body.password,
        display_name: body.display_name,
        profile_picture_url: body.profile_picture_url,
        is_admin: None,
        status: None,
        email_verified: None,
    };
    let new = input.validate(true).map_err(Error::Validation)?;
    let user = accounts::recovery::register(&ctx, new, &request_id).await?;
    let res = user_response(StatusCode::CREATED, &user);
    with_location(res, &format!("/users/{}", user.id))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: Option<String>,
    username: Option<String>,
    password: String,
}

async fn login(
    State(ctx): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    Json(body): Json<LoginBody>,
) -> Result<Response, Error> {
    let name = LoginName::from_login(body.email.as_deref(), body.username.as_deref())
        .map_err(|e| Error::Validation(vec![e]))?;
    let tokens = sessions::login(&ctx, name, body.password, &ip.to_string(), &request_id).await?;
    Ok(no_store(axum::Json(tokens).into_response()))
}

/// Token responses must not be cached (RFC 6749 section 5.1).
fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

async fn refresh(
    State(ctx): State<AppState>,
    Json(body): Json<RefreshBody>,
) -> Result<Response, Error> {
    let tokens = sessions::refresh(&ctx, &body.refresh_token).await?;
    Ok(no_store(axum::Json(tokens).into_response()))
}

/// The person behind a bearer token; API keys have no session or profile.
pub(crate) fn person(
    principal: &Principal,
) -> Result<(userhub::domain::UserId, &SessionId), Error> {
    match principal {
        Principal::User { id, session_id, .. } => Ok((*id, session_id)),
        Principal::ApiKey { .. } => Err(Error::Forbidden(
            "this endpoint needs a person's access token",
        )),
    }
}

async fn logout(State(ctx): State<AppState>, Auth(principal): Auth) -> Result<StatusCode, Error> {
    let (id, session) = person(&principal)?;
    ctx.store.end_session(id, session).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout_all(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
) -> Result<StatusCode, Error> {
    let (id, _) = person(&principal)?;
    sessions::end_all_sessions(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(ctx): State<AppState>, pending: PendingAuth) -> Result<Response, Error> {
    let (principal, user) = pending.with_self(&ctx).await?;
    person(&principal)?;
    let user = user.ok_or_else(Error::invalid_token)?;
    Ok(user_response(StatusCode::OK, &user))
}

async fn update_me(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    RequestId(request_id): RequestId,
    Json(body): Json<ChangesInput>,
) -> Result<Response, Error> {
    let (id, _) = person(&principal)?;
    principal.may_request_self_service(&body)?;
    let changes = body.validate().map_err(Error::Validation)?;
    let user = userhub::accounts::recovery::update_profile(
        &ctx,
        &principal,
        id,
        &changes,
        body.current_password,
        None,
        &request_id,
    )
    .await?;
    Ok(user_response(StatusCode::OK, &user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    RequestId(request_id): RequestId,
    Json(body): Json<PasswordBody>,
) -> Result<StatusCode, Error> {
    let (id, session) = person(&principal)?;
    sessions::change_password(
        &ctx,
        id,
        session,
        body.current_password,
        body.new_password,
        &request_id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
