//! The whole API in one process for development and tests: every function's router,
//! merged, over the same handlers Lambda runs. Also the local stack's setup: the table
//! and bucket, created from template.yaml.

pub mod import_cli;
pub mod setup;

use axum::Router;
use userhub::AppState;

/// Every function's routes behind the same plumbing each Lambda gets.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .merge(userhub_auth::routes())
        .merge(userhub_users::routes())
        .merge(userhub_exports::routes())
        .merge(userhub_imports::routes());
    userhub::http::app(routes, state)
}
