//! Authentication: password hashing, access and refresh tokens, API keys, rate-limit
//! windows, and the account flows (register, login, refresh, logout, password change).

pub mod api_keys;
pub mod passwords;
pub mod rate_limit;
pub mod recovery;
pub mod service;
pub mod tokens;
