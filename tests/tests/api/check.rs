//! `userhub-admin check [--repair]` against DynamoDB Local: a table built through the API
//! checks clean; each kind of damage, written raw one at a time, is detected, repaired, and
//! a second repair finds nothing left (repair is idempotent).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use userhub::check::{check, Broken, Options, Report};
use userhub_tests::{json, TestApp};

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

async fn run(app: &TestApp, repair: bool) -> Report {
    let options = Options {
        repair,
        ..Options::default()
    };
    check(&app.state.store, options).await.expect("check")
}

/// Detects exactly `kinds`, repairs them, and then finds the table clean.
async fn detect_and_repair(app: &TestApp, kinds: &[Broken]) {
    let found = run(app, false).await;
    assert_eq!(found.kinds(), kinds, "{found:?}");
    assert!(found.findings.iter().all(|f| !f.repaired));
    let repaired = run(app, true).await;
    assert_eq!(repaired.kinds(), kinds, "{repaired:?}");
    assert!(repaired.findings.iter().all(|f| f.repaired), "{repaired:?}");
    let after = run(app, true).await;
    assert!(after.is_clean(), "left after repair: {after:?}");
}

async fn put(app: &TestApp, item: Item) {
    app.state
        .store
        .client()
        .put_item()
        .table_name(app.state.store.table())
        .set_item(Some(item))
        .send()
        .await
        .expect("raw put");
}

async fn get(app: &TestApp, pk: &str, sk: &str) -> Option<Item> {
    app.state
        .store
        .client()
        .get_item()
        .table_name(app.state.store.table())
        .key("pk", s(pk))
        .key("sk", s(sk))
        .consistent_read(true)
        .send()
        .await
        .expect("raw get")
        .item
}

async fn delete(app: &TestApp, pk: &str, sk: &str) {
    app.state
        .store
        .client()
        .delete_item()
        .table_name(app.state.store.table())
        .key("pk", s(pk))
        .key("sk", s(sk))
        .send()
        .await
        .expect("raw delete");
}

/// A table with users in every state, sessions, an erased user and an export.
async fn lived_in() -> (TestApp, String, String) {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("root").await;
    let (ann, _, _) = app.user("ann").await;
    for (name, path) in [
        ("bob", "deactivate"),
        ("carol", "anonymize"),
        ("dave", "hard"),
    ] {
        let (id, _, _) = app.user(name).await;
        let req = match path {
            "hard" => app.delete(&format!("/users/{id}?hard=true")),
            p => app.post(&format!("/users/{id}/{p}")),
        };
        let res = req.bearer(&admin).send().await;
        assert!(res.status.is_success(), "{path}: {:?}", res.body);
    }
    let (eve, _, _) = app.user("eve").await;
    app.delete(&format!("/users/{eve}"))
        .bearer(&admin)
        .send()
        .await
        .expect(204);
    app.get("/users/export?format=csv")
        .bearer(&admin)
        .send()
        .await
        .expect(303);
    (app, ann, admin)
}

#[tokio::test]
async fn a_table_written_through_the_api_checks_clean() {
    let (app, _, _) = lived_in().await;
    let report = run(&app, true).await;
    assert!(report.is_clean(), "{report:?}");
}

#[tokio::test]
async fn orphan_and_stale_reservations_are_found_and_removed() {
    let (app, ann, _) = lived_in().await;
    put(
        &app,
        HashMap::from([
            ("pk".into(), s("EMAIL#ghost@example.com")),
            ("sk".into(), s("EMAIL")),
            ("user_id".into(), s(uuid::Uuid::now_v7().to_string())),
        ]),
    )
    .await;
    detect_and_repair(&app, &[Broken::OrphanReservation]).await;
    assert!(get(&app, "EMAIL#ghost@example.com", "EMAIL")
        .await
        .is_none());

    put(
        &app,
        HashMap::from([
            ("pk".into(), s("USERNAME#notann")),
            ("sk".into(), s("USERNAME")),
            ("user_id".into(), s(&ann)),
        ]),
    )
    .await;
    detect_and_repair(&app, &[Broken::StaleReservation]).await;
    // Ann's own reservations were left alone.
    assert!(get(&app, "USERNAME#ann", "USERNAME").await.is_some());
}

