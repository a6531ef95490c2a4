//! The end-to-end test harness: each test gets its own table and bucket on the shared
//! local stack (DynamoDB Local and the S3 emulator that `make test` starts), and talks to
//! the real routers in-process through real HTTP requests and responses.

pub mod flags;
pub mod lambda_emulator;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use userhub::config::Config;
use userhub::faults::Caller;
use userhub::{AppState, Ctx};

pub use serde_json::json;

/// A fresh table, bucket and secret; the API served from them.
pub struct TestApp {
    pub state: AppState,
    router: Router,
}

fn require_stack() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok()
            && std::env::var("AWS_ENDPOINT_URL_S3").is_ok()
            && std::env::var("AWS_ENDPOINT_URL_SESV2").is_ok(),
        "the local stack is not running: run the tests with `make test` \
         (or `python3 infra/stack.py run -- cargo nextest run`)"
    );
}

/// The SDK configuration tests use: the jobs worker's patient timeouts, not an HTTP
/// request's 3.5 s. Many test runs share one machine's cores, and a DynamoDB Local starved of
/// CPU can take seconds to answer; a test is about its own subject, not about that.
pub async fn sdk_config() -> aws_config::SdkConfig {
    userhub::app::load_sdk_config_for(Caller::Worker).await
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// The configuration of a fresh table (`t<tag>-...`), bucket (`b<tag>-...`) and secret, with
/// `overrides` after it: a later entry wins.
fn fresh_env(tag: &str, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let fresh = [
        ("TABLE_NAME", unique(&format!("t{tag}"))),
        ("BUCKET_NAME", unique(&format!("b{tag}"))),
        ("JWT_SECRET", secret),
        ("S3_FORCE_PATH_STYLE", "true".into()),
    ];
    fresh
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .collect()
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_env(&[]).await
    }

    /// A test app whose configuration has `overrides` on top of the test defaults.
    pub async fn with_env(overrides: &[(&str, &str)]) -> Self {
        Self::with_budget(Caller::Worker, overrides).await
    }

    /// A test app whose AWS clients have `caller`'s SDK timeouts and retries. Tests default
    /// to the worker's patient budget (`sdk_config`); the fault tests, which are about an
    /// HTTP request's budget, ask for `Caller::Interactive`.
    pub async fn with_budget(caller: Caller, overrides: &[(&str, &str)]) -> Self {
        let config = Self::config(overrides);
        let sdk = userhub::app::load_sdk_config_for(caller).await;
        let state = Ctx::new(config, &sdk);
        Self::provision(&state).await;
        Self::from_state(state)
    }

    pub fn config(overrides: &[(&str, &str)]) -> Config {
        require_stack();
        // Logs go to the test's captured output, shown when a test fails.
        userhub::telemetry::init();
        let vars = fresh_env("", overrides);
        Config::from_lookup(|key| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        })
        .expect("test configuration is valid")
    }

    /// Creates the table (from template.yaml) and the bucket this state points at.
    pub async fn provision(state: &AppState) {
        userhub_local_api::setup::ensure_table(state.store.client(), &state.config.table_name)
            .await
            .expect("create test table");
        userhub_local_api::setup::ensure_bucket(&state.s3, &state.config.bucket_name)
            .await
            .expect("create test bucket");
        state
            .mailer
            .verify_sender()
            .await
            .expect("verify the mail sender with moto's SES");
    }

    pub fn from_state(state: AppState) -> Self {
        let router = userhub_local_api::app(state.clone());
        Self { state, router }
    }

    pub fn request(&self, method: Method, path: &str) -> TestRequest<'_> {
        TestRequest {
            app: self,
            builder: Request::builder().method(method).uri(path),
            body: Body::empty(),
            peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
        }
    }

    pub fn get(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::POST, path)
    }

    pub fn patch(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::DELETE, path)
    }
}

#[must_use]
pub struct TestRequest<'a> {
    app: &'a TestApp,
    builder: axum::http::request::Builder,
    body: Body,
    peer: SocketAddr,
}

