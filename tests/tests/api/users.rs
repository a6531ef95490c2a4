//! The users function against DynamoDB Local: administration, lookups, lifecycle,
//! GDPR erasure, optimistic concurrency, audit, stats.

use std::collections::{HashMap, HashSet};

use futures::future::join_all;
use userhub_tests::{json, pk, TestApp, PASSWORD};

#[tokio::test]
async fn admin_creates_users_with_role_and_status() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let res = app
        .post("/users")
        .bearer(&admin)
        .json(&json!({"email": "new@example.com", "username": "newbie", "is_admin": true, "status": "inactive"}))
        .send()
        .await;
    let user = res.expect(201);
    assert_eq!(
        (user["is_admin"].as_bool(), user["status"].as_str()),
        (Some(true), Some("inactive"))
    );
    assert!(res
        .header("location")
        .unwrap()
        .ends_with(user["id"].as_str().unwrap()));
    // Without a password the account cannot log in.
    let id = app.create_user(&admin, "nopass").await;
    assert!(!id.is_empty());
    app.post("/auth/login")
        .json(&json!({"email": "nopass@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect_problem(401, "invalid_credentials");
    app.post("/users")
        .bearer(&admin)
        .json(&json!({"email": "new@example.com", "username": "other"}))
        .send()
        .await
        .expect_problem(409, "email_taken");
}

#[tokio::test]
async fn reads_lookups_etags_and_object_level_access() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let (me, my_token, _) = app.user("alice").await;
    let (other, _, _) = app.user("bob").await;

    let res = app.get(&format!("/users/{me}")).bearer(&admin).send().await;
    assert_eq!(res.expect(200)["username"], "alice");
    let etag = res.header("etag").unwrap().to_owned();
    let cached = app
        .get(&format!("/users/{me}"))
        .bearer(&admin)
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());

    app.get(&format!("/users/{me}"))
        .bearer(&my_token)
        .send()
        .await
        .expect(200);
    app.get(&format!("/users/{other}"))
        .bearer(&my_token)
        .send()
        .await
        .expect_problem(404, "not_found");
    app.get("/users/not-a-uuid")
        .bearer(&admin)
        .send()
        .await
        .expect_problem(404, "not_found");
    app.get("/users/by-email/ALICE@example.com")
        .bearer(&my_token)
        .send()
        .await
        .expect_problem(403, "forbidden");
    app.get("/stats/users")
        .bearer(&my_token)
        .send()
        .await
        .expect_problem(403, "forbidden");
    app.post(&format!("/users/{other}/deactivate"))
        .bearer(&my_token)
        .send()
        .await
        .expect_problem(403, "forbidden");

    let by_email = app
        .get("/users/by-email/ALICE@example.com")
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(by_email["id"], me.as_str());
    let by_name = app
        .get("/users/by-username/Bob")
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(by_name["id"], other.as_str());
    app.get("/users/by-username/nobody")
        .bearer(&admin)
        .send()
        .await
        .expect_problem(404, "not_found");

    let key = app
        .post("/api-keys")
        .bearer(&admin)
        .json(&json!({"name": "reader", "scopes": ["users:read"]}))
        .send()
        .await
        .expect(201)["key"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get(&format!("/users/{other}"))
        .header("x-api-key", &key)
        .send()
        .await
        .expect(200);
    app.patch(&format!("/users/{other}"))
        .header("x-api-key", &key)
        .json(&json!({"display_name": "x"}))
        .send()
        .await
        .expect_problem(403, "forbidden");
}

#[tokio::test]
async fn users_edit_only_their_own_profile_fields() {
    let app = TestApp::new().await;
    let (me, token, _) = app.user("carol").await;
    let updated = app
        .patch(&format!("/users/{me}"))
        .bearer(&token)
        .json(
            &json!({"display_name": "Carol C", "profile_picture_url": "https://example.com/c.png"}),
        )
        .send()
        .await
        .expect(200);
    assert_eq!(updated["display_name"], "Carol C");
    app.patch(&format!("/users/{me}"))
        .bearer(&token)
        .json(&json!({"is_admin": true}))
        .send()
        .await
        .expect_problem(403, "forbidden");
    app.patch(&format!("/users/{me}"))
        .bearer(&token)
        .json(&json!({"password_hash": "x"}))
        .send()
        .await
        .expect_problem(400, "unknown_fields");
    let after = app
        .get(&format!("/users/{me}"))
        .bearer(&token)
        .send()
        .await
        .expect(200);
    assert_eq!(after["is_admin"], false);
    assert_eq!(after["version"], 2);
}

#[tokio::test]
async fn racing_patches_with_one_if_match_give_one_winner() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let id = app.create_user(&admin, "target").await;
    let path = format!("/users/{id}");
    let racers = (0..2).map(|i| {
        app.patch(&path)
            .bearer(&admin)
            .header("if-match", "\"1\"")
            .json(&json!({"display_name": format!("racer {i}")}))
            .send()
    });
    let results = join_all(racers).await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
    let loser = results.iter().find(|r| r.status == 412).unwrap();
    loser.expect_problem(412, "precondition_failed");
    let user = app.get(&path).bearer(&admin).send().await.expect(200);
    assert_eq!(user["version"], 2);
}

