//! Exports against DynamoDB Local and the S3 emulator: seeded tables exported, downloaded
//! through the presigned link with a plain HTTP client and compared field by field; the
//! API's rules; the jobs worker's stream and schedule triggers; failures that leave no
//! object behind.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};
use userhub::domain::export::{ExportRequest, Fields, Format, Trigger as ExportTrigger};
use userhub::domain::{User, UserId};
use userhub::export::{self, ExportError, RunError};
use userhub::Ctx;
use userhub_jobs::Invocation;
use userhub_tests::{download, json, seed_user, TestApp, INLINE};

const FULL_COLUMNS: [&str; 10] = [
    "id",
    "email",
    "username",
    "name",
    "status",
    "is_admin",
    "email_verified",
    "created_at",
    "updated_at",
    "last_login_at",
];

const FORMULA_STARTS: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\n'];

/// Names that trip up CSV writers and spreadsheets.
const TRICKY_NAMES: [&str; 10] = [
    "=HYPERLINK(\"http://x\")",
    "+1",
    "-2",
    "@x",
    "Lee, \"Ann\"",
    "a,b",
    "\"quoted\"",
    "=1+2",
    "Ünïcødé 名前 🙂",
    "O'Brien",
];

/// Names no API request can set (control characters), as a legacy or foreign writer
/// might have left them in the table.
const RAW_NAMES: [&str; 4] = ["\tTabbed", "Line\nBreak", "CR\r\nLF", "\nLeading newline"];

fn name_for(i: usize) -> Option<String> {
    match i % 100 {
        n @ 0..=9 => Some(TRICKY_NAMES[n].to_owned()),
        10 => None,
        // Long, four-byte characters: enough bytes that the JSON file takes two parts.
        _ => Some(format!("{i:05} {}", "🙂🚀🌍🎉".repeat(23))),
    }
}

/// A user as a JSON export row.
fn row(u: &User) -> Map<String, Value> {
    let json = serde_json::to_value(u).unwrap();
    let mut row = Map::new();
    for column in FULL_COLUMNS {
        let source = if column == "name" {
            "display_name"
        } else {
            column
        };
        row.insert(column.to_owned(), json[source].clone());
    }
    row
}

/// A JSON row's cell as the CSV writes it.
fn csv_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Undoes the formula neutralising: a `'` followed by a formula start.
fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

/// Parses a CSV export into rows keyed by id, checking that no cell starts a formula.
fn parse_csv(body: &[u8], columns: &[&str]) -> HashMap<String, Vec<String>> {
    let mut reader = csv::Reader::from_reader(body);
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(headers, columns);
    let mut rows = HashMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        let cells: Vec<String> = record
            .iter()
            .map(|cell| {
                assert!(
                    !cell.starts_with(FORMULA_STARTS),
                    "cell starts a formula: {cell:?}"
                );
                unneutralise(cell).to_owned()
            })
            .collect();
        assert!(
            rows.insert(cells[0].clone(), cells).is_none(),
            "duplicate row"
        );
    }
    rows
}

/// Sets a profile's display name behind the API's back.
async fn set_raw_name(app: &TestApp, id: UserId, name: &str) {
    app.state
        .store
        .client()
        .update_item()
        .table_name(&app.state.config.table_name)
        .key("pk", AttributeValue::S(format!("USER#{id}")))
        .key("sk", AttributeValue::S("PROFILE".into()))
        .update_expression("SET display_name = :n")
        .expression_attribute_values(":n", AttributeValue::S(name.into()))
        .send()
        .await
        .unwrap();
}

async fn start(app: &TestApp, token: &str, body: Value) -> String {
    let res = app.post("/exports").bearer(token).json(&body).send().await;
    let export = res.expect(202);
    let id = export["id"].as_str().unwrap().to_owned();
    assert_eq!(
        res.header("location"),
        Some(format!("/exports/{id}").as_str())
    );
    id
}

