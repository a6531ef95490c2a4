//! Authentication: password hashing, access and refresh tokens, API keys and
//! the account flows (register, login, refresh, logout, password change).

pub mod api_keys;
pub mod passwords;
pub mod recovery;
pub mod service;
pub mod tokens;