#[tokio::test]
async fn concurrent_patches_without_if_match_lose_nothing() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let id = app.create_user(&admin, "many").await;
    let path = format!("/users/{id}");
    let writes = (0..5).map(|i| {
        let body = if i % 2 == 0 {
            json!({"display_name": format!("name {i}")})
        } else {
            json!({"profile_picture_url": format!("https://example.com/{i}.png")})
        };
        app.patch(&path).bearer(&admin).json(&body).send()
    });
    let ok = join_all(writes)
        .await
        .iter()
        .filter(|r| r.status == 200)
        .count();
    let user = app.get(&path).bearer(&admin).send().await.expect(200);
    // Every successful write is one version; none overwrote another unseen.
    assert_eq!(user["version"].as_u64().unwrap(), 1 + ok as u64);
    assert!(ok >= 1);
}

async fn assert_reservations_match_users(app: &TestApp) {
    let items = app.scan_all().await;
    let mut users: HashMap<String, (String, String)> = HashMap::new();
    let mut emails: HashMap<String, String> = HashMap::new();
    let mut usernames: HashMap<String, String> = HashMap::new();
    for item in &items {
        let key = pk(item);
        let owner = || item["user_id"].as_s().unwrap().clone();
        if let Some(email) = key.strip_prefix("EMAIL#") {
            assert!(emails.insert(email.to_owned(), owner()).is_none());
        } else if let Some(name) = key.strip_prefix("USERNAME#") {
            assert!(usernames.insert(name.to_owned(), owner()).is_none());
        } else if key.starts_with("USER#") && item["sk"].as_s().unwrap() == "PROFILE" {
            let id = item["id"].as_s().unwrap().clone();
            users.insert(
                id,
                (
                    item["email"].as_s().unwrap().clone(),
                    item["username"].as_s().unwrap().clone(),
                ),
            );
        }
    }
    assert_eq!(emails.len(), users.len(), "one email reservation per user");
    assert_eq!(
        usernames.len(),
        users.len(),
        "one username reservation per user"
    );
    for (id, (email, username)) in &users {
        assert_eq!(emails.get(email), Some(id), "email {email} of {id}");
        assert_eq!(
            usernames.get(username),
            Some(id),
            "username {username} of {id}"
        );
    }
}

#[tokio::test]
async fn ten_racing_email_changes_to_one_address_have_one_winner() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let a = app.create_user(&admin, "usera").await;
    let b = app.create_user(&admin, "userb").await;
    let patches = (0..10).map(|i| {
        let id = if i % 2 == 0 { &a } else { &b };
        app.patch(&format!("/users/{id}"))
            .bearer(&admin)
            .json(&json!({"email": "wanted@example.com"}))
            .send()
    });
    let results = join_all(patches).await;
    let holders: HashSet<String> = [&a, &b]
        .into_iter()
        .filter(|id| {
            results.iter().any(|r| {
                r.status == 200
                    && r.json()["id"] == id.as_str()
                    && r.json()["email"] == "wanted@example.com"
            })
        })
        .cloned()
        .collect();
    assert_eq!(
        holders.len(),
        1,
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in &results {
        assert!(
            r.status == 200 || (r.status == 409 && r.json()["code"] == "email_taken"),
            "{:?}",
            r.body
        );
    }
    assert_reservations_match_users(&app).await;
}

