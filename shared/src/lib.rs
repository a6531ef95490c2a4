//! userhub's core: the domain, the DynamoDB store, authentication and the HTTP plumbing
//! shared by every Lambda function. See ARCHITECTURE.md for the map.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod check;
pub mod config;
pub mod cursor;
pub mod domain;
pub mod error;
pub mod export;
pub mod faults;
pub mod http;
pub mod import;
pub mod jobs;
#[cfg(test)]
mod layering;
pub mod mail;
pub mod sdk_http;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod users;

pub use app::{AppState, Ctx};
pub use error::{Error, Result};
pub mod lambda;
