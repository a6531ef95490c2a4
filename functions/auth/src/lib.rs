//! The auth function: /auth/* and /api-keys*.

use axum::Router;
use userhub::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