#[tokio::test]
async fn anonymize_erases_every_trace_and_frees_the_email() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let email = "secret.person@example.com";
    let user = app
        .post("/auth/register")
        .json(&json!({"email": email, "username": "secretperson", "password": PASSWORD, "display_name": "Zebulon Quixote",
            "profile_picture_url": "https://example.com/zq.png"}))
        .send()
        .await
        .expect(201);
    let id = user["id"].as_str().unwrap();
    let tokens = app.login(email).await;
    let access = tokens["access_token"].as_str().unwrap();
    // A failed login too, so rate-limit and audit items exist.
    app.post("/auth/login")
        .json(&json!({"email": email, "password": "wrong password here"}))
        .send()
        .await
        .expect(401);

    let anon = app
        .post(&format!("/users/{id}/anonymize"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(anon["email"], format!("anon-{id}@anon.invalid"));
    assert_eq!(anon["username"], format!("anon-{id}"));
    assert_eq!(anon["status"], "deleted");
    assert!(
        anon["display_name"].is_null()
            && anon["profile_picture_url"].is_null()
            && anon["last_login_at"].is_null()
    );

    let dump = format!("{:?}", app.scan_all().await).to_lowercase();
    for needle in [
        "secret.person",
        "secretperson",
        "zebulon",
        "quixote",
        "zq.png",
    ] {
        assert!(!dump.contains(needle), "{needle} survives anonymisation");
    }
    app.get("/auth/me")
        .bearer(access)
        .send()
        .await
        .expect_problem(401, "invalid_token");
    app.post("/auth/refresh")
        .json(&json!({"refresh_token": tokens["refresh_token"]}))
        .send()
        .await
        .expect_problem(401, "invalid_grant");
    app.post(&format!("/users/{id}/restore"))
        .bearer(&admin)
        .send()
        .await
        .expect_problem(409, "conflict");
    app.register(email, "secretperson").await;
    assert_reservations_match_users(&app).await;
}

#[tokio::test]
async fn lifecycle_moves_end_sessions_and_admins_cannot_remove_themselves() {
    let app = TestApp::new().await;
    let (admin_id, admin) = app.admin("boss").await;
    let (id, token, _) = app.user("dave").await;

    let off = app
        .post(&format!("/users/{id}/deactivate"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(off["status"], "inactive");
    app.get("/auth/me")
        .bearer(&token)
        .send()
        .await
        .expect_problem(401, "invalid_token");
    app.post(&format!("/users/{id}/activate"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    app.login("dave@example.com").await;

    app.delete(&format!("/users/{id}"))
        .bearer(&admin)
        .send()
        .await
        .expect(204);
    let deleted = app
        .get(&format!("/users/{id}"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(deleted["status"], "deleted");
    // Soft delete keeps the email reserved.
    app.post("/auth/register")
        .json(&json!({"email": "dave@example.com", "username": "dave2", "password": PASSWORD}))
        .send()
        .await
        .expect_problem(409, "email_taken");
    app.post(&format!("/users/{id}/activate"))
        .bearer(&admin)
        .send()
        .await
        .expect_problem(409, "conflict");
    let back = app
        .post(&format!("/users/{id}/restore"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    assert_eq!(back["status"], "active");

    app.delete(&format!("/users/{id}?hard=true"))
        .bearer(&admin)
        .send()
        .await
        .expect(204);
    app.get(&format!("/users/{id}"))
        .bearer(&admin)
        .send()
        .await
        .expect_problem(404, "not_found");
    app.register("dave@example.com", "dave").await;

    // An admin cannot take its own access away through the admin routes, in any of the
    // five ways (another admin can).
    for (method, path, body) in [
        (
            "PATCH",
            format!("/users/{admin_id}"),
            Some(json!({"is_admin": false})),
        ),
        ("POST", format!("/users/{admin_id}/deactivate"), None),
        ("POST", format!("/users/{admin_id}/anonymize"), None),
        ("DELETE", format!("/users/{admin_id}"), None),
        ("DELETE", format!("/users/{admin_id}?hard=true"), None),
    ] {
        let mut req = app.request(method.parse().unwrap(), &path).bearer(&admin);
        if let Some(b) = &body {
            req = req.json(b);
        }
        req.send().await.expect_problem(409, "self_action");
    }
    let stats = app.stats(&admin).await;
    assert_eq!(stats["active"], 2);
}

/// Two admins, the only ones, demoting each other at once: at most one wins, and an active
/// admin always remains (the loser gets 409 `last_admin`, or 401/403 once its own demotion
/// landed first).
#[tokio::test]
async fn two_admins_demoting_each_other_leave_one_admin() {
    for trial in 0..20 {
        let app = TestApp::new().await;
        let (a_id, a) = app.admin("ann").await;
        let (b_id, b) = app.admin("bob").await;
        let demote = |target: String, token: String| {
            let app = &app;
            async move {
                app.patch(&format!("/users/{target}"))
                    .bearer(&token)
                    .json(&json!({"is_admin": false}))
                    .send()
                    .await
            }
        };
        let (ra, rb) = tokio::join!(demote(b_id, a), demote(a_id, b));
        for r in [&ra, &rb] {
            match r.status.as_u16() {
                409 => assert_eq!(r.json()["code"], "last_admin", "trial {trial}"),
                status => assert!(matches!(status, 200 | 401 | 403), "trial {trial}: {status}"),
            }
        }
        let wins = [&ra, &rb].iter().filter(|r| r.status == 200).count();
        assert!(wins <= 1, "trial {trial}: both demotions succeeded");
        let counts = app.state.store.status_counts().await.expect("counters");
        assert_eq!(counts.active_admins, 2 - wins as i64, "trial {trial}");
        assert!(counts.active_admins >= 1, "trial {trial}");
    }
}

#[tokio::test]
async fn audit_trail_lists_changes_newest_first_with_paging() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let id = app.create_user(&admin, "eve").await;
    for i in 0..4 {
        app.patch(&format!("/users/{id}"))
            .bearer(&admin)
            .json(&json!({"display_name": format!("Eve {i}")}))
            .send()
            .await
            .expect(200);
    }
    app.post(&format!("/users/{id}/deactivate"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    let first = app
        .get(&format!("/users/{id}/audit?limit=4"))
        .bearer(&admin)
        .send()
        .await;
    let page = first.expect(200);
    let actions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["deactivated", "updated", "updated", "updated"]);
    assert_eq!(page["items"][1]["fields"], json!(["display_name"]));
    assert!(
        !page.to_string().contains("Eve 3"),
        "audit must not hold values"
    );
    assert!(first.header("link").unwrap().contains("rel=\"next\""));
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("/users/{id}/audit?limit=4&cursor={cursor}"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    let rest_actions: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(rest_actions, ["updated", "created"]);
    let other = app.create_user(&admin, "frank").await;
    app.get(&format!("/users/{other}/audit?cursor={cursor}"))
        .bearer(&admin)
        .send()
        .await
        .expect_problem(400, "invalid_cursor");
    app.get(&format!("/users/{id}/audit?cursor=garbage"))
        .bearer(&admin)
        .send()
        .await
        .expect_problem(400, "invalid_cursor");
    app.get(&format!("/users/{id}/audit?limit=0"))
        .bearer(&admin)
        .send()
        .await
        .expect_problem(400, "validation_failed");
}

#[tokio::test]
async fn stats_match_a_full_count_after_a_random_sequence() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let mut ids: Vec<String> = Vec::new();
    // A fixed-seed LCG: random-looking, but the same sequence on every run.
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    for step in 0..200 {
        let roll = next() % 10;
        if ids.is_empty() || roll < 4 {
            ids.push(app.create_user(&admin, &format!("user{step}")).await);
            continue;
        }
        let id = ids[next() % ids.len()].clone();
        let (method, path) = match roll {
            4 | 5 => ("POST", format!("/users/{id}/deactivate")),
            6 => ("POST", format!("/users/{id}/activate")),
            7 => ("DELETE", format!("/users/{id}")),
            8 => ("POST", format!("/users/{id}/restore")),
            _ => {
                ids.retain(|x| *x != id);
                ("DELETE", format!("/users/{id}?hard=true"))
            }
        };
        let res = app
            .request(method.parse().unwrap(), &path)
            .bearer(&admin)
            .send()
            .await;
        assert!(
            [200, 204, 409].contains(&res.status.as_u16()),
            "{method} {path}: {:?}",
            res.body
        );
    }
    let stats = app.stats(&admin).await;
    let mut counted: HashMap<String, i64> = HashMap::new();
    for item in app.scan_all().await {
        if pk(&item).starts_with("USER#") && item["sk"].as_s().unwrap() == "PROFILE" {
            *counted
                .entry(item["status"].as_s().unwrap().clone())
                .or_default() += 1;
        }
    }
    for status in ["active", "inactive", "deleted"] {
        assert_eq!(
            stats[status],
            counted.get(status).copied().unwrap_or(0),
            "{status}: {stats}"
        );
    }
    assert_eq!(stats["total"], counted.values().sum::<i64>());
}
