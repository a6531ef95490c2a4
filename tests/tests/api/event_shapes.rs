//! AWS's event shapes reach the real function binaries intact: API Gateway HTTP API
//! (payload 2.0, `$default` stage) and REST API (payload 1.0, `/Prod` stage), each with a GET
//! with path and query parameters, a JSON POST, a base64 POST, a repeated query key and
//! cookies (`tests/fixtures/apigw-v*/`). Routing, status, headers (`x-request-id` is API
//! Gateway's `requestId`), body encoding and the client address the rate limits use are
//! checked in every shape.
//!
//! The binaries run under our Lambda Runtime API emulator (`LambdaProcess::spawn`), which
//! hands them the event bytes exactly as written, the way Lambda does. `cargo lambda watch`
//! would do as well for the payload, but it adds its own HTTP front end and process
//! supervision that this test does not need (see tests/src/lambda_emulator.rs).

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use userhub_tests::lambda_emulator::{
    built_binary, fixture_event, workspace_root, HttpResponse, LambdaProcess,
};
use userhub_tests::{function_env, TestApp, PASSWORD};

const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum Shape {
    /// HTTP API, payload format 2.0, `$default` stage.
    HttpApiV2,
    /// REST API, payload format 1.0, `Prod` stage.
    RestApiV1,
}

const SHAPES: [Shape; 2] = [Shape::HttpApiV2, Shape::RestApiV1];

impl Shape {
    fn dir(self) -> &'static str {
        match self {
            Shape::HttpApiV2 => "apigw-v2",
            Shape::RestApiV1 => "apigw-v1",
        }
    }
}

/// One request: which fixture, and what fills its placeholders.
struct Call<'a> {
    fixture: &'a str,
    path: &'a str,
    token: Option<&'a str>,
    body: Option<Value>,
    source_ip: &'a str,
    forwarded_for: &'a str,
}

impl<'a> Call<'a> {
    fn new(fixture: &'a str, path: &'a str) -> Self {
        Self {
            fixture,
            path,
            token: None,
            body: None,
            source_ip: "198.51.100.7",
            forwarded_for: "203.0.113.250",
        }
    }

    fn token(self, token: &'a str) -> Self {
        Self {
            token: Some(token),
            ..self
        }
    }

    fn body(self, body: Value) -> Self {
        Self {
            body: Some(body),
            ..self
        }
    }

    fn from(self, source_ip: &'a str, forwarded_for: &'a str) -> Self {
        Self {
            source_ip,
            forwarded_for,
            ..self
        }
    }
}

/// A function binary running under the emulator.
struct Function {
    name: &'static str,
    process: LambdaProcess,
}

