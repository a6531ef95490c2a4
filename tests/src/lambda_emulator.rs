//! Running the real function binaries under a Lambda emulator, for the smoke tests
//! (`tests/lambda_smoke.rs`) and the cold-start bench (`src/bin/bench.rs`).
//!
//! - [`RuntimeApi`]: our minimal AWS Lambda Runtime API (the `2018-06-01` interface a
//!   custom runtime such as `lambda_runtime` talks to): `GET /runtime/invocation/next` (a
//!   long poll handing out one queued event with the `Lambda-Runtime-*` headers), `POST
//!   /runtime/invocation/{id}/response`, `POST /runtime/invocation/{id}/error` and `POST
//!   /runtime/init/error`. It records when the process first asks for work: on Lambda, init
//!   (the cold start) is over once the runtime polls `next`.
//! - [`CargoLambdaWatch`]: `cargo lambda watch --only-lambda-apis`, cargo-lambda's emulator
//!   of the Lambda control plane and runtime API, for the smoke tests.
//! - [`LambdaProcess`]: a built function binary started against either one with the
//!   environment Lambda gives a function, its output captured, killed on drop.
//! - [`built_binary`]: where cargo put a binary, refusing a missing or stale one.
//! - Events shaped like AWS's: [`apigw_v2_request`] (HTTP API, payload format 2.0) and
//!   [`eventbridge_scheduled_event`]; [`HttpResponse`] parses `lambda_http`'s answer.
//!
//! ```ignore
//! let bin = built_binary("userhub-auth", "functions/auth")?;
//! let mut f = LambdaProcess::spawn(&bin, "userhub-auth", &env).await?;
//! let cold_start = f.wait_ready(Duration::from_secs(30)).await?;
//! let out = f.invoke(&apigw_v2_get("/health", "req-1"), Duration::from_secs(30)).await?;
//! let res = HttpResponse::parse(&out)?;
//! ```

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};

const API: &str = "/2018-06-01/runtime";
pub const REGION: &str = "us-east-1";
pub const ACCOUNT_ID: &str = "123456789012";

/// What the function answered for one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `POST .../{id}/response`: the raw response payload.
    Response(Bytes),
    /// `POST .../{id}/error`: the error type header and the error document.
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
}

impl Outcome {
    /// The response payload as JSON; an `Err` describing the outcome otherwise.
    pub fn json(&self) -> Result<Value, EmulatorError> {
        match self {
            Outcome::Response(body) => serde_json::from_slice(body).map_err(|e| {
                EmulatorError::Protocol(format!(
                    "response is not JSON ({e}): {}",
                    String::from_utf8_lossy(body)
                ))
            }),
            Outcome::Error { error_type, body } => Err(EmulatorError::FunctionError(format!(
                "{}: {}",
                error_type.as_deref().unwrap_or("(no error type)"),
                String::from_utf8_lossy(body)
            ))),
        }
    }
}

#[derive(Debug)]
pub enum EmulatorError {
    Io(std::io::Error),
    /// The binary exited (status, last output).
    Exited(String),
    /// The function reported `/runtime/init/error`.
    InitError(String),
    /// The function answered the invocation through `/error`.
    FunctionError(String),
    Timeout(String),
    Protocol(String),
    BinaryMissing(String),
}

impl fmt::Display for EmulatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmulatorError::Io(e) => write!(f, "i/o error: {e}"),
            EmulatorError::Exited(s) => write!(f, "the function process exited: {s}"),
            EmulatorError::InitError(s) => write!(f, "the function reported an init error: {s}"),
            EmulatorError::FunctionError(s) => write!(f, "the invocation failed: {s}"),
            EmulatorError::Timeout(s) => write!(f, "timed out: {s}"),
            EmulatorError::Protocol(s) => write!(f, "runtime API protocol error: {s}"),
            EmulatorError::BinaryMissing(s) => write!(f, "{s}"),
        }
    }
}

impl std::error::Error for EmulatorError {}

impl From<std::io::Error> for EmulatorError {
    fn from(e: std::io::Error) -> Self {
        EmulatorError::Io(e)
    }
}

