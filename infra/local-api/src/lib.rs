//! The whole API in one process for development and tests: every function's router,
//! merged, over the same handlers Lambda runs. Also the local stack's setup: the table
//! and bucket, created from template.yaml.

mod docs;
pub mod import_cli;
pub mod setup;

use axum::Router;
use userhub::http::Routes;
use userhub::AppState;

/// Every HTTP function's binary name (as `template.yaml`'s `BuildProperties.Binary` names
/// it) and route table. The drift test checks these against openapi.yaml and the template.
pub fn functions() -> Vec<(&'static str, Routes)> {
    vec![
        ("userhub-auth", userhub_auth::routes()),
        ("userhub-users", userhub_users::routes()),
        ("userhub-exports", userhub_exports::routes()),
        ("userhub-imports", userhub_imports::routes()),
    ]
}

/// Every function's routes behind the same plumbing each Lambda gets, and the local-only
/// docs page.
pub fn app(state: AppState) -> Router {
    let routes = functions()
        .into_iter()
        .fold(docs::routes(), |all, (_, routes)| all.merge(routes));
    userhub::http::app(routes, state)
}