impl Function {
    async fn start(name: &'static str, package_dir: &str, env: &[(String, String)]) -> Self {
        let bin = built_binary(name, package_dir).unwrap_or_else(|e| panic!("{e}"));
        let mut process = LambdaProcess::spawn(&bin, name, env)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        process
            .wait_ready(TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        Self { name, process }
    }

    /// Sends the call in `shape`; checks what every answer must carry and returns it.
    async fn call(&mut self, shape: Shape, call: Call<'_>) -> HttpResponse {
        let request_id = format!("{}-{}", shape.dir(), uuid::Uuid::new_v4().simple());
        let body = call.body.map(|b| b.to_string()).unwrap_or_default();
        let authorization = call
            .token
            .map(|t| format!("Bearer {t}"))
            .unwrap_or_default();
        let base64 = base64::engine::general_purpose::STANDARD.encode(&body);
        let event = fixture_event(
            &format!("{}/{}", shape.dir(), call.fixture),
            &[
                ("PATH", call.path),
                ("PROXY", call.path.trim_start_matches('/')),
                ("REQUEST_ID", &request_id),
                ("SOURCE_IP", call.source_ip),
                ("FORWARDED_FOR", call.forwarded_for),
                ("AUTHORIZATION", &authorization),
                ("BODY", &body),
                ("BODY_BASE64", &base64),
            ],
        );
        let context = format!("{} {:?} {} {}", self.name, shape, call.fixture, call.path);
        let outcome = self
            .process
            .invoke(&event, TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("{context}: {e}"));
        // `parse` refuses a base64 body: every answer here is JSON or YAML, sent as text.
        let res = HttpResponse::parse(&outcome).unwrap_or_else(|e| panic!("{context}: {e}"));
        assert_eq!(res.raw["isBase64Encoded"], false, "{context}: {}", res.raw);
        assert_eq!(
            res.headers.get("x-request-id"),
            Some(&request_id),
            "{context}: x-request-id is not API Gateway's requestId: {}",
            res.raw
        );
        res
    }
}

#[track_caller]
fn expect(res: &HttpResponse, status: u16, what: &str) -> Value {
    assert_eq!(res.status, status, "{what}: {}", res.raw);
    if res.body.is_empty() {
        return Value::Null;
    }
    res.json().unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Registration, its per-IP limit, login with a base64 body, cookies, and the document.
#[tokio::test]
async fn auth_function_understands_every_shape() {
    let (_app, env) = function_env(&[("RATE_LIMIT_REGISTER_IP", "1/3600")]).await;
    let mut auth = Function::start("userhub-auth", "functions/auth", &env).await;
    for (i, shape) in SHAPES.into_iter().enumerate() {
        let (ip_a, ip_b) = (
            format!("198.51.100.{}", 10 + i),
            format!("198.51.100.{}", 20 + i),
        );
        let email = format!("ann{i}@example.com");
        let register = |email: &str, username: &str| json!({"email": email, "username": username, "password": PASSWORD});

        let res = auth
            .call(
                shape,
                Call::new("post-json.json", "/auth/register")
                    .body(register(&email, &format!("ann{i}")))
                    .from(&ip_a, &ip_b),
            )
            .await;
        let user = expect(&res, 201, "register");
        assert_eq!(user["email"], email.as_str());
        let location = format!("/users/{}", user["id"].as_str().unwrap());
        assert_eq!(res.headers.get("location"), Some(&location));
        assert_eq!(
            res.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );

        // The limit counts API Gateway's sourceIp, whatever X-Forwarded-For claims.
        let res = auth
            .call(
                shape,
                Call::new("post-json.json", "/auth/register")
                    .body(register(&format!("bob{i}@example.com"), &format!("bob{i}")))
                    .from(&ip_a, &ip_b),
            )
            .await;
        let problem = expect(&res, 429, "second registration from the same sourceIp");
        assert_eq!(problem["code"], "rate_limited");
        assert!(res.headers.contains_key("retry-after"), "{}", res.raw);
        assert_eq!(
            problem["request_id"].as_str(),
            res.headers.get("x-request-id").map(String::as_str)
        );
        let res = auth
            .call(
                shape,
                Call::new("post-json.json", "/auth/register")
                    .body(register(&format!("cy{i}@example.com"), &format!("cy{i}")))
                    .from(&ip_b, &ip_a),
            )
            .await;
        expect(&res, 201, "registration from another sourceIp");

        let res = auth
            .call(
                shape,
                Call::new("post-base64.json", "/auth/login")
                    .body(json!({"email": email, "password": PASSWORD})),
            )
            .await;
        let tokens = expect(&res, 200, "login with a base64 body");
        assert_eq!(
            res.headers.get("cache-control").map(String::as_str),
            Some("no-store")
        );
        let token = tokens["access_token"].as_str().expect("a token");

        let res = auth
            .call(shape, Call::new("cookies.json", "/auth/me").token(token))
            .await;
        assert_eq!(
            expect(&res, 200, "me with cookies")["email"],
            email.as_str()
        );

        let res = auth
            .call(shape, Call::new("get-path-query.json", "/openapi.yaml"))
            .await;
        assert_eq!(res.status, 200, "{}", res.raw);
        assert_eq!(
            res.headers.get("content-type").map(String::as_str),
            Some("application/yaml")
        );
        assert!(res.headers.contains_key("etag"));
        let spec = std::fs::read_to_string(workspace_root().join("openapi.yaml")).unwrap();
        assert_eq!(res.body, spec, "the document, as text");
    }
}

/// Path and query parameters, a repeated key, JSON and base64 bodies, cookies.
#[tokio::test]
async fn users_function_understands_every_shape() {
    let (app, env) = function_env(&[]).await;
    let (admin_id, token) = app.admin("root").await;
    let mut users = Function::start("userhub-users", "functions/users", &env).await;
    let audit = format!("/users/{admin_id}/audit");
    let list_local =
        local_answer(&app, &token, "/users?status=active&status=deleted&limit=5").await;
    for (i, shape) in SHAPES.into_iter().enumerate() {
        let res = users
            .call(
                shape,
                Call::new("get-path-query.json", &audit).token(&token),
            )
            .await;
        let page = expect(&res, 200, "audit page with limit=1");
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
        assert!(
            page["next_cursor"].is_string(),
            "limit=1 was applied: {page}"
        );
        assert!(res.headers.contains_key("link"), "{}", res.raw);

        // Both shapes carry both values; the answer is the local API's.
        let res = users
            .call(
                shape,
                Call::new("repeated-query.json", "/users").token(&token),
            )
            .await;
        assert_eq!(
            comparable(res.status, res.body.as_bytes()),
            list_local,
            "{shape:?}: a repeated key must mean what it means locally"
        );

        let res = users
            .call(
                shape,
                Call::new("post-json.json", "/users/search")
                    .token(&token)
                    .body(json!({"sort": "email", "limit": 2})),
            )
            .await;
        assert!(expect(&res, 200, "search")["items"].is_array());

        let email = format!("dee{i}@example.com");
        let res = users
            .call(
                shape,
                Call::new("post-base64.json", "/users").token(&token).body(
                    json!({"email": email, "username": format!("dee{i}"), "password": PASSWORD}),
                ),
            )
            .await;
        let user = expect(&res, 201, "create with a base64 body");
        assert_eq!(user["email"], email.as_str());
        assert_eq!(res.headers.get("etag").map(String::as_str), Some("\"1\""));

        let path = format!("/users/{}", user["id"].as_str().unwrap());
        let res = users
            .call(shape, Call::new("cookies.json", &path).token(&token))
            .await;
        assert_eq!(
            expect(&res, 200, "read with cookies")["email"],
            email.as_str()
        );
    }
}

/// The in-process local API's answer for the same request.
async fn local_answer(app: &TestApp, token: &str, uri: &str) -> (u16, Option<Value>) {
    let res = app.get(uri).bearer(token).send().await;
    comparable(res.status.as_u16(), &res.body)
}

/// Status and JSON body, less the request id, which differs by nature.
fn comparable(status: u16, body: &[u8]) -> (u16, Option<Value>) {
    let body = serde_json::from_slice::<Value>(body).ok().map(|mut b| {
        if let Some(o) = b.as_object_mut() {
            o.remove("request_id");
        }
        b
    });
    (status, body)
}

/// Exports through both shapes; imports (health only so far) too.
#[tokio::test]
async fn exports_and_imports_functions_understand_every_shape() {
    let (app, env) = function_env(&[]).await;
    let (_, token) = app.admin("root").await;
    let mut exports = Function::start("userhub-exports", "functions/exports", &env).await;
    let mut imports = Function::start("userhub-imports", "functions/imports", &env).await;
    for shape in SHAPES {
        let res = exports
            .call(
                shape,
                Call::new("post-base64.json", "/exports")
                    .token(&token)
                    .body(json!({"format": "csv", "fields": "minimal"})),
            )
            .await;
        let job = expect(&res, 202, "export with a base64 body");
        let location = format!("/exports/{}", job["id"].as_str().unwrap());
        assert_eq!(res.headers.get("location"), Some(&location));

        let res = exports
            .call(
                shape,
                Call::new("get-path-query.json", &location).token(&token),
            )
            .await;
        assert_eq!(expect(&res, 200, "read the export")["id"], job["id"]);

        let res = exports
            .call(
                shape,
                Call::new("post-json.json", "/exports")
                    .token(&token)
                    .body(json!({"format": "json", "fields": "minimal"})),
            )
            .await;
        expect(&res, 202, "export with a JSON body");

        let res = imports
            .call(shape, Call::new("cookies.json", "/health"))
            .await;
        assert_eq!(expect(&res, 200, "imports health")["status"], "ok");
    }
}