struct Queued {
    request_id: String,
    deadline_ms: u64,
    payload: Bytes,
}

#[derive(Debug, Clone, Default)]
struct Lifecycle {
    /// When `GET /invocation/next` was first called.
    first_poll: Option<Instant>,
    init_error: Option<String>,
}

struct Shared {
    function_arn: String,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    lifecycle: watch::Sender<Lifecycle>,
}

/// The runtime API server, on 127.0.0.1 and a free port, for one function.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Queued>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub async fn start(function_name: &str) -> Result<Self, EmulatorError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_arn: function_arn(function_name),
            queue: tokio::sync::Mutex::new(rx),
            pending: Mutex::new(HashMap::new()),
            lifecycle: watch::channel(Lifecycle::default()).0,
        });
        let app = Router::new()
            .route(&format!("{API}/invocation/next"), get(next))
            .route(&format!("{API}/invocation/{{id}}/response"), post(response))
            .route(&format!("{API}/invocation/{{id}}/error"), post(error))
            .route(&format!("{API}/init/error"), post(init_error))
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    "not part of this runtime API emulator",
                )
            })
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            shared,
            queue: tx,
            server,
        })
    }

    /// The `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    pub fn function_arn(&self) -> &str {
        &self.shared.function_arn
    }

    /// When the function first asked for work, if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.lifecycle.borrow().first_poll
    }

    pub fn init_error(&self) -> Option<String> {
        self.shared.lifecycle.borrow().init_error.clone()
    }

    /// Queues one event; the receiver resolves with the function's answer.
    pub fn enqueue(
        &self,
        payload: &Value,
        timeout: Duration,
    ) -> (String, oneshot::Receiver<Outcome>) {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        self.shared
            .pending
            .lock()
            .unwrap()
            .insert(request_id.clone(), tx);
        let deadline_ms = epoch_ms() + timeout.as_millis() as u64;
        let payload = Bytes::from(serde_json::to_vec(payload).expect("event serialises"));
        // The receiver lives as long as `self`.
        let _ = self.queue.send(Queued {
            request_id: request_id.clone(),
            deadline_ms,
            payload,
        });
        (request_id, rx)
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

pub fn function_arn(function_name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}")
}

/// An X-Ray trace header shaped like Lambda's:
/// `Root=1-<epoch seconds, 8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
fn trace_id() -> String {
    let secs = epoch_ms() / 1000;
    let r = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        &r[..24],
        &parent[..16]
    )
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let now = Instant::now();
    shared.lifecycle.send_if_modified(|l| {
        if l.first_poll.is_none() {
            l.first_poll = Some(now);
            true
        } else {
            false
        }
    });
    // A long poll, like Lambda's: answered when an event is queued. If the function goes
    // away meanwhile, this future is dropped; mpsc::recv loses nothing when cancelled.
    let queued = {
        let mut queue = shared.queue.lock().await;
        match queue.recv().await {
            Some(q) => q,
            None => return (StatusCode::GONE, "emulator stopped").into_response(),
        }
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        headers.insert(name, HeaderValue::from_str(value).expect("header value"));
    };
    set("lambda-runtime-aws-request-id", &queued.request_id);
    set(
        "lambda-runtime-deadline-ms",
        &queued.deadline_ms.to_string(),
    );
    set("lambda-runtime-invoked-function-arn", &shared.function_arn);
    set("lambda-runtime-trace-id", &trace_id());
    set("content-type", "application/json");
    (StatusCode::OK, headers, queued.payload).into_response()
}

fn complete(shared: &Shared, id: &str, outcome: Outcome) -> Response {
    match shared.pending.lock().unwrap().remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"errorMessage": format!("unknown request id {id}"), "errorType": "InvalidRequestID"})),
        )
            .into_response(),
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    complete(&shared, &id, Outcome::Response(body))
}

