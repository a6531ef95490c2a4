//! Listing, search, paging, bulk operations and signup stats against DynamoDB Local.

use std::collections::HashSet;

use futures::StreamExt;
use serde_json::Value;
use userhub::domain::listing::ListParams;
use userhub::domain::{DisplayName, Email, Status, Timestamp, User, UserId, Username};
use userhub_tests::{json, TestApp};

const SEEDED: usize = 5_000;

/// How many of the brute-force comparison's walks page through the users at once.
const WALKS_AT_ONCE: usize = 4;

/// Deterministic, varied users: mixed-case names that collide, some without a name,
/// shared timestamps, every status.
fn seed_set() -> Vec<User> {
    let first = [
        "Ann", "bob", "Cleo", "dave", "Eve", "ann", "Zoë", "Émile", "li", "ann lee",
    ];
    let base = Timestamp::parse("2026-01-01T00:00:00.000Z")
        .unwrap()
        .unix_millis();
    (0..SEEDED)
        .map(|i| {
            let created = Timestamp::from_millis(base + (i as i64 / 3) * 60_000).unwrap();
            User {
                id: UserId::new(),
                email: Email::parse(&format!("user{i:04}@ex{}.com", i % 7)).unwrap(),
                username: Username::parse(&format!("u{}{i:04}", ["a", "b", "c"][i % 3])).unwrap(),
                display_name: (i % 9 != 0).then(|| {
                    DisplayName::parse(&format!("{} {}", first[i % first.len()], i % 13))
                        .unwrap()
                        .unwrap()
                }),
                profile_picture_url: None,
                status: match i % 20 {
                    0 => Status::Deleted,
                    1 | 2 => Status::Inactive,
                    _ => Status::Active,
                },
                is_admin: false,
                email_verified: i.is_multiple_of(4),
                created_at: created,
                updated_at: created,
                last_login_at: None,
                version: 1,
                authority: 1,
                password_hash: None,
            }
        })
        .collect()
}

/// The brute-force answer, written independently of the store's query plan.
fn expected(users: &[User], params: &[(&str, &str)]) -> Vec<String> {
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_lowercase())
    };
    let name = |u: &User| u.display_name.as_ref().map(|d| d.as_str().to_lowercase());
    let mut hits: Vec<&User> = users
        .iter()
        .filter(|u| match get("status") {
            Some(s) => u.status.as_str() == s,
            None => {
                get("include_deleted").as_deref() == Some("true") || u.status != Status::Deleted
            }
        })
        .filter(|u| get("email").is_none_or(|p| u.email.as_str().starts_with(&p)))
        .filter(|u| get("username").is_none_or(|p| u.username.as_str().starts_with(&p)))
        .filter(|u| get("name").is_none_or(|p| name(u).is_some_and(|n| n.starts_with(&p))))
        .filter(|u| {
            get("q").is_none_or(|q| {
                u.email.as_str().contains(&q)
                    || u.username.as_str().contains(&q)
                    || name(u).is_some_and(|n| n.contains(&q))
            })
        })
        .filter(|u| {
            get("created_after").is_none_or(|t| u.created_at >= Timestamp::parse(&t).unwrap())
        })
        .filter(|u| {
            get("created_before").is_none_or(|t| u.created_at < Timestamp::parse(&t).unwrap())
        })
        .collect();
    let sort = get("sort").unwrap_or_else(|| "created_at".into());
    hits.sort_by(|a, b| match sort.as_str() {
        "email" => a.email.cmp(&b.email),
        "username" => a.username.cmp(&b.username),
        "display_name" => {
            (name(a).unwrap_or_default(), a.id).cmp(&(name(b).unwrap_or_default(), b.id))
        }
        _ => (a.created_at, a.id).cmp(&(b.created_at, b.id)),
    });
    let desc = match get("order") {
        Some(o) => o == "desc",
        None => sort == "created_at",
    };
    if desc {
        hits.reverse();
    }
    hits.into_iter().map(|u| u.id.to_string()).collect()
}

fn query_string(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace(' ', "%20")
                    .replace('+', "%2B")
                    .replace(':', "%3A")
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn walk(app: &TestApp, token: &str, params: &[(&str, &str)]) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let mut qs = format!("limit=100&{}", query_string(params));
        if let Some(c) = &cursor {
            qs.push_str(&format!("&cursor={c}"));
        }
        let page = app
            .get(&format!("/users?{qs}"))
            .bearer(token)
            .send()
            .await
            .expect(200);
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
    panic!("paging did not end");
}

