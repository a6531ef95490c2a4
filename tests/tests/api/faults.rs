//! Faults against the real local stack: DynamoDB Local and then moto are paused (SIGSTOP),
//! requests must answer 503 `unavailable` with `Retry-After` within 5 s (never a 500, never
//! a 30 s wait), and after SIGCONT everything works again without a restart and the table
//! checks consistent.
//!
//! Pausing a process of the shared stack stalls every other test that uses it, so this
//! binary's test runs alone under nextest (`.config/nextest.toml`), and under plain
//! `cargo test` it is its own binary, which cargo runs after the others.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::future::join_all;
use userhub::faults::Caller;
use userhub_tests::{fresh_ip, json, TestApp, TestResponse, PASSWORD};

/// The promise: an interactive request answers within this, whatever a dependency does.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// A stack process stopped with SIGSTOP until this guard drops (also when the test fails).
/// A watchdog resumes it anyway if this test process dies before it can.
struct Paused {
    pid: String,
    watchdog: Child,
}

impl Paused {
    fn new(pid_var: &str) -> Self {
        let pid = std::env::var(pid_var)
            .unwrap_or_else(|_| panic!("{pid_var} is not set: run under infra/stack.py"));
        assert!(pid.chars().all(|c| c.is_ascii_digit()), "bad pid {pid:?}");
        let watchdog = Command::new("sh")
            .args(["-c", &format!("sleep 120; kill -CONT {pid}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start the watchdog");
        signal("-STOP", &pid);
        Self { pid, watchdog }
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        // No assert here: a panic while unwinding would abort before the rest of this.
        let _ = Command::new("kill").args(["-CONT", &self.pid]).status();
        // The watchdog's group: its shell and the sleep it runs.
        let group = format!("-{}", self.watchdog.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.watchdog.wait();
    }
}

fn signal(which: &str, pid: &str) {
    let status = Command::new("kill")
        .args([which, pid])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {which} {pid} failed");
}

/// Sends a request, returning its answer and how long it took.
async fn timed(req: userhub_tests::TestRequest<'_>) -> (TestResponse, Duration) {
    let started = Instant::now();
    let res = req.send().await;
    (res, started.elapsed())
}

#[track_caller]
fn assert_unavailable(what: &str, (res, took): &(TestResponse, Duration)) {
    eprintln!("{what}: {} in {took:?}", res.status);
    assert!(
        *took < ANSWER_WITHIN,
        "{what} took {took:?} with a dependency paused"
    );
    res.expect_problem(503, "unavailable");
    let retry: u64 = res
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: 503 without Retry-After"))
        .parse()
        .expect("Retry-After is seconds");
    assert!(retry >= 1, "{what}: Retry-After {retry}");
}

#[track_caller]
fn assert_answered(what: &str, status: u16, (res, took): &(TestResponse, Duration)) {
    eprintln!("{what}: {} in {took:?}", res.status);
    assert!(*took < ANSWER_WITHIN, "{what} took {took:?}");
    res.expect(status);
}

#[tokio::test]
async fn paused_dependencies_give_fast_503s_and_everything_recovers() {
    // The clients an HTTP function has: the budget under test.
    let app = TestApp::with_budget(Caller::Interactive, &[]).await;
    let (_, admin) = app.admin("root").await;
    let (ann_id, ann, _) = app.user("ann").await;
    let login = || {
        app.post("/auth/login")
            .from_ip(fresh_ip())
            .json(&json!({"email": "ann@example.com", "password": PASSWORD}))
    };
    let register = |name: &str| {
        app.post("/auth/register")
            .from_ip(fresh_ip())
            .json(&json!({"email": format!("{name}@example.com"), "username": name, "password": PASSWORD}))
    };
    let user_path = format!("/users/{ann_id}");

    {
        let _paused = Paused::new("USERHUB_DYNAMODB_PID");
        let answers = join_all([
            timed(app.get("/auth/me").bearer(&ann)),
            timed(login()),
            timed(register("bob")),
            timed(app.get(&user_path).bearer(&admin)),
        ])
        .await;
        for (what, answer) in ["GET /auth/me", "login", "register", "GET /users/{id}"]
            .into_iter()
            .zip(&answers)
        {
            assert_unavailable(what, answer);
        }
        let (health, took) = timed(app.get("/health")).await;
        assert!(took < ANSWER_WITHIN, "health took {took:?}");
        assert_eq!(health.expect(503)["checks"]["dynamodb"], "unavailable");
    }

    // Resumed: the same process, clients and connections pool work again.
    assert_answered(
        "GET /auth/me",
        200,
        &timed(app.get("/auth/me").bearer(&ann)).await,
    );
    assert_answered("login", 200, &timed(login()).await);
    assert_answered("register", 201, &timed(register("carol")).await);
    assert_answered(
        "GET /users/{id}",
        200,
        &timed(app.get(&user_path).bearer(&admin)).await,
    );
    let audit = app
        .get(&format!("{user_path}/audit"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"login"), "{actions:?}");
    assert!(
        !actions.contains(&"login_failed"),
        "a dependency failure was audited as a failed login: {actions:?}"
    );

    {
        let _paused = Paused::new("USERHUB_S3_PID");
        // What does not need S3 goes on working, as fast as ever.
        let answers = join_all([
            timed(app.get("/auth/me").bearer(&ann)),
            timed(login()),
            timed(register("dave")),
            timed(app.get(&user_path).bearer(&admin)),
        ])
        .await;
        for ((what, status), answer) in [
            ("GET /auth/me", 200),
            ("login", 200),
            ("register", 201),
            ("GET /users/{id}", 200),
        ]
        .into_iter()
        .zip(&answers)
        {
            assert_answered(what, status, answer);
        }
        // moto is SES too: forgot-password answers an existing account's address as soon as
        // an unknown one, though its link cannot go out.
        let forgot = |email: &str| {
            app.post("/auth/password/forgot")
                .from_ip(fresh_ip())
                .json(&json!({ "email": email }))
        };
        let (known, unknown) = tokio::join!(
            timed(forgot("ann@example.com")),
            timed(forgot("nobody@example.com"))
        );
        assert_answered("forgot (an account)", 202, &known);
        assert_answered("forgot (no account)", 202, &unknown);
        assert!(
            known.1 < unknown.1 + Duration::from_millis(500),
            "an existing account's answer took {:?}, an unknown one's {:?}",
            known.1,
            unknown.1
        );
        // What does need it answers 503 in time.
        let export = timed(app.get("/users/export?format=csv").bearer(&admin)).await;
        assert_unavailable("GET /users/export", &export);
        let (health, took) = timed(app.get("/health")).await;
        assert!(took < ANSWER_WITHIN, "health took {took:?}");
        let health = health.expect(503);
        assert_eq!(health["checks"]["s3"], "unavailable");
        assert_eq!(health["checks"]["dynamodb"], "ok");
    }

    let export = timed(app.get("/users/export?format=csv").bearer(&admin)).await;
    assert_answered("GET /users/export", 303, &export);
    app.get("/health").send().await.expect(200);

    // The checker scans the whole table, with the worker's budget, as `userhub-admin` does.
    let client = aws_sdk_dynamodb::Client::new(&userhub_tests::sdk_config().await);
    let store = userhub::store::Store::new(client, app.state.store.table());
    let report = userhub::check::check(&store, userhub::check::Options::default())
        .await
        .expect("check the table");
    assert!(report.is_clean(), "the table is inconsistent: {report:?}");
}