/// Downloads a succeeded export through its link; checks the headers S3 serves it with.
async fn fetch(export: &Value, content_type: &str, file_name: &str) -> bytes::Bytes {
    assert_eq!(export["status"], "succeeded", "{export}");
    let url = export["download_url"].as_str().expect("download_url");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(export["download_expires_at"].is_string());
    let (status, headers, body) = download(url).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], content_type);
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"{file_name}\"").as_str()
    );
    assert_eq!(export["size_bytes"].as_u64(), Some(body.len() as u64));
    body
}

#[tokio::test]
async fn ten_thousand_users_round_trip_through_csv_and_json() {
    let app = TestApp::with_env(&[INLINE, ("EXPORT_PART_SIZE_MIB", "5")]).await;
    let (admin_id, admin) = app.admin("boss").await;
    let users: Vec<User> = (0..10_000)
        .map(|i| seed_user(i, name_for(i).as_deref()))
        .collect();
    app.seed(&users).await;

    let admin_user = app
        .state
        .store
        .user(UserId::parse(&admin_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut expected: HashMap<String, Map<String, Value>> = users
        .iter()
        .chain([&admin_user])
        .filter(|u| u.status != userhub::domain::Status::Deleted)
        .map(|u| (u.id.to_string(), row(u)))
        .collect();
    for (k, raw) in RAW_NAMES.iter().enumerate() {
        let user = &users[k * 100 + 42];
        set_raw_name(&app, user.id, raw).await;
        expected.get_mut(&user.id.to_string()).unwrap()["name"] = json!(raw);
    }
    assert!(expected.len() > 9_800);

    // CSV: every field of every row, through a real CSV parser.
    let id = start(&app, &admin, json!({"format": "csv", "fields": "full"})).await;
    let export = app.wait_for_export(&admin, &id).await;
    assert_eq!(export["row_count"], expected.len());
    let body = fetch(&export, "text/csv; charset=utf-8", "users_full_export.csv").await;
    let rows = parse_csv(&body, &FULL_COLUMNS);
    assert_eq!(rows.len(), expected.len());
    for (id, want) in &expected {
        let got = rows.get(id).unwrap_or_else(|| panic!("{id} missing"));
        let want: Vec<String> = FULL_COLUMNS.iter().map(|c| csv_text(&want[*c])).collect();
        assert_eq!(got, &want);
    }
    // The tricky names were neutralised on the way out and survived the round trip.
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("\"'=HYPERLINK(\"\"http://x\"\")\""));
    assert!(text.contains(",'+1,") && text.contains(",'@x,"));
    assert!(text.contains("\"'\tTabbed\"") || text.contains(",'\tTabbed,"));

    // JSON: the same rows, typed, and big enough to take two upload parts.
    let id = start(&app, &admin, json!({"format": "json", "fields": "full"})).await;
    let export = app.wait_for_export(&admin, &id).await;
    assert_eq!(export["row_count"], expected.len());
    assert!(export["size_bytes"].as_u64().unwrap() > 5 * 1024 * 1024);
    let body = fetch(&export, "application/json", "users_full_export.json").await;
    let rows: Vec<Map<String, Value>> = serde_json::from_slice(&body).unwrap();
    assert_eq!(rows.len(), expected.len());
    let got: HashMap<String, Map<String, Value>> = rows
        .into_iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(app.open_uploads().await, 0);
}

#[tokio::test]
async fn filters_minimal_columns_listing_and_paging() {
    let app = TestApp::with_env(&[INLINE]).await;
    let (_, admin) = app.admin("boss").await;
    let users: Vec<User> = (0..300)
        .map(|i| seed_user(i, name_for(i).as_deref()))
        .collect();
    app.seed(&users).await;

    let after = users[20].created_at;
    let before = users[250].created_at;
    let want: HashSet<String> = users
        .iter()
        .filter(|u| u.status == userhub::domain::Status::Inactive)
        .filter(|u| u.email.as_str().starts_with("user1"))
        .filter(|u| u.created_at >= after && u.created_at < before)
        .map(|u| u.id.to_string())
        .collect();
    assert!(want.len() > 5);
    let id = start(
        &app,
        &admin,
        json!({"format": "csv", "fields": "minimal", "filters": {
            "status": "inactive", "email": "USER1",
            "created_after": after.to_string(), "created_before": before.to_string()}}),
    )
    .await;
    let export = app.wait_for_export(&admin, &id).await;
    assert_eq!(
        export["filters"],
        json!({"status": "inactive", "email": "user1",
            "created_after": after.to_string(), "created_before": before.to_string()})
    );
    assert_eq!(export["trigger"], "api");
    assert!(export["requested_by"]
        .as_str()
        .unwrap()
        .starts_with("user:"));
    assert!(export["completed_at"].is_string() && export["error"].is_null());
    let body = fetch(&export, "text/csv; charset=utf-8", "users_export.csv").await;
    let rows = parse_csv(&body, &["id", "email", "name"]);
    assert_eq!(rows.keys().cloned().collect::<HashSet<_>>(), want);
    for u in users.iter().filter(|u| want.contains(&u.id.to_string())) {
        let name = u.display_name.as_ref().map_or("", |d| d.as_str());
        assert_eq!(
            rows[&u.id.to_string()],
            [u.id.to_string(), u.email.to_string(), name.to_owned()]
        );
    }

    // Soft-deleted users only with an explicit status filter.
    let id = start(
        &app,
        &admin,
        json!({"format": "json", "fields": "minimal", "filters": {"status": "deleted"}}),
    )
    .await;
    let export = app.wait_for_export(&admin, &id).await;
    let body = fetch(&export, "application/json", "users_export.json").await;
    let rows: Vec<Value> = serde_json::from_slice(&body).unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows
        .iter()
        .all(|r| r.as_object().unwrap().len() == 3 && r["email"].is_string()));

    // An empty export is still a valid file.
    let id = start(
        &app,
        &admin,
        json!({"format": "json", "fields": "full", "filters": {"email": "nobody"}}),
    )
    .await;
    let export = app.wait_for_export(&admin, &id).await;
    assert_eq!(export["row_count"], 0);
    let body = fetch(&export, "application/json", "users_full_export.json").await;
    assert_eq!(&body[..], b"[]");

    // Listing: newest first, in pages, each export with a fresh link once it succeeded.
    let first = app.get("/exports?limit=2").bearer(&admin).send().await;
    let page = first.expect(200);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], export["id"]);
    assert!(items[0]["download_url"].is_string());
    assert!(first.header("link").unwrap().contains("rel=\"next\""));
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("/exports?limit=2&cursor={cursor}"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    let ids: Vec<&str> = items
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    app.get(&format!("/exports?cursor={}x", &cursor[1..]))
        .bearer(&admin)
        .send()
        .await
        .expect_problem(400, "invalid_cursor");
}

