//! HTTP plumbing shared by every function: the request middleware, extractors, health,
//! and the finishing touches every router gets.

mod auth;
pub mod cursor;
mod health;
mod json;
mod request;
mod routes;

use axum::Router;

pub use auth::{Auth, PendingAuth};
pub use json::{from_value, Json, Query, MAX_BODY_BYTES};
pub use request::{ClientIp, RequestId};
pub use routes::{Route, Routes};

use crate::{AppState, Error};

/// Turns a function's routes into the service it runs: adds `/health`, problem+json
/// 404/405s, and the request middleware (request id, logging, problem rendering).
pub fn app(routes: Routes, state: AppState) -> Router {
    routes
        .with_common()
        .into_router()
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(axum::middleware::from_fn(request::middleware))
        .with_state(state)
}

/// The user representation with its `ETag` (`"<version>"`).
pub fn user_response(
    status: axum::http::StatusCode,
    user: &crate::domain::User,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut res = (status, axum::Json(user)).into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&etag(user.version)) {
        res.headers_mut().insert(axum::http::header::ETAG, v);
    }
    res
}

pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// Parses `If-Match`: `None` when absent or `*`; a version otherwise. A value that names no
/// version of ours can never match, so it is a 412 rather than being ignored.
pub fn if_match(headers: &axum::http::HeaderMap) -> Result<Option<u64>, Error> {
    let Some(raw) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let raw = raw.to_str().map_err(|_| Error::PreconditionFailed)?.trim();
    if raw == "*" {
        return Ok(None);
    }
    parse_etag(raw).map(Some).ok_or(Error::PreconditionFailed)
}

fn parse_etag(raw: &str) -> Option<u64> {
    raw.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .ok()
}

/// Whether `If-None-Match` already names this version (then the answer is 304).
pub fn not_modified(headers: &axum::http::HeaderMap, version: u64) -> bool {
    headers
        .get(axum::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim() == "*" || v.split(',').any(|tag| parse_etag(tag) == Some(version))
        })
}

/// Query parameters every list takes.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageParams {
    pub const DEFAULT_LIMIT: u32 = 20;
    pub const MAX_LIMIT: u32 = 100;

    pub fn limit(&self) -> Result<u32, Error> {
        match self.limit {
            None => Ok(Self::DEFAULT_LIMIT),
            Some(n) if (1..=Self::MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(Error::field("limit", "must be from 1 to 100")),
        }
    }

    /// The page size, and where the page starts: the cursor, opened under `scope` (a
    /// cursor of another list or query is a 400 `invalid_cursor`).
    pub fn start(
        &self,
        cursors: &cursor::CursorKey,
        scope: &str,
    ) -> Result<(u32, Option<crate::store::Position>), Error> {
        let after = self
            .cursor
            .as_deref()
            .map(|c| cursors.open(scope, c))
            .transpose()?;
        Ok((self.limit()?, after))
    }
}

/// `{items, next_cursor}` plus a `Link: <...>; rel="next"` that repeats the request's own
/// query with the next cursor.
pub fn page_response<T: serde::Serialize>(
    items: &[T],
    next_cursor: Option<String>,
    uri: &axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = serde_json::json!({ "items": items, "next_cursor": next_cursor });
    let mut res = axum::Json(body).into_response();
    if let Some(cursor) = next_cursor {
        let mut query: Vec<(String, String)> =
            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .filter(|(k, _)| k != "cursor")
                .collect();
        query.push(("cursor".into(), cursor));
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let link = format!("<{}?{}>; rel=\"next\"", uri.path(), encoded);
        if let Ok(v) = axum::http::HeaderValue::from_str(&link) {
            res.headers_mut().insert(axum::http::header::LINK, v);
        }
    }
    res
}
