//! Smoke tests of the real function binaries under a Lambda emulator: each one boots with
//! the runtime API, reaches its table and bucket, and answers an invocation shaped like the
//! ones AWS sends.
//!
//! The emulator is `cargo lambda watch --only-lambda-apis` (cargo-lambda's control plane and
//! runtime API); the functions are the binaries cargo already built
//! (`target/<profile>/userhub-*`, see `built_binary`), never rebuilt from here. One test runs
//! a function through our own runtime API emulator as well, the one `bench` measures with.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};
use userhub_tests::function_env;
use userhub_tests::lambda_emulator::{
    apigw_v2_get, built_binary, eventbridge_scheduled_event, CargoLambdaWatch, HttpResponse,
    LambdaProcess, Outcome,
};

const TIMEOUT: Duration = Duration::from_secs(60);

fn binary(name: &str, package_dir: &str) -> std::path::PathBuf {
    built_binary(name, package_dir).unwrap_or_else(|e| panic!("{e}"))
}

/// A healthy `/health` answer, with the request id `x-request-id` must carry if given.
#[track_caller]
fn assert_healthy(res: &HttpResponse, request_id: Option<&str>, context: &str) {
    assert_eq!(res.status, 200, "{context}: {}", res.raw);
    let body = res.json().unwrap_or_else(|e| panic!("{context}: {e}"));
    assert_eq!(body["status"], "ok", "{context}: {body}");
    assert_eq!(body["checks"]["dynamodb"], "ok", "{context}: {body}");
    assert_eq!(body["checks"]["s3"], "ok", "{context}: {body}");
    assert_eq!(
        res.headers.get("content-type").map(String::as_str),
        Some("application/json"),
        "{context}: {}",
        res.raw
    );
    let id = res.headers.get("x-request-id").map(String::as_str);
    match request_id {
        Some(expected) => assert_eq!(
            id,
            Some(expected),
            "{context}: x-request-id is not API Gateway's requestId"
        ),
        None => assert!(
            id.is_some_and(|id| !id.is_empty()),
            "{context}: no x-request-id: {}",
            res.raw
        ),
    }
}

/// Boots `name` under cargo lambda watch and asks it for `GET /health`, as API Gateway
/// (an HTTP API, payload format 2.0) and as a function URL.
async fn http_function_answers_health(name: &str, package_dir: &str) {
    let bin = binary(name, package_dir);
    let env = function_env(&[]).await.1;
    let watch = CargoLambdaWatch::start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut function = LambdaProcess::spawn_against(&bin, name, &watch.runtime_api(name), &env)
        .unwrap_or_else(|e| panic!("{e}"));

    let request_id = format!("smoke-{}", uuid::Uuid::new_v4().simple());
    let event = apigw_v2_get("/health", &request_id);
    let answer = function
        .watched(TIMEOUT, "invoking GET /health", watch.invoke(name, &event))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}\ncargo lambda watch:\n{}", watch.logs()));
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{name}: the invocation failed: {}\nfunction output:\n{}",
        answer.text(),
        function.logs()
    );
    let res = HttpResponse::parse(&Outcome::Response(answer.body))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_healthy(
        &res,
        Some(&request_id),
        &format!("{name} via API Gateway v2"),
    );

    // The same binary, warm, through cargo-lambda's function URL front end.
    let answer = function
        .watched(
            TIMEOUT,
            "GET function URL /health",
            watch.get(&format!("/lambda-url/{name}/health")),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_else(|e| {
        panic!(
            "{name}: function URL body is not JSON ({e}): {}",
            answer.text()
        )
    });
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{name} via function URL: {body}"
    );
    assert_eq!(
        body["checks"],
        json!({"dynamodb": "ok", "s3": "ok"}),
        "{name} via function URL"
    );
    assert!(
        answer.headers.contains_key("x-request-id"),
        "{name} via function URL: {:?}",
        answer.headers
    );
}

#[tokio::test]
async fn auth_binary_boots_and_answers_health() {
    http_function_answers_health("userhub-auth", "functions/auth").await;
}

#[tokio::test]
async fn users_binary_boots_and_answers_health() {
    http_function_answers_health("userhub-users", "functions/users").await;
}