async fn error(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    complete(&shared, &id, Outcome::Error { error_type, body })
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(no error type)");
    let msg = format!("{kind}: {}", String::from_utf8_lossy(&body));
    shared.lifecycle.send_modify(|l| l.init_error = Some(msg));
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

// ------------------------------------------------------------------- the process

/// Output kept per process (the tail, if a chatty function exceeds it).
const LOG_CAP: usize = 1 << 20;

#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl LogBuf {
    fn drain_from(&self, mut pipe: impl Read + Send + 'static) {
        let buf = self.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut b = buf.0.lock().unwrap();
                b.extend_from_slice(&chunk[..n]);
                if b.len() > LOG_CAP {
                    let cut = b.len() - LOG_CAP / 2;
                    b.drain(..cut);
                }
            }
        });
    }
}

/// A real function binary running against a runtime API (its own [`RuntimeApi`], or
/// another emulator's), killed on drop. Should the caller die without dropping it, the
/// function still ends: its long poll fails once the emulator's socket is gone, and
/// `lambda_runtime` exits on that error. (No `pre_exec` hook here: it would turn the
/// spawn into a full fork and add to the cold starts being measured.)
pub struct LambdaProcess {
    /// The emulator this process polls, when it is ours.
    pub api: Option<RuntimeApi>,
    pub name: String,
    child: Child,
    spawned_at: Instant,
    logs: LogBuf,
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment variables passed through from the caller (the local stack's endpoints and
/// credentials among them); everything else the function sees is set explicitly, as on
/// Lambda, where the environment is the function configuration plus the runtime's own.
/// (Not SSL_CERT_FILE/SSL_CERT_DIR: Lambda sets neither, and a certificate directory
/// makes the SDK's TLS set-up read every file in it at start-up.)
fn passthrough(key: &str) -> bool {
    (key.starts_with("AWS_") && !key.starts_with("AWS_LAMBDA_"))
        || matches!(
            key,
            "PATH" | "HOME" | "RUST_LOG" | "RUST_BACKTRACE" | "NO_PROXY" | "no_proxy"
        )
}

impl LambdaProcess {
    /// Starts a runtime API and execs `binary` against it as function `name`, with the
    /// caller's AWS_* environment plus `env` (the function configuration).
    pub async fn spawn(
        binary: &Path,
        name: &str,
        env: &[(String, String)],
    ) -> Result<Self, EmulatorError> {
        Self::spawn_with_args(binary, &[], name, env).await
    }

    /// [`spawn`](Self::spawn) for a program that takes arguments, such as an interpreter
    /// and its handler script (the bench's Python peer).
    pub async fn spawn_with_args(
        program: &Path,
        args: &[&str],
        name: &str,
        env: &[(String, String)],
    ) -> Result<Self, EmulatorError> {
        let api = RuntimeApi::start(name).await?;
        let mut process = Self::exec(program, args, name, &api.address(), env)?;
        process.api = Some(api);
        Ok(process)
    }

    /// Execs `binary` as function `name` against the runtime API at `runtime_api` (the
    /// value of `AWS_LAMBDA_RUNTIME_API`: `host:port`, or a URL with a base path).
    pub fn spawn_against(
        binary: &Path,
        name: &str,
        runtime_api: &str,
        env: &[(String, String)],
    ) -> Result<Self, EmulatorError> {
        Self::exec(binary, &[], name, runtime_api, env)
    }

    fn exec(
        binary: &Path,
        args: &[&str],
        name: &str,
        runtime_api: &str,
        env: &[(String, String)],
    ) -> Result<Self, EmulatorError> {
        let mut cmd = Command::new(binary);
        cmd.args(args)
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| passthrough(k)))
            .env(
                "AWS_REGION",
                std::env::var("AWS_REGION").unwrap_or_else(|_| REGION.into()),
            )
            .env(
                "AWS_DEFAULT_REGION",
                std::env::var("AWS_REGION").unwrap_or_else(|_| REGION.into()),
            )
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("2025/01/01/[$LATEST]{}", uuid::Uuid::new_v4().simple()),
            )
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("_HANDLER", "bootstrap")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawned_at = Instant::now();
        let mut child = cmd.spawn().map_err(|e| {
            EmulatorError::Io(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", binary.display()),
            ))
        })?;
        let logs = LogBuf::default();
        if let Some(out) = child.stdout.take() {
            logs.drain_from(out);
        }
        if let Some(err) = child.stderr.take() {
            logs.drain_from(err);
        }
        Ok(Self {
            api: None,
            name: name.to_owned(),
            child,
            spawned_at,
            logs,
        })
    }

    fn own_api(&self) -> Result<&RuntimeApi, EmulatorError> {
        self.api.as_ref().ok_or_else(|| {
            EmulatorError::Protocol("this process runs against another runtime API".into())
        })
    }

    /// The function's process id (for its memory use in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        String::from_utf8_lossy(&self.logs.0.lock().unwrap()).into_owned()
    }

    fn exited(&mut self) -> Option<EmulatorError> {
        match self.child.try_wait() {
            Ok(Some(status)) => {
                // Give the pipe readers a moment to collect the last words.
                std::thread::sleep(Duration::from_millis(50));
                Some(EmulatorError::Exited(format!(
                    "{status}; output:\n{}",
                    self.logs()
                )))
            }
            Ok(None) => None,
            Err(e) => Some(EmulatorError::Io(e)),
        }
    }

    /// Runs `fut` while watching the process: fails early if it exits or reports an
    /// init error (to our emulator), and after `timeout`.
    pub async fn watched<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, EmulatorError>>,
    ) -> Result<T, EmulatorError> {
        tokio::pin!(fut);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut tick = tokio::time::interval(Duration::from_millis(25));
        loop {
            tokio::select! {
                r = &mut fut => return r,
                _ = tick.tick() => {
                    if let Some(e) = self.api.as_ref().and_then(RuntimeApi::init_error) {
                        return Err(EmulatorError::InitError(format!("{e}; output:\n{}", self.logs())));
                    }
                    if let Some(e) = self.exited() {
                        return Err(e);
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err(EmulatorError::Timeout(format!(
                            "{what} after {timeout:?}; output so far:\n{}", self.logs()
                        )));
                    }
                }
            }
        }
    }

    /// Waits until the function first asks for work; returns the cold start (from just
    /// before the exec to that request).
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration, EmulatorError> {
        let spawned_at = self.spawned_at;
        let mut rx = self.own_api()?.shared.lifecycle.subscribe();
        let fut = async move {
            let l = rx
                .wait_for(|l| l.first_poll.is_some() || l.init_error.is_some())
                .await
                .map_err(|_| EmulatorError::Protocol("runtime API stopped".into()))?
                .clone();
            Ok(l)
        };
        let l = self
            .watched(timeout, "waiting for the first /invocation/next", fut)
            .await?;
        if let Some(e) = l.init_error {
            return Err(EmulatorError::InitError(format!(
                "{e}; output:\n{}",
                self.logs()
            )));
        }
        Ok(l.first_poll.expect("polled") - spawned_at)
    }

    /// Sends one event and waits for the function's answer.
    pub async fn invoke(
        &mut self,
        payload: &Value,
        timeout: Duration,
    ) -> Result<Outcome, EmulatorError> {
        let (id, rx) = self.own_api()?.enqueue(payload, timeout);
        let fut = async move {
            rx.await
                .map_err(|_| EmulatorError::Protocol(format!("invocation {id} was dropped")))
        };
        self.watched(timeout, "waiting for the invocation's response", fut)
            .await
    }
}