impl TestRequest<'_> {
    pub fn json(mut self, body: &Value) -> Self {
        self.builder = self
            .builder
            .header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(serde_json::to_vec(body).expect("json"));
        self
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<Body>) -> Self {
        self.builder = self.builder.header(header::CONTENT_TYPE, content_type);
        self.body = body.into();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// The socket address the request seems to come from (the client IP locally).
    pub fn from_ip(mut self, ip: [u8; 4]) -> Self {
        self.peer = SocketAddr::from((ip, 40000));
        self
    }

    pub async fn send(self) -> TestResponse {
        let mut req = self.builder.body(self.body).expect("valid test request");
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let res = self
            .app
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("router is infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        TestResponse {
            status,
            headers,
            body,
        }
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    }

    /// Asserts the status, printing the body when it differs; returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: &str) -> Value {
        let body = self.expect(status);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(body["code"], code, "body: {body}");
        assert_eq!(body["status"], status);
        assert!(
            body["request_id"].is_string(),
            "problem without request_id: {body}"
        );
        body
    }
}

/// A fresh table, bucket and secret for a function binary: the configuration to start it
/// with (on top of the stack's AWS_* environment), and a `TestApp` over the same table and
/// secret, to seed users and mint tokens the function accepts.
pub async fn function_env(overrides: &[(&str, &str)]) -> (TestApp, Vec<(String, String)>) {
    let env = fresh_env("-fn", overrides);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::with_env(&pairs).await;
    (app, env)
}

/// The configuration override that runs export and import jobs inside the request, as
/// `make dev` does, instead of leaving them to the stream.
pub const INLINE: (&str, &str) = ("RUN_JOBS_INLINE", "true");

/// The median of timing samples (the timing comparisons compare medians).
pub fn median(mut v: Vec<std::time::Duration>) -> std::time::Duration {
    v.sort();
    v[v.len() / 2]
}

/// How much an import may add to its process's peak RSS, whatever its rows: the memory the
/// functions that do no hashing get is 256 MB, and an import should fit in half of it even
/// though the jobs worker that runs it has 1,769 MB (for CPU). `bench_import` and the scale
/// tests hold it.
pub const IMPORT_RSS_BUDGET_KIB: u64 = 128 * 1024;

/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery staple";

static NEXT_IP: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// A client address no other request of this process used, so per-IP limits stay out of
/// tests that are not about them.
pub fn fresh_ip() -> [u8; 4] {
    let n = NEXT_IP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let [_, b, c, d] = n.to_be_bytes();
    [10, b, c, d]
}

impl TestApp {
    /// Registers a user through the API; returns the user resource.
    pub async fn register(&self, email: &str, username: &str) -> Value {
        self.post("/auth/register")
            .from_ip(fresh_ip())
            .json(&json!({"email": email, "username": username, "password": PASSWORD}))
            .send()
            .await
            .expect(201)
    }

    /// Logs in with `PASSWORD`; returns the token response.
    pub async fn login(&self, email: &str) -> Value {
        self.post("/auth/login")
            .from_ip(fresh_ip())
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect(200)
    }