#[tokio::test]
async fn every_sort_order_and_filter_walks_to_the_brute_force_answer() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let mut users = seed_set();
    app.state.store.seed_users(&users).await.unwrap();
    // The admin is a user too.
    let admin_user = app.get("/auth/me").bearer(&admin).send().await.expect(200);
    let admin_id = UserId::parse(admin_user["id"].as_str().unwrap()).unwrap();
    users.push(app.state.store.user(admin_id).await.unwrap().unwrap());

    let filters: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("status", "inactive")],
        vec![("include_deleted", "true")],
        vec![("email", "USER1")],
        vec![("username", "ub")],
        vec![("name", "Ann")],
        vec![("q", "ee")],
        vec![
            ("created_after", "2026-01-01T10:00:00.000Z"),
            ("created_before", "2026-01-02T00:00:00Z"),
        ],
    ];
    let mut walks = Vec::new();
    for sort in ["created_at", "email", "username", "display_name"] {
        for order in ["asc", "desc"] {
            for filter in &filters {
                let mut params = vec![("sort", sort), ("order", order)];
                params.extend(filter.iter().copied());
                walks.push(params);
            }
        }
    }
    // A few walks at a time: each waits on one page after another, and DynamoDB Local
    // answers several queries at once.
    let walked: Vec<_> = futures::stream::iter(walks)
        .map(|params| async {
            let got = walk(&app, &admin, &params).await;
            (params, got)
        })
        .buffer_unordered(WALKS_AT_ONCE)
        .collect()
        .await;
    for (params, got) in walked {
        let want = expected(&users, &params);
        assert_eq!(got.len(), want.len(), "count for {params:?}");
        assert!(got == want, "order for {params:?}");
    }
}

#[tokio::test]
async fn pages_read_about_what_they_return_and_survive_concurrent_inserts() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let users = seed_set();
    app.state.store.seed_users(&users[..1_000]).await.unwrap();
    let params = ListParams {
        sort: Some("email".into()),
        ..Default::default()
    };
    let (query, _, _) = params.validate().unwrap();
    let page = app.state.store.list_users(&query, 20, None).await.unwrap();
    assert_eq!(page.items.len(), 20);
    assert!(page.read <= 40, "a page of 20 read {} items", page.read);

    // Walk by email while new users keep arriving between pages: nobody appears twice.
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut extra = users[1_000..].iter();
    loop {
        let qs = cursor
            .as_ref()
            .map_or(String::new(), |c| format!("&cursor={c}"));
        let page = app
            .get(&format!("/users?sort=email&limit=50{qs}"))
            .bearer(&admin)
            .send()
            .await
            .expect(200);
        for u in page["items"].as_array().unwrap() {
            assert!(
                seen.insert(u["id"].as_str().unwrap().to_owned()),
                "duplicate {u}"
            );
        }
        let batch: Vec<User> = extra.by_ref().take(10).cloned().collect();
        app.state.store.seed_users(&batch).await.unwrap();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(seen.len() >= 950);
}