// ------------------------------------------------------------ cargo lambda watch

/// `cargo lambda watch --only-lambda-apis` on 127.0.0.1 and a free port: cargo-lambda's
/// Lambda emulator (its invoke API, function URLs and runtime API) without letting it
/// build or start anything. Functions are the already built binaries, started with
/// [`LambdaProcess::spawn_against`]`(.., &watch.runtime_api(name), ..)`; the plain `watch`
/// mode would `cargo run` each one instead, rebuilding under cargo's lock mid-test.
///
/// The process stays in the caller's process group (a test runner that kills the test's
/// group takes it along), dies with the thread that started it (`PR_SET_PDEATHSIG`), and
/// is killed on drop.
pub struct CargoLambdaWatch {
    child: Child,
    port: u16,
    logs: LogBuf,
    client: HttpClient,
}

impl Drop for CargoLambdaWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type HttpClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<Bytes>,
>;

/// A plain HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

impl CargoLambdaWatch {
    /// How long an invoke request waits for the function (cargo lambda's `--timeout`).
    pub const INVOKE_TIMEOUT_SECS: u64 = 60;

    pub async fn start() -> Result<Self, EmulatorError> {
        let mut last = None;
        // The free port is released before cargo-lambda binds it: retry on a lost race.
        for _ in 0..3 {
            match Self::start_on(free_port()?).await {
                Ok(w) => return Ok(w),
                Err(e @ EmulatorError::Exited(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("tried"))
    }

    async fn start_on(port: u16) -> Result<Self, EmulatorError> {
        let mut cmd = Command::new("cargo-lambda");
        cmd.args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .args(["--timeout", &Self::INVOKE_TIMEOUT_SECS.to_string()])
        .current_dir(workspace_root())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                EmulatorError::BinaryMissing(
                    "cargo-lambda is not on PATH: run the tests through the local stack \
                     (`make test`, or `python3 infra/stack.py run -- cargo nextest run ...`), \
                     which installs it into .local/venv/bin"
                        .into(),
                )
            } else {
                EmulatorError::Io(e)
            }
        })?;
        let logs = LogBuf::default();
        if let Some(out) = child.stdout.take() {
            logs.drain_from(out);
        }
        if let Some(err) = child.stderr.take() {
            logs.drain_from(err);
        }
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let mut watch = Self {
            child,
            port,
            logs,
            client,
        };
        watch.wait_listening(Duration::from_secs(30)).await?;
        Ok(watch)
    }

