//! The rules every route that writes a user keeps (issue #10): status moves to or from
//! `deleted` only through the lifecycle routes, anonymised users stay anonymised, only an
//! admin person gives admin power or sets a password, last write wins without `If-Match`,
//! `If-Match` compares strongly, bulk PATCH refuses duplicates and empty updates, list
//! parameters never give a 5xx, and no index holds a password hash.

use std::time::Duration;

use futures::future::join_all;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::Value;
use userhub_tests::{fresh_ip, json, pk, TestApp, TestRequest, PASSWORD};

async fn user(app: &TestApp, admin: &str, id: &str) -> Value {
    app.get(&format!("/users/{id}"))
        .bearer(admin)
        .send()
        .await
        .expect(200)
}

fn with_key<'a>(req: TestRequest<'a>, key: &str) -> TestRequest<'a> {
    req.header("x-api-key", key)
}

/// The field names of a 400's `errors`.
fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|f| f["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn deleted_status_is_refused_on_every_route_but_the_lifecycle_ones() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let key = app.api_key(&admin, &["users:write", "users:read"]).await;
    let id = app.create_user(&admin, "target").await;
    let path = format!("/users/{id}");
    let before = app.stats(&admin).await;

    let created = app
        .post("/users")
        .bearer(&admin)
        .json(&json!({"email": "gone@example.com", "username": "gone", "status": "deleted"}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
    assert_eq!(fields(&created), ["status"]);
    for method in ["PATCH", "PUT"] {
        for auth in [
            ("authorization", format!("Bearer {admin}")),
            ("x-api-key", key.clone()),
        ] {
            let res = app
                .request(method.parse().unwrap(), &path)
                .header(auth.0, &auth.1)
                .json(&json!({"status": "deleted"}))
                .send()
                .await;
            let problem = res.expect_problem(400, "validation_failed");
            assert_eq!(fields(&problem), ["status"], "{method} by {}", auth.0);
        }
    }
    app.patch("/users/bulk")
        .header("x-api-key", &key)
        .json(&json!({"ids": [id], "update": {"status": "deleted"}}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
    let bulk = app
        .post("/users/bulk")
        .header("x-api-key", &key)
        .json(&json!({"users": [{"email": "gone2@example.com", "username": "gone2", "status": "deleted"}]}))
        .send()
        .await
        .expect(200);
    assert_eq!(bulk["results"][0]["status"], 400);

    assert_eq!(user(&app, &admin, &id).await["status"], "active");
    assert_eq!(app.stats(&admin).await, before);

    // A soft-deleted user comes back only through restore, even by PATCH.
    app.delete(&path).bearer(&admin).send().await.expect(204);
    for status in ["active", "inactive"] {
        app.patch(&path)
            .bearer(&admin)
            .json(&json!({"status": status}))
            .send()
            .await
            .expect_problem(409, "conflict");
    }
    let bulk = app
        .patch("/users/bulk")
        .bearer(&admin)
        .json(&json!({"ids": [id], "update": {"status": "active"}}))
        .send()
        .await
        .expect(200);
    assert_eq!(bulk["results"][0]["status"], 409);
    assert_eq!(bulk["updated"], 0);
    assert_eq!(user(&app, &admin, &id).await["status"], "deleted");
}

#[tokio::test]
async fn patch_status_goes_through_activate_and_deactivate() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let (id, token, _) = app.user("sleeper").await;
    let path = format!("/users/{id}");
    let off = app
        .patch(&path)
        .bearer(&admin)
        .json(&json!({"status": "inactive"}))
        .send()
        .await
        .expect(200);
    assert_eq!(off["status"], "inactive");
    // Deactivation ends the sessions, as POST /deactivate does.
    app.get("/auth/me")
        .bearer(&token)
        .send()
        .await
        .expect_problem(401, "invalid_token");
    let on = app
        .patch(&path)
        .bearer(&admin)
        .json(&json!({"status": "active"}))
        .send()
        .await
        .expect(200);
    assert_eq!(on["status"], "active");
    let audit = app
        .get(&format!("/users/{id}/audit"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(audit["items"][0]["fields"], json!(["status"]));
}

#[tokio::test]
async fn an_anonymised_user_stays_anonymised_on_every_route() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let key = app.api_key(&admin, &["users:write"]).await;
    let id = app.create_user(&admin, "ghost").await;
    let path = format!("/users/{id}");
    let anon = app
        .post(&format!("{path}/anonymize"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);

    let attempts = [
        json!({"status": "active"}),
        json!({"status": "inactive"}),
        json!({"email": "ghost@example.com"}),
        json!({"username": "ghost"}),
        json!({"display_name": "Ghost"}),
        json!({"profile_picture_url": "https://example.com/g.png"}),
        json!({"password": PASSWORD}),
    ];
    for body in &attempts {
        app.patch(&path)
            .bearer(&admin)
            .json(body)
            .send()
            .await
            .expect_problem(409, "conflict");
    }
    app.patch(&path)
        .header("x-api-key", &key)
        .json(&json!({"display_name": "Ghost"}))
        .send()
        .await
        .expect_problem(409, "conflict");
    for update in [
        json!({"status": "active"}),
        json!({"display_name": "Ghost"}),
    ] {
        let bulk = app
            .patch("/users/bulk")
            .bearer(&admin)
            .json(&json!({"ids": [id], "update": update}))
            .send()
            .await
            .expect(200);
        assert_eq!(bulk["results"][0]["status"], 409, "{bulk}");
    }
    for route in ["activate", "deactivate", "restore"] {
        app.post(&format!("{path}/{route}"))
            .bearer(&admin)
            .send()
            .await
            .expect_problem(409, "conflict");
    }
    assert_eq!(user(&app, &admin, &id).await, anon);
}

#[tokio::test]
async fn parallel_patches_without_if_match_all_succeed() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    // The reported case, 20 writers on one user; then the race run 20 times at once: 80
    // writers, 4 on each of 20 users. (Writers of one user land one per read-and-write
    // round, and on a loaded DynamoDB Local a round can take a second: 20 writers on each
    // of several users would test the machine, not the rule.)
    for (users, per_user) in [(1, 20), (20, 4)] {
        let mut ids = Vec::new();
        for u in 0..users {
            ids.push(
                app.create_user(&admin, &format!("contended{per_user}x{users}x{u}"))
                    .await,
            );
        }
        let (app, admin) = (&app, &admin);
        let writes = ids.iter().flat_map(|id| {
            (0..per_user).map(move |i| {
                app.patch(&format!("/users/{id}"))
                    .bearer(admin)
                    .json(&json!({"display_name": format!("writer {i}")}))
                    .send()
            })
        });
        let results = tokio::time::timeout(Duration::from_secs(120), join_all(writes))
            .await
            .expect("the race finishes in time");
        let statuses: Vec<u16> = results.iter().map(|r| r.status.as_u16()).collect();
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        for id in &ids {
            let after = user(app, admin, id).await;
            // Every write is one version: none was lost, none refused.
            assert_eq!(after["version"], 1 + per_user, "{after}");
            let name = after["display_name"].as_str().unwrap();
            assert!(results
                .iter()
                .any(|r| r.json()["id"] == id.as_str() && r.json()["display_name"] == name));
        }
    }
}

#[tokio::test]
async fn created_after_past_created_before_is_a_400_naming_both() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let (after, before) = ("2026-06-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z");
    for sort in ["created_at", "email", "username", "display_name"] {
        let problem = app
            .get(&format!(
                "/users?sort={sort}&created_after={after}&created_before={before}"
            ))
            .bearer(&admin)
            .send()
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(fields(&problem), ["created_after", "created_before"]);
        let problem = app
            .post("/users/search")
            .bearer(&admin)
            .json(&json!({"sort": sort, "created_after": after, "created_before": before}))
            .send()
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(fields(&problem), ["created_after", "created_before"]);
    }
    // An empty range is a valid question with an empty answer.
    let same = app
        .get(&format!(
            "/users?created_after={after}&created_before={after}"
        ))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(same["items"], json!([]));
}

/// Mostly valid values for a parameter, sometimes junk.
fn value_or_junk(valid: &[&'static str]) -> impl Strategy<Value = String> {
    let valid: Vec<String> = valid.iter().map(|v| (*v).to_owned()).collect();
    prop_oneof![
        6 => prop::sample::select(valid),
        1 => "[a-z0-9@._%:+-]{0,12}",
        1 => any::<String>(),
    ]
}

/// A set of list parameters: each one present or not.
fn param_sets() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    const TIMES: &[&str] = &[
        "2026-01-01T00:00:00.000Z",
        "2026-11-30T12:00:00Z",
        "2027-12-31T23:59:59.999Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999+14:00",
    ];
    let params: Vec<(&'static str, &'static [&'static str])> = vec![
        ("status", &["active", "inactive", "deleted"]),
        ("email", &["lister", "l", "lister1@example.com"]),
        ("username", &["lister", "li"]),
        ("name", &["a", "lister"]),
        ("q", &["ist", "@", "%"]),
        ("created_after", TIMES),
        ("created_before", TIMES),
        ("include_deleted", &["true", "false"]),
        ("sort", &["created_at", "email", "username", "display_name"]),
        ("order", &["asc", "desc"]),
        ("limit", &["1", "2", "20", "100"]),
    ];
    params
        .into_iter()
        .map(|(name, valid)| {
            prop::option::of(value_or_junk(valid)).prop_map(move |v| v.map(|v| (name, v)))
        })
        .collect::<Vec<_>>()
        .prop_map(|set| set.into_iter().flatten().collect())
}

#[tokio::test]
async fn generated_list_parameters_never_give_a_5xx() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    for i in 0..5 {
        app.create_user(&admin, &format!("lister{i}")).await;
    }
    let mut runner = TestRunner::deterministic();
    let strategy = param_sets();
    for _ in 0..60 {
        let params = strategy.new_tree(&mut runner).unwrap().current();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let get = app
            .get(&format!("/users?{query}"))
            .bearer(&admin)
            .send()
            .await;
        assert!(
            matches!(get.status.as_u16(), 200 | 400),
            "GET /users?{query}: {} {:?}",
            get.status,
            get.body
        );
        let body: serde_json::Map<String, Value> = params
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
            .collect();
        let search = app
            .post("/users/search")
            .bearer(&admin)
            .json(&Value::Object(body.clone()))
            .send()
            .await;
        assert!(
            matches!(search.status.as_u16(), 200 | 400),
            "POST /users/search {body:?}: {} {:?}",
            search.status,
            search.body
        );
    }
}

#[tokio::test]
async fn an_admin_sets_a_password_which_ends_the_sessions() {
    let app = TestApp::new().await;
    let (admin_id, admin) = app.admin("boss").await;
    // Created without a password: cannot log in until one is set.
    let id = app.create_user(&admin, "invitee01").await;
    let path = format!("/users/{id}");
    let set = app
        .patch(&path)
        .bearer(&admin)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect(200);
    assert!(set.get("password").is_none() && set.get("password_hash").is_none());
    let tokens = app.login("invitee01@example.com").await;
    let old_access = tokens["access_token"].as_str().unwrap().to_owned();

    // Hashed with argon2id, never stored in clear.
    let items = app.scan_all().await;
    let profile = items
        .iter()
        .find(|i| pk(i) == format!("USER#{id}") && i["sk"].as_s().unwrap() == "PROFILE")
        .unwrap();
    let hash = profile["password_hash"].as_s().unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!format!("{items:?}").contains(PASSWORD));

    // A new password ends every session of the user.
    let second = "a different long passphrase";
    app.patch(&path)
        .bearer(&admin)
        .json(&json!({"password": second}))
        .send()
        .await
        .expect(200);
    app.get("/auth/me")
        .bearer(&old_access)
        .send()
        .await
        .expect_problem(401, "invalid_token");
    app.post("/auth/login")
        .from_ip(fresh_ip())
        .json(&json!({"email": "invitee01@example.com", "password": second}))
        .send()
        .await
        .expect(200);

    // The policy applies, against the user's own names too.
    for bad in ["short", "password123", "invitee01", "Invitee01@example.com"] {
        let problem = app
            .patch(&path)
            .bearer(&admin)
            .json(&json!({"password": bad}))
            .send()
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(fields(&problem), ["password"], "{bad}");
    }

    // Audited by name, never by value.
    let audit = app
        .get(&format!("{path}/audit"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    let text = audit.to_string();
    assert!(!text.contains(PASSWORD) && !text.contains(second) && !text.contains("argon2"));
    assert!(audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["fields"] == json!(["password"]) && e["actor"] == format!("user:{admin_id}")));

    // Only an admin person, and not on themself through this route.
    let key = app.api_key(&admin, &["users:write"]).await;
    app.patch(&path)
        .header("x-api-key", &key)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect_problem(403, "forbidden");
    app.patch(&format!("/users/{admin_id}"))
        .bearer(&admin)
        .json(&json!({"password": "an admin's new passphrase"}))
        .send()
        .await
        .expect_problem(403, "forbidden");
    let (me, my_token, _) = app.user("selfish").await;
    app.patch(&format!("/users/{me}"))
        .bearer(&my_token)
        .json(&json!({"password": "my very own passphrase"}))
        .send()
        .await
        .expect_problem(403, "forbidden");
}

#[tokio::test]
async fn bulk_patch_refuses_duplicates_and_empty_updates_and_counts_real_changes() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let a = app.create_user(&admin, "bulka").await;
    let b = app.create_user(&admin, "bulkb").await;
    let c = app.create_user(&admin, "bulkc").await;
    let problem = app
        .patch("/users/bulk")
        .bearer(&admin)
        .json(&json!({"ids": [a, b, a], "update": {"display_name": "Twice"}}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
    assert_eq!(fields(&problem), ["ids"]);
    // The same id in another spelling is still the same user.
    let problem = app
        .patch("/users/bulk")
        .bearer(&admin)
        .json(&json!({"ids": [a, a.to_uppercase()], "update": {"display_name": "Twice"}}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
    assert_eq!(fields(&problem), ["ids"]);
    // An id that cannot name a user makes the whole request malformed.
    let problem = app
        .patch("/users/bulk")
        .bearer(&admin)
        .json(&json!({"ids": [a, "g728b4fa-4248-1e3a-8a5d-2f346baa9455"], "update": {"display_name": "Bad"}}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
    assert_eq!(fields(&problem), ["ids[1]"]);
    let problem = app
        .patch("/users/bulk")
        .bearer(&admin)
        .json(&json!({"ids": [a], "update": {}}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
    assert_eq!(fields(&problem), ["update"]);
    assert_eq!(user(&app, &admin, &a).await["version"], 1);

    app.post(&format!("/users/{c}/deactivate"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    let res = app
        .patch("/users/bulk")
        .bearer(&admin)
        .json(&json!({"ids": [a, b, c], "update": {"status": "inactive"}}))
        .send()
        .await
        .expect(200);
    assert_eq!(res["updated"], 2, "{res}");
    let statuses: Vec<&Value> = res["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["status"])
        .collect();
    assert_eq!(statuses, [200, 200, 200]);
    let again = app
        .patch("/users/bulk")
        .bearer(&admin)
        .json(&json!({"ids": [a, b, c], "update": {"status": "inactive"}}))
        .send()
        .await
        .expect(200);
    assert_eq!(again["updated"], 0);
    assert_eq!(user(&app, &admin, &c).await["version"], 2);
}

#[tokio::test]
async fn if_match_uses_strong_comparison() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let id = app.create_user(&admin, "tagged").await;
    let path = format!("/users/{id}");
    let patch = |tag: &str, name: &str| {
        app.patch(&path)
            .bearer(&admin)
            .header("if-match", tag)
            .json(&json!({"display_name": name}))
            .send()
    };
    patch("W/\"1\"", "weak")
        .await
        .expect_problem(412, "precondition_failed");
    patch("\"2\"", "future")
        .await
        .expect_problem(412, "precondition_failed");
    patch("\"1\"", "strong").await.expect(200);
    // A list matches when any strong member does; weak members never do.
    patch("W/\"2\", \"7\"", "listed")
        .await
        .expect_problem(412, "precondition_failed");
    patch("\"7\", \"2\"", "listed").await.expect(200);
    patch("*", "any").await.expect(200);
    assert_eq!(user(&app, &admin, &id).await["version"], 4);
    // `*` needs a current representation: nothing to match on an unknown user.
    app.patch(&format!("/users/{}", uuid::Uuid::now_v7()))
        .bearer(&admin)
        .header("if-match", "*")
        .json(&json!({"display_name": "nobody"}))
        .send()
        .await
        .expect_problem(404, "not_found");
    app.delete(&path)
        .bearer(&admin)
        .header("if-match", "W/\"4\"")
        .send()
        .await
        .expect_problem(412, "precondition_failed");
    app.delete(&path)
        .bearer(&admin)
        .header("if-match", "\"4\"")
        .send()
        .await
        .expect(204);
}

#[tokio::test]
async fn api_keys_never_give_admin_power() {
    let app = TestApp::new().await;
    let (admin_id, admin) = app.admin("boss").await;
    let key = app.api_key(&admin, &["users:write", "users:read"]).await;
    let id = app.create_user(&admin, "plain").await;
    let path = format!("/users/{id}");

    with_key(app.post("/users"), &key)
        .json(&json!({"email": "root@example.com", "username": "root", "is_admin": true}))
        .send()
        .await
        .expect_problem(403, "forbidden");
    let bulk = with_key(app.post("/users/bulk"), &key)
        .json(&json!({"users": [
            {"email": "root@example.com", "username": "root", "password": PASSWORD, "is_admin": true},
            {"email": "worker@example.com", "username": "worker", "is_admin": false},
        ]}))
        .send()
        .await
        .expect(200);
    assert_eq!(bulk["results"][0]["status"], 403, "{bulk}");
    assert_eq!(bulk["results"][0]["error"]["code"], "forbidden");
    assert_eq!(bulk["results"][1]["status"], 201);
    app.post("/auth/login")
        .from_ip(fresh_ip())
        .json(&json!({"email": "root@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect_problem(401, "invalid_credentials");
    for method in ["PATCH", "PUT"] {
        for flag in [true, false] {
            with_key(app.request(method.parse().unwrap(), &path), &key)
                .json(&json!({"is_admin": flag}))
                .send()
                .await
                .expect_problem(403, "forbidden");
        }
    }
    let bulk = with_key(app.patch("/users/bulk"), &key)
        .json(&json!({"ids": [id], "update": {"is_admin": true}}))
        .send()
        .await;
    let promoted = match bulk.status.as_u16() {
        403 => 0,
        _ => {
            let body = bulk.expect(200);
            assert_eq!(body["results"][0]["status"], 403, "{body}");
            body["updated"].as_u64().unwrap()
        }
    };
    assert_eq!(promoted, 0);
    // An admin's account is out of a key's reach: a new email would let the key's holder
    // reset the admin's password.
    with_key(app.patch(&format!("/users/{admin_id}")), &key)
        .json(&json!({"email": "attacker@example.com"}))
        .send()
        .await
        .expect_problem(403, "forbidden");
    assert_eq!(user(&app, &admin, &id).await["is_admin"], false);
    assert_eq!(app.stats(&admin).await["active"], 3);

    // The admin person still does all of it.
    app.patch(&path)
        .bearer(&admin)
        .json(&json!({"is_admin": true}))
        .send()
        .await
        .expect(200);
    let bulk = app
        .post("/users/bulk")
        .bearer(&admin)
        .json(&json!({"users": [{"email": "root@example.com", "username": "root", "is_admin": true}]}))
        .send()
        .await
        .expect(200);
    assert_eq!(bulk["results"][0]["status"], 201);
    // A key still edits what is not authority on a non-admin.
    with_key(app.patch("/users/bulk"), &key)
        .json(&json!({"ids": [bulk["results"][0]["user"]["id"].as_str().unwrap()], "update": {"display_name": "Root"}}))
        .send()
        .await
        .expect(200);
}

#[tokio::test]
async fn no_index_holds_the_password_hash() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    app.user("hashed").await;
    let client = app.state.store.client();
    let table = &app.state.config.table_name;
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("describe table");
    let indexes = described
        .table()
        .unwrap()
        .global_secondary_indexes()
        .to_vec();
    assert_eq!(indexes.len(), 5);
    for index in &indexes {
        let name = index.index_name().unwrap();
        let projection = index.projection().unwrap();
        assert_ne!(
            projection.projection_type(),
            Some(&aws_sdk_dynamodb::types::ProjectionType::All),
            "{name} projects every attribute, the password hash included"
        );
        assert!(
            !projection
                .non_key_attributes()
                .iter()
                .any(|a| a == "password_hash"),
            "{name} projects the password hash"
        );
        // What the index really holds: no item carries a hash.
        let items = client
            .scan()
            .table_name(table)
            .index_name(name)
            .send()
            .await
            .expect("scan index")
            .items
            .unwrap_or_default();
        assert!(!items.is_empty(), "{name} is empty");
        assert!(items.iter().all(|i| !i.contains_key("password_hash")));
    }

    // Listing and lookups still return the whole user resource.
    for sort in ["created_at", "email", "username", "display_name"] {
        let page = app
            .get(&format!("/users?sort={sort}"))
            .bearer(&admin)
            .send()
            .await
            .expect(200);
        let hashed = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == "hashed")
            .cloned()
            .unwrap_or_else(|| panic!("sort={sort}: {page}"));
        assert!(hashed["last_login_at"].is_string(), "{hashed}");
        assert_eq!(hashed["version"], 1);
    }
    let by_email = app
        .get("/users/by-email/hashed@example.com")
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(by_email["username"], "hashed");
}
