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

/// 202 with `{"message"}`: the work (a mail) is under way, and the answer says no more.
pub fn accepted(message: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({ "message": message })),
    )
        .into_response()
}

pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// The versions an `If-Match` accepts, by RFC 9110's strong comparison: `None` when it is
/// absent or `*` (any current user; an unknown one is a 404 before preconditions count). A
/// weak tag (`W/"1"`) or anything that names no version of ours never matches, so such a
/// header, alone, accepts no version and the write is a 412.
pub fn if_match(headers: &axum::http::HeaderMap) -> Option<Vec<u64>> {
    let raw = headers.get(axum::http::header::IF_MATCH)?;
    let Ok(raw) = raw.to_str() else {
        return Some(Vec::new());
    };
    if raw.trim() == "*" {
        return None;
    }
    Some(raw.split(',').filter_map(strong_etag).collect())
}

/// The version a strong entity tag (`"<version>"`) names.
fn strong_etag(tag: &str) -> Option<u64> {
    tag.trim()
        .strip_prefix('"')?
        .strip_suffix('"')?
        .parse()
        .ok()
}

/// The version an entity tag names, weak or strong (the weak comparison of
/// `If-None-Match`).
fn parse_etag(raw: &str) -> Option<u64> {
    strong_etag(raw.trim().trim_start_matches("W/"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, HeaderMap, HeaderValue};

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn if_match_compares_strongly() {
        let tags = |v: &str| if_match(&with(header::IF_MATCH, v));
        assert_eq!(if_match(&HeaderMap::new()), None);
        assert_eq!(tags("*"), None);
        assert_eq!(tags("\"3\""), Some(vec![3]));
        assert_eq!(tags("W/\"3\""), Some(vec![]));
        assert_eq!(tags("3"), Some(vec![]));
        assert_eq!(tags("W/\"1\", \"4\" , \"x\""), Some(vec![4]));
    }

    #[test]
    fn if_none_match_compares_weakly() {
        assert!(not_modified(&with(header::IF_NONE_MATCH, "W/\"2\""), 2));
        assert!(not_modified(
            &with(header::IF_NONE_MATCH, "\"1\", \"2\""),
            2
        ));
        assert!(!not_modified(&with(header::IF_NONE_MATCH, "\"1\""), 2));
    }
}