    async fn wait_listening(&mut self, timeout: Duration) -> Result<(), EmulatorError> {
        let deadline = Instant::now() + timeout;
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(50));
                return Err(EmulatorError::Exited(format!(
                    "cargo lambda watch ({status}); output:\n{}",
                    self.logs()
                )));
            }
            if Instant::now() >= deadline {
                return Err(EmulatorError::Timeout(format!(
                    "cargo lambda watch did not listen on 127.0.0.1:{} within {timeout:?}; output:\n{}",
                    self.port,
                    self.logs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn logs(&self) -> String {
        String::from_utf8_lossy(&self.logs.0.lock().unwrap()).into_owned()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `AWS_LAMBDA_RUNTIME_API` for function `name` (cargo-lambda's per-function runtime
    /// API lives under `/.rt/<name>`).
    pub fn runtime_api(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/.rt/{name}", self.port)
    }

    /// `POST /2015-03-31/functions/<name>/invocations`, the Lambda Invoke API that `cargo
    /// lambda invoke` calls, with `payload` as the event verbatim.
    pub async fn invoke(&self, name: &str, payload: &Value) -> Result<Answer, EmulatorError> {
        let body = Bytes::from(serde_json::to_vec(payload).expect("event serialises"));
        self.send(
            "POST",
            &format!("/2015-03-31/functions/{name}/invocations"),
            body,
        )
        .await
    }

    /// `GET <path>` on the invoke server, e.g. a function URL: `/lambda-url/<name>/health`.
    pub async fn get(&self, path: &str) -> Result<Answer, EmulatorError> {
        self.send("GET", path, Bytes::new()).await
    }

    async fn send(&self, method: &str, path: &str, body: Bytes) -> Result<Answer, EmulatorError> {
        use http_body_util::BodyExt;
        let req = axum::http::Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:{}{path}", self.port))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(body))
            .map_err(|e| EmulatorError::Protocol(e.to_string()))?;
        let res = self
            .client
            .request(req)
            .await
            .map_err(|e| EmulatorError::Protocol(format!("{method} {path}: {e}")))?;
        let (parts, body) = res.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| {
                EmulatorError::Protocol(format!("{method} {path}: reading the body: {e}"))
            })?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// Asks the kernel to SIGKILL the child when the thread that spawned it ends (Linux).
fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
}

// ---------------------------------------------------------------------- binaries

/// The directory cargo put this executable's profile artifacts in (`target/<profile>`):
/// test executables live in `target/<profile>/deps`, binaries in `target/<profile>`.
/// `USERHUB_LAMBDA_BIN_DIR` overrides it.
pub fn artifact_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("USERHUB_LAMBDA_BIN_DIR") {
        return PathBuf::from(dir);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let dir = if dir.file_name().is_some_and(|n| n == "deps") {
                dir.parent().unwrap_or(dir)
            } else {
                dir
            };
            return dir.to_path_buf();
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join(if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    })
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The newest modification time among the `.rs` files under `dir` (recursively), leaving
/// out the directory `skip`.
fn newest_source(dir: &Path, skip: Option<&Path>) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                if skip != Some(e.path().as_path()) {
                    stack.push(e.path());
                }
            } else if e.path().extension().is_some_and(|x| x == "rs") {
                if let Ok(m) = meta.modified() {
                    newest = newest.max(Some(m));
                }
            }
        }
    }
    newest
}

/// The path of the already built binary `name` (a bin target of the package in
/// `package_dir`, relative to the workspace root), refusing a missing binary or one
/// older than its sources: the smoke tests must exercise what the sources say, and
/// building from inside a test would fight over cargo's build lock.
pub fn built_binary(name: &str, package_dir: &str) -> Result<PathBuf, EmulatorError> {
    let dir = artifact_dir();
    let path = dir.join(name);
    let profile = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
        .to_owned();
    let build = match profile.as_str() {
        "release" => "cargo build --release --workspace --bins",
        _ => "cargo build --workspace --bins",
    };
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .map_err(|_| {
            EmulatorError::BinaryMissing(format!(
                "{} is not built; run `{build}` first (`make test` / `make bench` do)",
                path.display()
            ))
        })?;
    // Only the Rust sources the binary is built from: cargo rebuilds whenever one of
    // them is newer than the output, so a fresh build always passes this check (a
    // Cargo.lock or manifest edit may not rebuild anything, so those are not compared).
    // Another binary's file under `src/bin/` does not rebuild this one.
    let root = workspace_root();
    let src = root.join(package_dir).join("src");
    let bins = src.join("bin");
    let newest = [
        newest_source(&root.join("shared/src"), None),
        newest_source(&src, Some(&bins)),
        newest_source(&bins.join(name), None),
        std::fs::metadata(bins.join(format!("{name}.rs")))
            .and_then(|m| m.modified())
            .ok(),
    ]
    .into_iter()
    .flatten()
    .max();
    if let Some(src) = newest {
        if src > built {
            return Err(EmulatorError::BinaryMissing(format!(
                "{} is older than its sources; run `{build}` first (`make test` / `make bench` do)",
                path.display()
            )));
        }
    }
    Ok(path)
}

// ------------------------------------------------------------------------ events

/// An API Gateway HTTP API (payload format 2.0) event for a bodiless request, shaped like
/// the ones API Gateway sends: `request_id` becomes `requestContext.requestId`.
pub fn apigw_v2_request(
    method: &str,
    path: &str,
    route_key: &str,
    request_id: &str,
    source_ip: &str,
) -> Value {
    let api_id = "a1b2c3d4e5";
    let domain = format!("{api_id}.execute-api.{REGION}.amazonaws.com");
    let now_ms = epoch_ms();
    let user_agent = "curl/8.5.0";
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "*/*",
            "content-length": "0",
            "host": domain,
            "user-agent": user_agent,
            "x-amzn-trace-id": format!("Root=1-{:08x}-{}", now_ms / 1000, &uuid::Uuid::new_v4().simple().to_string()[..24]),
            "x-forwarded-for": source_ip,
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": api_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": user_agent
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": httpdate_like(now_ms / 1000),
            "timeEpoch": now_ms
        },
        "isBase64Encoded": false
    })
}

