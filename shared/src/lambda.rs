//! The one entry point every HTTP function's `main` calls.

use axum::http::uri::PathAndQuery;
use axum::http::{Request, Uri};
use lambda_http::RequestExt;
use tower::util::MapRequestLayer;
use tower::Layer;

use crate::http::Routes;
use crate::Ctx;

/// Initialises logging and the AWS clients once per cold start, then serves `routes`
/// under the Lambda runtime.
pub async fn serve(routes: Routes) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let state = Ctx::from_env().await.inspect_err(|e| {
        tracing::error!(error = %e, "start-up failed");
    })?;
    // Before routing, so the router sees the path without the stage.
    let app = MapRequestLayer::new(without_stage).layer(crate::http::app(routes, state));
    lambda_http::run(app).await
}

/// `lambda_http` puts a REST API's stage in front of the path (`/Prod/users`), but a route
/// is the same whatever stage serves it, so route on the path the client asked for
/// (`path` in payload 1.0, `rawPath` in 2.0, whose `$default` stage adds nothing).
fn without_stage<B>(mut req: Request<B>) -> Request<B> {
    let raw = req.extensions().raw_http_path();
    if raw.is_empty() || raw == req.uri().path() {
        return req;
    }
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{raw}?{q}"),
        None => raw.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = path_and_query.parse::<PathAndQuery>().ok();
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(uri: &str, raw: &str) -> String {
        let req = Request::builder().uri(uri).body(()).unwrap();
        let req = if raw.is_empty() {
            req
        } else {
            req.with_raw_http_path(raw)
        };
        without_stage(req).uri().to_string()
    }

    #[test]
    fn the_stage_prefix_is_dropped_and_the_query_kept() {
        assert_eq!(
            routed("https://h.example/Prod/users/1?limit=2&x=a%20b", "/users/1"),
            "https://h.example/users/1?limit=2&x=a%20b"
        );
        assert_eq!(routed("/Prod/health", "/health"), "/health");
    }

    #[test]
    fn paths_without_a_stage_are_left_alone() {
        assert_eq!(routed("/users?limit=1", "/users"), "/users?limit=1");
        assert_eq!(routed("/users", ""), "/users");
    }
}