#[tokio::test]
async fn export_requests_are_validated_and_authorised() {
    let app = TestApp::with_env(&[INLINE]).await;
    let (_, admin) = app.admin("boss").await;
    let (_, user, _) = app.user("alice").await;

    app.post("/exports")
        .bearer(&admin)
        .json(&json!({"format": "xlsx", "fields": "minimal"}))
        .send()
        .await
        .expect_problem(400, "unsupported_format");
    app.post("/exports")
        .bearer(&admin)
        .json(&json!({"format": "csv", "fields": "minimal", "columns": "all"}))
        .send()
        .await
        .expect_problem(400, "unknown_fields");
    let problem = app
        .post("/exports")
        .bearer(&admin)
        .json(&json!({"fields": "some", "filters": {"status": "banned", "created_after": "yesterday"}}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "format",
            "fields",
            "filters.status",
            "filters.created_after"
        ]
    );
    let problem = app
        .post("/exports")
        .bearer(&admin)
        .json(&json!({"format": "csv", "fields": "full", "filters": {"colour": "red"}}))
        .send()
        .await
        .expect_problem(400, "unknown_fields");
    assert_eq!(problem["errors"][0]["field"], "filters.colour");

    let body = json!({"format": "csv", "fields": "minimal"});
    app.post("/exports")
        .json(&body)
        .send()
        .await
        .expect_problem(401, "unauthorized");
    app.post("/exports")
        .bearer(&user)
        .json(&body)
        .send()
        .await
        .expect_problem(403, "forbidden");
    app.get("/exports")
        .bearer(&user)
        .send()
        .await
        .expect_problem(403, "forbidden");
    app.get("/users/export")
        .bearer(&user)
        .send()
        .await
        .expect_problem(403, "forbidden");

    // Services use API keys with the users:export scope.
    let exporter = app.api_key(&admin, &["users:export"]).await;
    let reader = app.api_key(&admin, &["users:read"]).await;
    let created = app
        .post("/exports")
        .header("x-api-key", &exporter)
        .json(&body)
        .send()
        .await
        .expect(202);
    assert_eq!(created["status"], "pending");
    assert!(created["requested_by"]
        .as_str()
        .unwrap()
        .starts_with("api_key:"));
    for field in [
        "row_count",
        "size_bytes",
        "completed_at",
        "error",
        "download_url",
    ] {
        assert!(created[field].is_null(), "{field} in {created}");
    }
    app.post("/exports")
        .header("x-api-key", &reader)
        .json(&body)
        .send()
        .await
        .expect_problem(403, "forbidden");
    let id = created["id"].as_str().unwrap();
    app.get(&format!("/exports/{id}"))
        .header("x-api-key", &exporter)
        .send()
        .await
        .expect(200);

    for missing in ["not-an-id", &uuid::Uuid::now_v7().to_string()] {
        app.get(&format!("/exports/{missing}"))
            .bearer(&admin)
            .send()
            .await
            .expect_problem(404, "not_found");
    }
}