#[tokio::test]
async fn bad_cursors_and_params_are_400s() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    app.state.store.seed_users(&seed_set()[..30]).await.unwrap();
    let first = app
        .get("/users?sort=email&limit=5")
        .bearer(&admin)
        .send()
        .await;
    let page = first.expect(200);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let link = first.header("link").unwrap();
    assert!(
        link.contains("sort=email") && link.contains("rel=\"next\""),
        "{link}"
    );
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [
        format!("/users?sort=email&limit=5&cursor={tampered}"),
        format!(
            "/users?sort=email&limit=5&cursor={}",
            &cursor[..cursor.len() - 4]
        ),
        format!("/users?sort=username&limit=5&cursor={cursor}"),
        format!("/users?sort=email&q=x&limit=5&cursor={cursor}"),
        "/users?cursor=%00%01".to_owned(),
    ] {
        app.get(&bad)
            .bearer(&admin)
            .send()
            .await
            .expect_problem(400, "invalid_cursor");
    }
    let next = app
        .get(&format!("/users?sort=email&limit=5&cursor={cursor}"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(next["items"].as_array().unwrap().len(), 5);
    for bad in [
        "/users?limit=0",
        "/users?limit=101",
        "/users?sort=age",
        "/users?created_after=soon",
        "/users?zip=1",
    ] {
        let res = app.get(bad).bearer(&admin).send().await;
        assert_eq!(res.status, 400, "{bad}");
    }
    let searched = app
        .post("/users/search")
        .bearer(&admin)
        .json(&json!({"sort": "email", "limit": 5, "include_deleted": true}))
        .send()
        .await
        .expect(200);
    assert_eq!(searched["items"].as_array().unwrap().len(), 5);
    let (_, user, _) = app.user("plain").await;
    app.get("/users")
        .bearer(&user)
        .send()
        .await
        .expect_problem(403, "forbidden");
}

#[tokio::test]
async fn bulk_create_reports_each_item_and_keeps_counters_exact() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let mut users: Vec<Value> = (0..100)
        .map(|i| json!({"email": format!("bulk{i}@example.com"), "username": format!("bulk{i}")}))
        .collect();
    users[10] = json!({"email": "not-an-email", "username": "bulkx10"});
    users[20] = json!({"email": "bulk-x20@example.com", "username": "x"});
    users[30] = json!({"email": "bulk-x30@example.com", "username": "bulkx30", "zip": 1});
    users[40] = json!({"email": "bulk1@example.com", "username": "bulkx40"});
    users[50] = json!({"email": "bulk-x50@example.com", "username": "bulk2"});
    let sent = app
        .post("/users/bulk")
        .bearer(&admin)
        .json(&json!({"users": users}))
        .send()
        .await;
    let res = sent.expect(200);
    let results = res["results"].as_array().unwrap();
    assert_eq!(results.len(), 100);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
    }
    let created = results.iter().filter(|r| r["status"] == 201).count();
    assert_eq!(created, 95);
    assert_eq!(results[10]["error"]["errors"][0]["field"], "email");
    assert_eq!(results[20]["error"]["errors"][0]["field"], "username");
    assert_eq!(results[30]["error"]["code"], "unknown_fields");
    assert_eq!(results[40]["error"]["code"], "email_taken");
    assert_eq!(results[50]["error"]["code"], "username_taken");
    // Each item's problem is a whole one: with the request's id, like any other.
    let request_id = sent.header("x-request-id").expect("a request id");
    for r in results.iter().filter(|r| r["status"] != 201) {
        assert_eq!(r["error"]["request_id"], request_id, "{r}");
        assert_eq!(r["error"]["status"], r["status"], "{r}");
    }
    let stats = app.stats(&admin).await;
    assert_eq!(stats["active"], 96);
    assert_eq!(stats["total"], 96);

    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"email": format!("m{i}@example.com"), "username": format!("many{i}")}))
        .collect();
    app.post("/users/bulk")
        .bearer(&admin)
        .json(&json!({"users": too_many}))
        .send()
        .await
        .expect_problem(400, "validation_failed");

    let ids: Vec<&str> = results
        .iter()
        .filter_map(|r| r["user"]["id"].as_str())
        .take(3)
        .collect();
    let mut ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
    ids.push(UserId::new().to_string());
    let patched = app
        .patch("/users/bulk")
        .bearer(&admin)
        .json(&json!({"ids": ids, "update": {"status": "inactive"}}))
        .send()
        .await
        .expect(200);
    assert_eq!(patched["updated"], 3);
    assert_eq!(patched["results"][3]["status"], 404);
    let stats = app.stats(&admin).await;
    assert_eq!(
        (stats["active"].as_i64(), stats["inactive"].as_i64()),
        (Some(93), Some(3))
    );
    let rejected = app
        .patch("/users/bulk")
        .bearer(&admin)
        .json(&json!({"ids": ids, "update": {"email": "x@example.com"}}))
        .send()
        .await
        .expect_problem(400, "unknown_fields");
    assert_eq!(rejected["errors"][0]["field"], "update.email");
}

#[tokio::test]
async fn bulk_is_gated_by_its_feature_flag() {
    let app = TestApp::with_env(&[("FEATURES", "users:export")]).await;
    let (_, admin) = app.admin("boss").await;
    app.post("/users/bulk")
        .bearer(&admin)
        .json(&json!({"users": [{"email": "a@example.com", "username": "abc"}]}))
        .send()
        .await
        .expect_problem(403, "feature_disabled");
}

#[tokio::test]
async fn signups_per_month_come_from_counters() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    app.register("s1@example.com", "signup1").await;
    app.register("s2@example.com", "signup2").await;
    let (year, month) = Timestamp::now().year_month();
    let stats = app
        .get(&format!("/stats/signups?year={year}"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(stats["year"], year);
    assert_eq!(stats["months"].as_object().unwrap().len(), 12);
    assert_eq!(stats["months"][month.to_string()], 3);
    let empty = app
        .get("/stats/signups?year=1999")
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert!(empty["months"]
        .as_object()
        .unwrap()
        .values()
        .all(|v| v == 0));
    app.get("/stats/signups?year=soon")
        .bearer(&admin)
        .send()
        .await
        .expect_problem(400, "validation_failed");
}