#[tokio::test]
async fn a_user_without_its_reservation_gets_it_back() {
    let (app, _, _) = lived_in().await;
    delete(&app, "USERNAME#ann", "USERNAME").await;
    detect_and_repair(&app, &[Broken::MissingReservation]).await;
    app.post("/auth/login")
        .json(&json!({"username": "ann", "password": userhub_tests::PASSWORD}))
        .send()
        .await
        .expect(200);
    // And the name is taken again.
    app.post("/auth/register")
        .json(&json!({"email": "other@example.com", "username": "ann", "password": userhub_tests::PASSWORD}))
        .send()
        .await
        .expect_problem(409, "username_taken");
}

#[tokio::test]
async fn wrong_counters_are_recounted() {
    let (app, _, admin) = lived_in().await;
    let stats = app.stats(&admin).await;
    let year = userhub::domain::Timestamp::now().year_month().0;
    let update = |sk: String, expression: &str| {
        app.state
            .store
            .client()
            .update_item()
            .table_name(app.state.store.table())
            .key("pk", s("COUNTER"))
            .key("sk", s(sk))
            .update_expression(expression.to_owned())
            .expression_attribute_values(":n", AttributeValue::N("3".into()))
            .send()
    };
    update("STATUS".into(), "ADD active :n")
        .await
        .expect("damage");
    detect_and_repair(&app, &[Broken::StatusCounts]).await;
    update(format!("SIGNUPS#{year}"), "ADD m1 :n, m7 :n")
        .await
        .expect("damage");
    detect_and_repair(&app, &[Broken::SignupCounts]).await;
    let after = app.stats(&admin).await;
    assert_eq!(after, stats);
}

#[tokio::test]
async fn live_sessions_of_a_deleted_user_are_ended() {
    let (app, _, admin) = lived_in().await;
    let (id, _, _) = app.user("frank").await;
    let session = app
        .scan_all()
        .await
        .into_iter()
        .find(|i| {
            i["pk"].as_s().is_ok_and(|pk| pk.ends_with(&id))
                && i["sk"].as_s().is_ok_and(|sk| sk.starts_with("SESSION#"))
        })
        .expect("frank's session");
    app.delete(&format!("/users/{id}"))
        .bearer(&admin)
        .send()
        .await
        .expect(204);
    // The deletion ended it; a lost write brings it back.
    put(&app, session.clone()).await;
    detect_and_repair(&app, &[Broken::DeadSessions]).await;
    let (pk, sk) = (session["pk"].as_s().unwrap(), session["sk"].as_s().unwrap());
    assert!(get(&app, pk, sk).await.is_none());
}

#[tokio::test]
async fn a_job_stuck_running_is_marked_failed() {
    let (app, _, admin) = lived_in().await;
    let id = uuid::Uuid::now_v7().to_string();
    let two_hours_ago = userhub::domain::Timestamp::from_millis(
        userhub::domain::Timestamp::now().unix_secs() * 1000 - 7_200_000,
    )
    .unwrap();
    put(
        &app,
        HashMap::from([
            ("pk".into(), s("EXPORT")),
            ("sk".into(), s(&id)),
            ("id".into(), s(&id)),
            ("status".into(), s("running")),
            ("format".into(), s("csv")),
            ("fields".into(), s("full")),
            ("filters".into(), AttributeValue::M(HashMap::new())),
            ("requested_by".into(), s("schedule")),
            ("trigger".into(), s("schedule")),
            ("created_at".into(), s(two_hours_ago.to_string())),
        ]),
    )
    .await;
    detect_and_repair(&app, &[Broken::StuckJob]).await;
    let job = app
        .get(&format!("/exports/{id}"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(job["status"], "failed");
    assert!(job["error"].is_string());
}

#[tokio::test]
async fn the_cli_exits_non_zero_while_the_table_is_broken() {
    let (app, ann, _) = lived_in().await;
    let bin = userhub_tests::lambda_emulator::built_binary("userhub-admin", "infra/local-api")
        .unwrap_or_else(|e| panic!("{e}"));
    let config = &app.state.config;
    let cli = |args: &[&str]| {
        std::process::Command::new(&bin)
            .args(args)
            .env("TABLE_NAME", &config.table_name)
            .env("BUCKET_NAME", &config.bucket_name)
            .env("JWT_SECRET", "x".repeat(32))
            .output()
            .expect("run userhub-admin")
    };
    assert!(cli(&["check"]).status.success());
    delete(&app, "USERNAME#ann", "USERNAME").await;
    let broken = cli(&["check"]);
    assert_eq!(broken.status.code(), Some(1));
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(
        out.contains("missing_reservation") && out.contains(&ann),
        "{out}"
    );
    assert!(cli(&["check", "--repair"]).status.success());
    assert!(cli(&["check"]).status.success());
    assert_eq!(cli(&["check", "--bogus"]).status.code(), Some(1));
}