#[tokio::test]
async fn feature_flags_gate_exports() {
    let app = TestApp::with_env(&[INLINE, ("FEATURES", "users:export")]).await;
    let (_, admin) = app.admin("boss").await;
    app.post("/exports")
        .bearer(&admin)
        .json(&json!({"format": "csv", "fields": "full"}))
        .send()
        .await
        .expect_problem(403, "feature_disabled");
    app.get("/users/export-full")
        .bearer(&admin)
        .send()
        .await
        .expect_problem(403, "feature_disabled");
    app.post("/exports")
        .bearer(&admin)
        .json(&json!({"format": "csv", "fields": "minimal"}))
        .send()
        .await
        .expect(202);

    let off = TestApp::with_env(&[INLINE, ("FEATURES", "users:bulk")]).await;
    let (_, admin) = off.admin("boss").await;
    for path in ["/exports", "/users/export"] {
        off.get(path)
            .bearer(&admin)
            .send()
            .await
            .expect_problem(403, "feature_disabled");
    }
}

#[tokio::test]
async fn synchronous_exports_redirect_to_the_file() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let users: Vec<User> = (0..120)
        .map(|i| seed_user(i, name_for(i).as_deref()))
        .collect();
    app.seed(&users).await;

    let res = app
        .get("/users/export?format=csv&email=User1")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(res.status, 303, "{}", String::from_utf8_lossy(&res.body));
    let (status, headers, body) = download(res.header("location").unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"users_export.csv\""
    );
    let rows = parse_csv(&body, &["id", "email", "name"]);
    let want: HashSet<String> = users
        .iter()
        .filter(|u| u.email.as_str().starts_with("user1"))
        .filter(|u| u.status != userhub::domain::Status::Deleted)
        .map(|u| u.id.to_string())
        .collect();
    assert_eq!(rows.keys().cloned().collect::<HashSet<_>>(), want);

    let res = app.get("/users/export-full").bearer(&admin).send().await;
    assert_eq!(res.status, 303);
    let (_, headers, body) = download(res.header("location").unwrap()).await;
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"users_full_export.csv\""
    );
    // Every seeded user but the soft-deleted ones, plus the admin.
    let live = users
        .iter()
        .filter(|u| u.status != userhub::domain::Status::Deleted)
        .count();
    assert_eq!(parse_csv(&body, &FULL_COLUMNS).len(), live + 1);

    app.get("/users/export?format=json")
        .bearer(&admin)
        .send()
        .await
        .expect_problem(400, "unsupported_format");
    app.get("/users/export-full?format=xml")
        .bearer(&admin)
        .send()
        .await
        .expect_problem(400, "unsupported_format");
    app.get("/users/export?limit=5")
        .bearer(&admin)
        .send()
        .await
        .expect_problem(400, "bad_request");

    // They are exports like any other, listed and already finished.
    let listed = app.get("/exports").bearer(&admin).send().await.expect(200);
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|e| e["status"] == "succeeded"));
    assert_eq!(items[0]["fields"], "full");
    assert_eq!(items[1]["filters"], json!({"email": "user1"}));
}