/// `GET <path>` through the HTTP API, routed as `GET <path>`.
pub fn apigw_v2_get(path: &str, request_id: &str) -> Value {
    apigw_v2_request(
        "GET",
        path,
        &format!("GET {path}"),
        request_id,
        "203.0.113.7",
    )
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// (year, month 1-12, day, hour, minute, second) of a Unix time, in UTC.
fn civil(secs: u64) -> (i64, usize, u64, u64, u64, u64) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as usize;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// API Gateway's `requestContext.time` format: `10/Mar/2024:12:34:56 +0000`.
fn httpdate_like(secs: u64) -> String {
    let (y, m, d, h, mi, s) = civil(secs);
    format!("{d:02}/{}/{y}:{h:02}:{mi:02}:{s:02} +0000", MONTHS[m - 1])
}

/// EventBridge's `time` format: `2024-03-10T12:34:56Z`.
fn iso8601(secs: u64) -> String {
    let (y, m, d, h, mi, s) = civil(secs);
    format!("{y}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// An API Gateway v2 proxy response as `lambda_http` writes it.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
    pub raw: Value,
}

impl HttpResponse {
    pub fn parse(outcome: &Outcome) -> Result<Self, EmulatorError> {
        let raw = outcome.json()?;
        let status = raw["statusCode"]
            .as_u64()
            .ok_or_else(|| EmulatorError::Protocol(format!("no statusCode in {raw}")))?
            as u16;
        let mut headers = HashMap::new();
        if let Some(map) = raw["multiValueHeaders"].as_object() {
            for (k, v) in map {
                if let Some(first) = v.as_array().and_then(|a| a.first()).and_then(Value::as_str) {
                    headers.insert(k.to_ascii_lowercase(), first.to_owned());
                }
            }
        }
        if let Some(map) = raw["headers"].as_object() {
            for (k, v) in map {
                if let Some(v) = v.as_str() {
                    headers.insert(k.to_ascii_lowercase(), v.to_owned());
                }
            }
        }
        let body = match raw["body"].as_str() {
            None => String::new(),
            Some(b) if raw["isBase64Encoded"] == true => {
                return Err(EmulatorError::Protocol(format!(
                    "unexpected base64 body: {b}"
                )))
            }
            Some(b) => b.to_owned(),
        };
        Ok(Self {
            status,
            headers,
            body,
            raw,
        })
    }

    pub fn json(&self) -> Result<Value, EmulatorError> {
        serde_json::from_str(&self.body)
            .map_err(|e| EmulatorError::Protocol(format!("body is not JSON ({e}): {}", self.body)))
    }
}

/// An EventBridge scheduled-rule event, as a `rate(...)`/`cron(...)` rule delivers it.
pub fn eventbridge_scheduled_event(rule_name: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": iso8601(epoch_ms() / 1000),
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}")],
        "detail": {}
    })
}

