//! The imports function: /imports*.

use userhub::http::Routes;

/// This function's route table (see `userhub::http::Routes`): one line per route.
pub fn routes() -> Routes {
    Routes::new()
}
