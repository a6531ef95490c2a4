//! The user-management domain as plain types and functions: no I/O, no AWS, no HTTP.

pub mod access;
pub mod audit;
pub mod export;
pub mod field;
pub mod import;
pub mod input;
pub mod lifecycle;
pub mod listing;
pub mod passwords;
pub mod rate_limit;
pub mod session;
pub mod time;
pub mod tokens;
pub mod user;

pub use access::{Denied, Principal, Role, Scope};
pub use audit::{Actor, AuditEvent};
pub use field::FieldError;
pub use session::SessionId;
pub use time::Timestamp;
pub use user::{DisplayName, Email, LoginName, PictureUrl, Status, User, UserId, Username};
