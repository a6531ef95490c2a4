//! The user-management domain as plain types and functions: no I/O, no AWS, no HTTP.

pub mod access;
pub mod passwords;
pub mod time;
pub mod user;

pub use access::{Principal, Role, Scope};
pub use time::Timestamp;
pub use user::{DisplayName, Email, PictureUrl, Status, User, UserId, Username};
