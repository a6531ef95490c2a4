//! The exports function: /exports* and /users/export*.

use axum::Router;
use userhub::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
