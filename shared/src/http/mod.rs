//! HTTP plumbing shared by every function: the request middleware, extractors, health,
//! and the finishing touches every router gets.

mod health;
mod json;
mod request;

use axum::routing::get;
use axum::Router;

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