/// An API Gateway event from `tests/fixtures/<name>` (copies of AWS's published samples,
/// see `tests/fixtures/README.md`), with each `${KEY}` replaced by its value. A header
/// left empty is dropped: API Gateway never sends an empty one.
pub fn fixture_event(name: &str, vars: &[(&str, &str)]) -> Value {
    let path = workspace_root().join("tests/fixtures").join(name);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (key, value) in vars {
        let quoted = serde_json::to_string(value).expect("a string serialises");
        text = text.replace(&format!("${{{key}}}"), &quoted[1..quoted.len() - 1]);
    }
    assert!(
        !text.contains("${"),
        "{name}: a placeholder is left: {text}"
    );
    let mut event: Value = serde_json::from_str(&text).expect("fixture is JSON");
    for map in ["headers", "multiValueHeaders"] {
        if let Some(headers) = event[map].as_object_mut() {
            headers.retain(|_, v| v != "" && *v != json!([""]));
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn another_binarys_newer_file_is_not_a_source() {
        let dir = std::env::temp_dir().join(format!("userhub-sources-{}", std::process::id()));
        let bins = dir.join("bin");
        std::fs::create_dir_all(&bins).unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        for (file, when) in [
            (dir.join("lib.rs"), old),
            (bins.join("other.rs"), SystemTime::now()),
        ] {
            std::fs::write(&file, "").unwrap();
            std::fs::File::options()
                .write(true)
                .open(&file)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
        assert_eq!(newest_source(&dir, Some(&bins)), Some(old));
        assert!(newest_source(&dir, None) > Some(old));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
