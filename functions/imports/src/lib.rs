//! The imports function: /imports*.

use axum::Router;
use userhub::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
