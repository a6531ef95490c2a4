//! Credentials: password hashing, access and refresh tokens, API keys and rate-limit
//! windows. The flows that use them are in `accounts`.

pub mod api_keys;
pub mod passwords;
pub mod rate_limit;
pub mod tokens;
