//! The plumbing every function shares: health, problem+json for bad requests, request ids.

use userhub_tests::{json, TestApp};

#[tokio::test]
async fn health_reports_both_dependencies_ok() {
    let app = TestApp::new().await;
    let res = app.get("/health").send().await;
    let body = res.expect(200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["dynamodb"], "ok");
    assert_eq!(body["checks"]["s3"], "ok");
    assert!(res.header("x-request-id").is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn health_names_dynamodb_when_it_is_down() {
    let config = TestApp::config(&[]);
    let sdk = userhub_tests::sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let live = userhub::Ctx::with_clients(
        config.clone(),
        aws_sdk_dynamodb::Client::new(&sdk),
        s3.clone(),
        userhub::mail::ses_client(&sdk),
    );
    TestApp::provision(&live).await;
    // A port nothing listens on stands for a stopped DynamoDB Local.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(format!("http://127.0.0.1:{dead_port}"))
            .build(),
    );
    let app = TestApp::from_state(userhub::Ctx::with_clients(
        config,
        dead,
        s3,
        userhub::mail::ses_client(&sdk),
    ));
    let body = app.get("/health").send().await.expect(503);
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["dynamodb"], "unavailable");
    assert_eq!(body["checks"]["s3"], "ok");
}

#[tokio::test]
async fn health_names_s3_when_the_bucket_is_missing() {
    let app = TestApp::new().await;
    app.state
        .s3
        .delete_bucket()
        .bucket(&app.state.config.bucket_name)
        .send()
        .await
        .unwrap();
    let body = app.get("/health").send().await.expect(503);
    assert_eq!(body["checks"]["s3"], "unavailable");
    assert_eq!(body["checks"]["dynamodb"], "ok");
}

#[tokio::test]
async fn unknown_route_and_method_are_problems() {
    let app = TestApp::new().await;
    app.get("/nope")
        .send()
        .await
        .expect_problem(404, "not_found");
    app.request(axum::http::Method::DELETE, "/health")
        .send()
        .await
        .expect_problem(405, "method_not_allowed");
}

#[tokio::test]
async fn bad_bodies_are_problems_not_500s() {
    let app = TestApp::new().await;
    let path = "/auth/register";
    app.post(path)
        .raw("application/json", "{\"email\": ")
        .send()
        .await
        .expect_problem(400, "malformed_json");
    app.post(path)
        .raw("application/json", "")
        .send()
        .await
        .expect_problem(400, "malformed_json");
    app.post(path)
        .raw("application/json", vec![0xffu8, 0xfe, 0x00])
        .send()
        .await
        .expect_problem(400, "malformed_json");
    let big = format!("{{\"email\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    app.post(path)
        .raw("application/json", big)
        .send()
        .await
        .expect_problem(413, "payload_too_large");
    app.post(path)
        .raw("text/plain", "hello")
        .send()
        .await
        .expect_problem(415, "unsupported_media_type");
    let body = app
        .post(path)
        .json(&json!({"email": "a@example.com", "username": "ann", "password": "x", "role": "admin", "zip": 1}))
        .send()
        .await
        .expect_problem(400, "unknown_fields");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"role") && fields.contains(&"zip"),
        "{body}"
    );
    app.post(path)
        .json(&json!({"email": 5, "username": "ann", "password": "long enough pass"}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
}
