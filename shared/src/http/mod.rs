//! HTTP plumbing shared by every function: the request middleware, extractors, health,
//! and the finishing touches every router gets.

mod auth;
mod health;
mod json;
mod request;

use axum::routing::get;
use axum::Router;

pub use auth::Auth;
pub use json::{Json, Query, MAX_BODY_BYTES};
pub use request::{ClientIp, RequestId};

use crate::{AppState, Error};

/// Turns a function's routes into the service it runs: adds `/health`, problem+json
/// 404/405s, and the request middleware (request id, logging, problem rendering).
pub fn app(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .route("/health", get(health::health))
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(axum::middleware::from_fn(request::middleware))
        .with_state(state)
}

/// The user representation with its `ETag` (`"<version>"`).
pub fn user_response(
    status: axum::http::StatusCode,
    user: &crate::domain::User,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut res = (status, axum::Json(user)).into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&etag(user.version)) {
        res.headers_mut().insert(axum::http::header::ETAG, v);
    }
    res
}

pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}
