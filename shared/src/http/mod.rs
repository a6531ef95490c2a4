//! HTTP plumbing shared by every function: the request middleware, extractors, health,
//! and the finishing touches every router gets.

mod auth;
mod health;
pub mod jobs;
mod json;
mod page;
mod request;
mod routes;

use axum::Router;

pub use auth::{Auth, PendingAuth};
pub use json::{from_value, Json, Query, MAX_BODY_BYTES};
pub use page::{Cursors, PageParams};
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

/// `res` with `Location: location` (a path of ours, or a presigned link).
pub fn with_location(
    mut res: axum::response::Response,
    location: &str,
) -> Result<axum::response::Response, Error> {
    let value = axum::http::HeaderValue::from_str(location).map_err(Error::internal)?;
    res.headers_mut()
        .insert(axum::http::header::LOCATION, value);
    Ok(res)
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
