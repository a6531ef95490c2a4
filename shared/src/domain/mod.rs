//! The user-management domain as plain types and functions: no I/O, no AWS, no HTTP.

pub mod access;
pub mod audit;
pub mod export;
pub mod input;
pub mod listing;
pub mod passwords;
pub mod session;
pub mod time;
pub mod user;

pub use access::{Denied, Principal, Role, Scope};
pub use audit::{Actor, AuditEvent};
pub use session::SessionId;
pub use time::Timestamp;
pub use user::{DisplayName, Email, LoginName, PictureUrl, Status, User, UserId, Username};