    /// Registers and logs in a normal user; returns (user id, access token, refresh token).
    pub async fn user(&self, name: &str) -> (String, String, String) {
        let email = format!("{name}@example.com");
        let user = self.register(&email, name).await;
        let tokens = self.login(&email).await;
        (
            user["id"].as_str().unwrap().to_owned(),
            tokens["access_token"].as_str().unwrap().to_owned(),
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates an admin directly in the store and logs in; returns (id, access token).
    pub async fn admin(&self, name: &str) -> (String, String) {
        let email = format!("{name}@example.com");
        let input = userhub::domain::input::NewUserInput {
            email: Some(email.clone()),
            username: Some(name.to_owned()),
            password: Some(PASSWORD.to_owned()),
            is_admin: Some(true),
            email_verified: Some(true),
            ..Default::default()
        };
        let new = input.validate(true).expect("valid admin");
        let user = userhub::users::create(
            &self.state,
            new,
            userhub::domain::Actor::system(),
            "created",
            "test",
        )
        .await
        .expect("create admin");
        let tokens = self.login(&email).await;
        (
            user.id.to_string(),
            tokens["access_token"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates a user through POST /users as `admin` (no password: no argon2 cost); returns
    /// its id.
    pub async fn create_user(&self, admin: &str, name: &str) -> String {
        self.post("/users")
            .bearer(admin)
            .json(&json!({"email": format!("{name}@example.com"), "username": name, "display_name": format!("Name {name}")}))
            .send()
            .await
            .expect(201)["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An API key with these scopes, made by `admin`; returns the key (shown only here).
    pub async fn api_key(&self, admin: &str, scopes: &[&str]) -> String {
        self.post("/api-keys")
            .bearer(admin)
            .json(&json!({"name": "service", "scopes": scopes}))
            .send()
            .await
            .expect(201)["key"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// GET /stats/users as `admin`.
    pub async fn stats(&self, admin: &str) -> Value {
        self.get("/stats/users")
            .bearer(admin)
            .send()
            .await
            .expect(200)
    }

    /// Every item of the test's table (tests only: a Scan).
    pub async fn scan_all(
        &self,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let pages = self
            .state
            .store
            .client()
            .scan()
            .table_name(&self.state.config.table_name)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        pages.into_iter().map(|r| r.expect("scan")).collect()
    }
}

/// The `pk` of an item, for tests that count item kinds.
pub fn pk(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> String {
    item.get("pk")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// How many seed batches are written at once.
const SEED_CONCURRENCY: usize = 16;

/// The `i`th seed user: `user<i>@example.com` / `user<i>`, statuses and admin flags in a
/// fixed rotation (every 97th is soft-deleted), time-ordered creation, and `name` as its
/// display name (trimmed; blank for none).
pub fn seed_user(i: usize, name: Option<&str>) -> userhub::domain::User {
    use userhub::domain::{DisplayName, Email, Status, Timestamp, User, UserId, Username};
    let created = Timestamp::from_millis(1_767_225_600_000 + i as i64 * 1_000).expect("time");
    let status = match i % 97 {
        0 => Status::Deleted,
        n if n % 5 == 0 => Status::Inactive,
        _ => Status::Active,
    };
    User {
        id: UserId::new(),
        email: Email::parse(&format!("user{i}@example.com")).expect("seed email"),
        username: Username::parse(&format!("user{i}")).expect("seed username"),
        display_name: name.and_then(|n| DisplayName::parse(n).expect("seed name")),
        profile_picture_url: None,
        status,
        is_admin: i % 50 == 1,
        email_verified: i.is_multiple_of(3),
        created_at: created,
        updated_at: created.plus_secs(60),
        last_login_at: i.is_multiple_of(2).then(|| created.plus_secs(3600)),
        version: 1,
        authority: 1,
        password_hash: None,
    }
}

impl TestApp {
    /// Writes `users` straight into the table with parallel BatchWriteItem calls: profile
    /// items shaped like real ones, without reservations, counters or audit events.
    pub async fn seed(&self, users: &[userhub::domain::User]) {
        seed_users(&self.state.store, users).await;
    }
}

/// `Store::seed_users` over chunks written concurrently.
pub async fn seed_users(store: &userhub::store::Store, users: &[userhub::domain::User]) {
    use futures::StreamExt;
    futures::stream::iter(users.chunks(25))
        .map(|chunk| store.seed_users(chunk))
        .buffer_unordered(SEED_CONCURRENCY)
        .for_each(|r| async move { r.expect("seed users") })
        .await;
}

/// A plain HTTP GET, as a client downloading a presigned link does.
pub async fn download(url: &str) -> (u16, HeaderMap, Bytes) {
    let res = reqwest::get(url).await.expect("download request");
    let status = res.status().as_u16();
    let mut headers = HeaderMap::new();
    for (name, value) in res.headers() {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.insert(n, v);
        }
    }
    let body = res.bytes().await.expect("download body");
    (status, headers, body)
}

impl TestApp {
    /// Polls GET /exports/{id} until the export has ended; returns it.
    pub async fn wait_for_export(&self, token: &str, id: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let export = self
                .get(&format!("/exports/{id}"))
                .bearer(token)
                .send()
                .await
                .expect(200);
            if export["status"] == "succeeded" || export["status"] == "failed" {
                return export;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "export {id} still {}",
                export["status"]
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Every object key in the test's bucket under `prefix`.
    pub async fn object_keys(&self, prefix: &str) -> Vec<String> {
        let out = self
            .state
            .s3
            .list_objects_v2()
            .bucket(&self.state.config.bucket_name)
            .prefix(prefix)
            .send()
            .await
            .expect("list objects");
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }

    /// Multipart uploads started in the test's bucket and neither completed nor aborted.
    pub async fn open_uploads(&self) -> usize {
        let out = self
            .state
            .s3
            .list_multipart_uploads()
            .bucket(&self.state.config.bucket_name)
            .send()
            .await
            .expect("list multipart uploads");
        out.uploads().len()
    }
}

/// An address no other test uses: tests share one moto, so mail is told apart by recipient.
pub fn unique_email(name: &str) -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    format!("{name}-{}@example.com", &id[id.len() - 12..])
}

/// One mail moto's SES accepted: subject, recipients and body (the HTML part when there is
/// one, as moto keeps it).
#[derive(Debug, Clone)]
pub struct SentMail {
    pub subject: String,
    pub to: Vec<String>,
    pub body: String,
}

impl SentMail {
    /// The token of the first `<page>?token=` link in the mail.
    #[track_caller]
    pub fn token(&self, page: &str) -> String {
        let marker = format!("/{page}?token=");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {page} link in {}", self.body))
            + marker.len();
        self.body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

/// Polls `check` until it gives `Some`, for up to 10 s (`None` then): for what a request
/// finishes after it answered, such as the link forgot-password may still be sending.
pub async fn eventually<T, F, Fut>(mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The mail sent to `to` once there are at least `count` (what there is after 10 s if not).
pub async fn mail_once_sent(to: &str, count: usize) -> Vec<SentMail> {
    match eventually(|| async { Some(sent_mail(to).await).filter(|m| m.len() >= count) }).await {
        Some(mail) => mail,
        None => sent_mail(to).await,
    }
}

/// Every mail sent to `to` so far, oldest first, read from moto's `/moto-api/data.json`.
/// Other flows send before their request answers, so a mail is there once its request
/// returned.
pub async fn sent_mail(to: &str) -> Vec<SentMail> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SESV2").expect("the local stack sets SES");
    let raw = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .expect("moto data")
        .bytes()
        .await
        .expect("moto data body");
    let data: Value = serde_json::from_slice(&raw).unwrap_or_else(|e| {
        let start = String::from_utf8_lossy(&raw[..raw.len().min(300)]).into_owned();
        panic!("moto's data.json is not JSON ({e}): {start}")
    });
    data["ses"]["Message"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|m| SentMail {
            subject: m["subject"].as_str().unwrap_or_default().to_owned(),
            to: m["destinations"]["ToAddresses"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            body: m["body"].as_str().unwrap_or_default().to_owned(),
        })
        .filter(|m| m.to.iter().any(|a| a == to))
        .collect()
}

/// The one mail sent to `to` since `before` mails, with this subject.
#[track_caller]
pub fn only_new(mails: &[SentMail], before: usize, subject: &str) -> SentMail {
    let new = &mails[before..];
    assert_eq!(new.len(), 1, "expected one new mail, got {new:?}");
    assert_eq!(new[0].subject, subject);
    new[0].clone()
}

/// Peak resident set size of this process, from the kernel (KiB), for the benchmarks.
pub fn peak_rss_kib() -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/self/status".into())
}