#[tokio::test]
async fn exports_binary_boots_and_answers_health() {
    http_function_answers_health("userhub-exports", "functions/exports").await;
}

#[tokio::test]
async fn imports_binary_boots_and_answers_health() {
    http_function_answers_health("userhub-imports", "functions/imports").await;
}

#[tokio::test]
async fn jobs_binary_boots_and_handles_the_schedule() {
    let name = "userhub-jobs";
    let bin = binary(name, "functions/jobs");
    let env = function_env(&[]).await.1;
    let watch = CargoLambdaWatch::start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut function = LambdaProcess::spawn_against(&bin, name, &watch.runtime_api(name), &env)
        .unwrap_or_else(|e| panic!("{e}"));

    let event = eventbridge_scheduled_event("userhub-daily-export");
    let answer = function
        .watched(
            TIMEOUT,
            "invoking the scheduled event",
            watch.invoke(name, &event),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}\ncargo lambda watch:\n{}", watch.logs()));
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "the scheduled event failed: {}\nfunction output:\n{}",
        answer.text(),
        function.logs()
    );
    assert_eq!(answer.text(), "null", "the worker answers nothing");

    // A misrouted event is a failed invocation, not a silent success; the process lives on.
    let answer = function
        .watched(
            TIMEOUT,
            "invoking an unknown event",
            watch.invoke(name, &json!({"hello": "world"})),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_ne!(
        answer.status,
        StatusCode::OK,
        "an unknown event succeeded: {}",
        answer.text()
    );
    assert!(
        answer.text().contains("unrecognised event"),
        "{}",
        answer.text()
    );
    let answer = function
        .watched(
            TIMEOUT,
            "invoking the scheduled event again",
            watch.invoke(name, &event),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

/// Our runtime API emulator (what `bench` measures cold starts with) runs a real function
/// as cargo-lambda's does: the function polls `next`, gets the event with the
/// `Lambda-Runtime-*` headers, and posts its response.
#[tokio::test]
async fn own_runtime_api_emulator_runs_a_real_function() {
    let name = "userhub-auth";
    let bin = binary(name, "functions/auth");
    let env = function_env(&[]).await.1;
    let mut function = LambdaProcess::spawn(&bin, name, &env)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cold = function
        .wait_ready(TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(cold > Duration::ZERO);
    for _ in 0..2 {
        let request_id = format!("own-{}", uuid::Uuid::new_v4().simple());
        let outcome = function
            .invoke(&apigw_v2_get("/health", &request_id), TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let res = HttpResponse::parse(&outcome).unwrap_or_else(|e| panic!("{e}"));
        assert_healthy(&res, Some(&request_id), "own emulator");
    }
}

/// The bench's baseline, through the same emulator; a function error comes back as one.
#[tokio::test]
async fn own_runtime_api_emulator_runs_the_hello_baseline() {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_hello_lambda"));
    let mut function = LambdaProcess::spawn(bin, "hello", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    function
        .wait_ready(TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let out = function
        .invoke(&json!({"any": "event"}), TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.json().unwrap(), json!({"ok": true}));

    // A jobs worker given a non-event reports an invocation error through /error.
    let name = "userhub-jobs";
    let bin = binary(name, "functions/jobs");
    let env = function_env(&[]).await.1;
    let mut jobs = LambdaProcess::spawn(&bin, name, &env)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    jobs.wait_ready(TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match jobs
        .invoke(&json!({"hello": 1}), TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    {
        Outcome::Error { error_type, body } => {
            assert!(
                error_type.is_some(),
                "no Lambda-Runtime-Function-Error-Type"
            );
            let doc: Value = serde_json::from_slice(&body).expect("error document is JSON");
            assert!(
                doc["errorMessage"]
                    .as_str()
                    .is_some_and(|m| m.contains("unrecognised")),
                "{doc}"
            );
        }
        other => panic!("expected an invocation error, got {other:?}"),
    }
    let out = jobs
        .invoke(
            &eventbridge_scheduled_event("userhub-daily-export"),
            TIMEOUT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.json().unwrap(), Value::Null);
}
