//! Credentials: password hashing, access and refresh tokens, and API keys. The flows that use them are in `accounts`.

pub mod api_keys;
pub mod passwords;
pub mod tokens;
