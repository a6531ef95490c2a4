//! What every request goes through: a request id, a span that puts it on every log line,
//! one access-log line, and the rendering of problem+json bodies with that id.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::request::RequestContext;
use tracing::Instrument;

use crate::error::Problem;
use crate::Error;

/// The id of this request: API Gateway's, else the Lambda invocation's, else a fresh one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    fn of(parts: &axum::http::request::Request<axum::body::Body>) -> Self {
        let gateway = parts
            .extensions()
            .get::<RequestContext>()
            .and_then(|ctx| match ctx {
                RequestContext::ApiGatewayV2(c) => c.request_id.clone(),
                RequestContext::ApiGatewayV1(c) => c.request_id.clone(),
                _ => None,
            });
        let lambda = || {
            parts
                .extensions()
                .get::<lambda_http::Context>()
                .map(|c| c.request_id.clone())
                .filter(|id| !id.is_empty())
        };
        Self(
            gateway
                .or_else(lambda)
                .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .ok_or_else(|| Error::internal("request id middleware is not installed"))
    }
}

/// The caller's address as the network saw it: API Gateway's `sourceIp`, or the socket
/// peer locally. Never a client-settable header such as `X-Forwarded-For`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let gateway = parts
            .extensions
            .get::<RequestContext>()
            .and_then(|ctx| match ctx {
                RequestContext::ApiGatewayV2(c) => c.http.source_ip.clone(),
                RequestContext::ApiGatewayV1(c) => c.identity.source_ip.clone(),
                _ => None,
            });
        if let Some(ip) = gateway.and_then(|ip| ip.parse().ok()) {
            return Ok(ClientIp(ip));
        }
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| ClientIp(addr.ip()))
            .ok_or_else(|| Error::internal("no client address on the request"))
    }
}

pub(super) async fn middleware(mut req: Request, next: Next) -> Response {
    let id = RequestId::of(&req);
    req.extensions_mut().insert(id.clone());
    // Log the route template, not the path: paths can hold emails and usernames.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    let span = tracing::info_span!("request", request_id = %id.0);
    let started = Instant::now();

    let mut res = next.run(req).instrument(span.clone()).await;

    if let Some(problem) = res.extensions_mut().remove::<Problem>() {
        res = rerender(res, problem, &id);
    } else if res.status().is_client_error() || res.status().is_server_error() {
        // JSON error bodies are deliberate (health's 503 names its failing check); anything
        // else came from a layer or extractor outside our control: keep its status, but
        // speak problem+json like every other error.
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        if !is_json {
            let problem = Problem::for_status(res.status());
            res = rerender(res, problem, &id);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        res.headers_mut().insert("x-request-id", value);
    }
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            route = %route,
            status = res.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "request"
        );
    });
    res
}

/// Re-renders an error body with the request id, keeping the headers the error set.
fn rerender(res: Response, problem: Problem, id: &RequestId) -> Response {
    let (parts, _) = res.into_parts();
    let mut fresh = problem.into_response_with_id(Some(&id.0));
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fresh
}