#[tokio::test]
async fn a_synchronous_export_over_its_time_limit_fails_cleanly() {
    let app = TestApp::new().await;
    app.seed(&(0..50).map(|i| seed_user(i, None)).collect::<Vec<_>>())
        .await;
    let request = ExportRequest {
        format: Format::Csv,
        fields: Fields::Full,
        filters: Default::default(),
    };
    let err = export::run_now(
        &app.state,
        request,
        "test".into(),
        ExportTrigger::Api,
        Some(Duration::ZERO),
    )
    .await
    .unwrap_err();
    let RunError::Failed { id, source } = err else {
        panic!("unexpected {err:?}");
    };
    assert!(matches!(source, ExportError::TimedOut(_)), "{source:?}");
    let job = app.state.store.export_job(&id).await.unwrap().unwrap();
    assert_eq!(
        job.error.as_deref(),
        Some("the export did not finish within 0 s")
    );
    assert!(app.object_keys("exports/").await.is_empty());
    assert_eq!(app.open_uploads().await, 0);
    // What GET /users/export answers when this happens.
    let err: userhub::Error = RunError::Failed { id, source }.into();
    let res = axum::response::IntoResponse::into_response(err);
    assert_eq!(res.status(), 409);
}

fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn the_jobs_worker_runs_stream_records_once_and_scheduled_exports() {
    // Without RUN_JOBS_INLINE, as in AWS: POST /exports leaves the job to the stream.
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    app.seed(
        &(0..40)
            .map(|i| seed_user(i, name_for(i).as_deref()))
            .collect::<Vec<_>>(),
    )
    .await;
    let id = start(&app, &admin, json!({"format": "csv", "fields": "full"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pending = app
        .get(&format!("/exports/{id}"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(pending["status"], "pending");

    let event: Value = serde_json::from_str(
        &fixture("dynamodb-stream-export-insert.json").replace("__JOB_ID__", &id),
    )
    .unwrap();
    // The stream delivers at least once: the same record twice at the same time, then again.
    let (a, b) = tokio::join!(
        userhub_jobs::handle(&app.state, Invocation::classify(&event).unwrap()),
        userhub_jobs::handle(&app.state, Invocation::classify(&event).unwrap()),
    );
    a.unwrap();
    b.unwrap();
    let export = app.wait_for_export(&admin, &id).await;
    assert_eq!(export["row_count"], 40);
    userhub_jobs::handle(&app.state, Invocation::classify(&event).unwrap())
        .await
        .unwrap();
    let again = app
        .get(&format!("/exports/{id}"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(again["completed_at"], export["completed_at"]);
    assert_eq!(app.object_keys("exports/").await.len(), 1);
    assert_eq!(app.open_uploads().await, 0);

    // The schedule: a full CSV export of its own, listed like any other.
    let event: Value = serde_json::from_str(&fixture("eventbridge-scheduled-event.json")).unwrap();
    userhub_jobs::handle(&app.state, Invocation::classify(&event).unwrap())
        .await
        .unwrap();
    let listed = app.get("/exports").bearer(&admin).send().await.expect(200);
    let scheduled = &listed["items"][0];
    assert_eq!(scheduled["trigger"], "schedule");
    assert_eq!(scheduled["requested_by"], "schedule");
    assert_eq!(
        (&scheduled["format"], &scheduled["fields"]),
        (&json!("csv"), &json!("full"))
    );
    let body = fetch(
        scheduled,
        "text/csv; charset=utf-8",
        "users_full_export.csv",
    )
    .await;
    assert_eq!(parse_csv(&body, &FULL_COLUMNS).len(), 40);
    assert_eq!(app.object_keys("exports/").await.len(), 2);

    // A stream record of an item no job runs is refused, not dropped.
    let stray: Value = serde_json::from_str(
        &fixture("dynamodb-stream-export-insert.json").replace("\"EXPORT\"", "\"ELSEWHERE\""),
    )
    .unwrap();
    assert!(
        userhub_jobs::handle(&app.state, Invocation::classify(&stray).unwrap())
            .await
            .is_err()
    );
}

/// Fails every UploadPart, as S3 would during an outage mid-upload.
#[derive(Debug)]
struct FailUploadParts;

impl aws_sdk_s3::config::Intercept for FailUploadParts {
    fn name(&self) -> &'static str {
        "FailUploadParts"
    }

    fn read_before_execution(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let input = context.input();
        if input
            .downcast_ref::<aws_sdk_s3::operation::upload_part::UploadPartInput>()
            .is_some()
        {
            return Err("injected UploadPart failure".into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn an_s3_failure_mid_upload_leaves_no_object_and_a_failed_job() {
    let config = TestApp::config(&[INLINE]);
    let sdk = userhub_tests::sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .interceptor(FailUploadParts)
            .build(),
    );
    let state = Ctx::with_clients(
        config,
        aws_sdk_dynamodb::Client::new(&sdk),
        s3,
        userhub::mail::ses_client(&sdk),
    );
    TestApp::provision(&state).await;
    let app = TestApp::from_state(state);
    let (_, admin) = app.admin("boss").await;
    app.seed(&(0..30).map(|i| seed_user(i, None)).collect::<Vec<_>>())
        .await;

    let id = start(&app, &admin, json!({"format": "csv", "fields": "full"})).await;
    let export = app.wait_for_export(&admin, &id).await;
    assert_eq!(export["status"], "failed");
    assert_eq!(
        export["error"],
        "writing the file to S3 failed while uploading a part"
    );
    assert!(export["download_url"].is_null() && export["row_count"].is_null());
    assert!(export["completed_at"].is_string());
    assert!(app.object_keys("").await.is_empty());
    assert_eq!(app.open_uploads().await, 0, "the upload was not aborted");

    // The synchronous routes answer 500 without the AWS detail.
    let res = app.get("/users/export").bearer(&admin).send().await;
    let problem = res.expect_problem(500, "internal");
    assert!(!problem.to_string().contains("injected"));
}

#[tokio::test]
async fn a_missing_bucket_fails_the_job_with_a_clear_error() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let mut config = app.state.config.clone();
    config.bucket_name = format!("missing-{}", uuid::Uuid::now_v7().simple());
    let elsewhere = Ctx::new(config, &userhub_tests::sdk_config().await);

    let id = start(&app, &admin, json!({"format": "json", "fields": "minimal"})).await;
    let job = export::run(&elsewhere, &id).await.unwrap().unwrap();
    assert_eq!(
        job.error.as_deref(),
        Some("writing the file to S3 failed while starting the upload")
    );
    let export = app
        .get(&format!("/exports/{id}"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(export["status"], "failed");
    assert_eq!(export["error"], json!(job.error));
    assert!(export["download_url"].is_null());
    // A failed job is finished: delivering it again does nothing.
    assert!(export::run(&app.state, &id).await.unwrap().is_none());
}
