//! The users function: /users/* and /stats/*.

use axum::Router;
use userhub::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
