//! The auth function against DynamoDB Local: registration, login, sessions, tokens,
//! rate limits, API keys.

use std::time::Instant;

use futures::future::join_all;
use userhub::auth::tokens::AccessClaims;
use userhub_tests::{fresh_ip, json, median, pk, TestApp, PASSWORD};

#[tokio::test]
async fn register_login_me() {
    let app = TestApp::new().await;
    let res = app
        .post("/auth/register")
        .json(&json!({"email": "Ann@Example.com", "username": "Ann", "password": PASSWORD, "display_name": " Ann Lee "}))
        .send()
        .await;
    let user = res.expect(201);
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["username"], "ann");
    assert_eq!(user["display_name"], "Ann Lee");
    assert_eq!(user["status"], "active");
    assert_eq!(user["is_admin"], false);
    assert_eq!(user["version"], 1);
    assert!(
        user.get("password_hash").is_none()
            && !String::from_utf8_lossy(&res.body).contains("argon2")
    );
    assert_eq!(
        res.header("location").unwrap(),
        format!("/users/{}", user["id"].as_str().unwrap())
    );

    let tokens = app.login("ann@example.com").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(tokens["user"]["id"], user["id"]);
    let by_username = app
        .post("/auth/login")
        .json(&json!({"username": "ANN", "password": PASSWORD}))
        .send()
        .await
        .expect(200);
    assert_eq!(by_username["user"]["id"], user["id"]);

    let me = app
        .get("/auth/me")
        .bearer(tokens["access_token"].as_str().unwrap())
        .send()
        .await;
    assert_eq!(me.expect(200)["id"], user["id"]);
    assert_eq!(me.header("etag"), Some("\"1\""));
    assert!(me.json()["last_login_at"].is_string());
}

#[tokio::test]
async fn twenty_concurrent_registrations_of_one_email_make_one_user() {
    let app = TestApp::new().await;
    let attempts = (0..20).map(|i| {
        app.post("/auth/register")
            .from_ip(fresh_ip())
            .json(&json!({"email": "race@example.com", "username": format!("racer{i}"), "password": PASSWORD}))
            .send()
    });
    let results = join_all(attempts).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    let taken = results
        .iter()
        .filter(|r| r.status == 409 && r.json()["code"] == "email_taken")
        .count();
    assert_eq!(
        (created, taken),
        (1, 19),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let items = app.scan_all().await;
    let users = items
        .iter()
        .filter(|i| pk(i).starts_with("USER#") && i["sk"].as_s().unwrap() == "PROFILE")
        .count();
    let emails = items.iter().filter(|i| pk(i).starts_with("EMAIL#")).count();
    let usernames = items
        .iter()
        .filter(|i| pk(i).starts_with("USERNAME#"))
        .count();
    assert_eq!((users, emails, usernames), (1, 1, 1));
    let stats = app.state.store.status_counts().await.unwrap();
    assert_eq!(stats.active, 1);
}

#[tokio::test]
async fn duplicate_username_is_its_own_conflict() {
    let app = TestApp::new().await;
    app.register("a@example.com", "taken").await;
    app.post("/auth/register")
        .json(&json!({"email": "b@example.com", "username": "TAKEN", "password": PASSWORD}))
        .send()
        .await
        .expect_problem(409, "username_taken");
}

#[tokio::test]
async fn registration_reports_every_invalid_field() {
    let app = TestApp::new().await;
    let body = app
        .post("/auth/register")
        .json(&json!({"email": "x".repeat(300), "username": "a", "password": "password", "profile_picture_url": "http://x"}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        ["email", "password", "profile_picture_url", "username"]
    );
    app.post("/auth/register")
        .json(&json!({}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
    app.post("/auth/register")
        .json(&json!({"email": ["a"], "username": "ann", "password": PASSWORD}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let app = TestApp::new().await;
    let (_, access, r1) = app.user("rota").await;
    let second = app
        .post("/auth/refresh")
        .json(&json!({"refresh_token": r1}))
        .send()
        .await
        .expect(200);
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    let access2 = second["access_token"].as_str().unwrap().to_owned();
    app.get("/auth/me")
        .bearer(&access2)
        .send()
        .await
        .expect(200);

    app.post("/auth/refresh")
        .json(&json!({"refresh_token": r1}))
        .send()
        .await
        .expect_problem(401, "invalid_grant");
    app.post("/auth/refresh")
        .json(&json!({"refresh_token": r2}))
        .send()
        .await
        .expect_problem(401, "invalid_grant");
    for token in [&access, &access2] {
        app.get("/auth/me")
            .bearer(token)
            .send()
            .await
            .expect_problem(401, "invalid_token");
    }
    app.post("/auth/refresh")
        .json(&json!({"refresh_token": "garbage"}))
        .send()
        .await
        .expect_problem(401, "invalid_grant");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_look_the_same() {
    let app = TestApp::with_env(&[
        ("RATE_LIMIT_LOGIN_ACCOUNT", "1000/900"),
        ("RATE_LIMIT_LOGIN_IP", "1000/60"),
    ])
    .await;
    app.register("known@example.com", "known").await;
    let app = &app;
    let attempt = |email: &'static str| async move {
        let started = Instant::now();
        let res = app
            .post("/auth/login")
            .json(&json!({"email": email, "password": "not the password at all"}))
            .send()
            .await;
        (started.elapsed(), res)
    };
    // Warm up both paths (first argon2 call, connection pool).
    attempt("known@example.com").await;
    attempt("nobody@example.com").await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    let mut bodies = Vec::new();
    for _ in 0..21 {
        for (email, times) in [
            ("known@example.com", &mut known),
            ("nobody@example.com", &mut unknown),
        ] {
            let (elapsed, res) = attempt(email).await;
            times.push(elapsed);
            let mut body = res.expect_problem(401, "invalid_credentials");
            body.as_object_mut().unwrap().remove("request_id");
            bodies.push((res.status, serde_json::to_vec(&body).unwrap()));
        }
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "responses differ");
    let (k, u) = (median(known), median(unknown));
    let ratio = k.as_secs_f64() / u.as_secs_f64();
    println!("known {k:?} vs unknown {u:?} (ratio {ratio:.2})");
    assert!(
        (0.8..1.25).contains(&ratio),
        "known {k:?} vs unknown {u:?} (ratio {ratio:.2})"
    );
}

#[tokio::test]
async fn login_names_longer_than_any_account_can_have_are_a_400() {
    let app = TestApp::new().await;
    // 300 four-byte characters: past the key size DynamoDB allows, once a 500 (make fuzz).
    let long_email = format!("{}@example.com", "\u{1F600}".repeat(300));
    for (body, field) in [
        (json!({"email": long_email, "password": "x"}), "email"),
        (
            json!({"username": "u".repeat(33), "password": "x"}),
            "username",
        ),
    ] {
        let problem = app
            .post("/auth/login")
            .json(&body)
            .send()
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    // Within the limits, a malformed name is just an unknown one.
    app.post("/auth/login")
        .json(&json!({"email": "not an email@@", "password": "x"}))
        .send()
        .await
        .expect_problem(401, "invalid_credentials");
}

#[tokio::test]
async fn sixth_failed_login_is_locked_out_until_the_window_ends() {
    let app = TestApp::new().await;
    app.register("lock@example.com", "lock").await;
    for email in ["lock@example.com", "ghost@example.com"] {
        for _ in 0..5 {
            app.post("/auth/login")
                .from_ip(fresh_ip())
                .json(&json!({"email": email, "password": "wrong password here"}))
                .send()
                .await
                .expect_problem(401, "invalid_credentials");
        }
        let res = app
            .post("/auth/login")
            .from_ip(fresh_ip())
            .json(&json!({"email": email, "password": "wrong password here"}))
            .send()
            .await;
        res.expect_problem(429, "rate_limited");
        let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry));
        assert_eq!(res.header("ratelimit-limit"), Some("5"));
        assert_eq!(res.header("ratelimit-remaining"), Some("0"));
    }
    // The right password does not get through a lockout either.
    app.post("/auth/login")
        .from_ip(fresh_ip())
        .json(&json!({"email": "LOCK@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect_problem(429, "rate_limited");
    app.state.clock.advance(900);
    app.login("lock@example.com").await;
}

#[tokio::test]
async fn per_ip_login_limit() {
    let app = TestApp::with_env(&[("RATE_LIMIT_LOGIN_IP", "3/60")]).await;
    let ip = fresh_ip();
    for _ in 0..3 {
        app.post("/auth/login")
            .from_ip(ip)
            .json(&json!({"email": "x@example.com", "password": "whatever it is"}))
            .send()
            .await
            .expect_problem(401, "invalid_credentials");
    }
    app.post("/auth/login")
        .from_ip(ip)
        .json(&json!({"email": "y@example.com", "password": "whatever it is"}))
        .send()
        .await
        .expect_problem(429, "rate_limited");
    // The forwarded-for header is the client's to set, so it changes nothing.
    app.post("/auth/login")
        .from_ip(ip)
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"email": "y@example.com", "password": "whatever it is"}))
        .send()
        .await
        .expect_problem(429, "rate_limited");
}

#[tokio::test]
async fn per_ip_registration_limit() {
    let app = TestApp::with_env(&[("RATE_LIMIT_REGISTER_IP", "2/3600")]).await;
    let ip = fresh_ip();
    for i in 0..2 {
        app.post("/auth/register")
            .from_ip(ip)
            .json(&json!({"email": format!("r{i}@example.com"), "username": format!("r{i}x"), "password": PASSWORD}))
            .send()
            .await
            .expect(201);
    }
    app.post("/auth/register")
        .from_ip(ip)
        .json(&json!({"email": "r9@example.com", "username": "r9x", "password": PASSWORD}))
        .send()
        .await
        .expect_problem(429, "rate_limited");
}

#[tokio::test]
async fn forged_and_near_miss_tokens_are_rejected() {
    let app = TestApp::new().await;
    let (user_id, access, refresh) = app.user("jwt").await;
    let session_id = refresh.split('.').nth(1).unwrap().to_owned();
    app.get("/auth/me").bearer(&access).send().await.expect(200);
    let now = userhub::domain::Timestamp::now().unix_secs();
    let good = AccessClaims {
        iss: "userhub".into(),
        aud: "userhub".into(),
        sub: user_id,
        sid: session_id,
        role: "user".into(),
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: "j".into(),
        typ: "access".into(),
    };
    let keys = &app.state.tokens;
    app.get("/auth/me")
        .bearer(&keys.sign(&good))
        .send()
        .await
        .expect(200);
    let mut forged = vec![
        keys.sign(&AccessClaims {
            exp: now - 120,
            iat: now - 1000,
            nbf: now - 1000,
            ..good.clone()
        }),
        keys.sign(&AccessClaims {
            aud: "someone-else".into(),
            ..good.clone()
        }),
        keys.sign(&AccessClaims {
            iss: "someone-else".into(),
            ..good.clone()
        }),
        keys.sign(&AccessClaims {
            typ: "refresh".into(),
            ..good.clone()
        }),
        keys.sign(&AccessClaims {
            role: "admin".into(),
            sid: "not-a-session".into(),
            ..good.clone()
        }),
    ];
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = b64.encode(serde_json::to_vec(&good).unwrap());
    forged.push(format!(
        "{}.{payload}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#)
    ));
    forged.push(format!(
        "{}.{payload}.c2lnbmF0dXJl",
        b64.encode(br#"{"alg":"HS512","typ":"JWT"}"#)
    ));
    let (head, rest) = access.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    forged.push(format!("{head}.{payload}.{sig}"));
    for token in forged {
        app.get("/auth/me")
            .bearer(&token)
            .send()
            .await
            .expect_problem(401, "invalid_token");
    }
    app.get("/auth/me")
        .bearer(&access)
        .header("x-api-key", "uhk_whatever")
        .send()
        .await
        .expect_problem(400, "bad_request");
    let res = app.get("/auth/me").send().await;
    res.expect_problem(401, "unauthorized");
    assert!(res
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer"));
}

#[tokio::test]
async fn logout_logout_all_and_password_change_end_tokens_at_once() {
    let app = TestApp::new().await;
    let (_, a1, _) = app.user("out").await;
    let a2 = app.login("out@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post("/auth/logout")
        .bearer(&a1)
        .send()
        .await
        .expect(204);
    app.get("/auth/me")
        .bearer(&a1)
        .send()
        .await
        .expect_problem(401, "invalid_token");
    app.get("/auth/me").bearer(&a2).send().await.expect(200);

    let a3 = app.login("out@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post("/auth/logout-all")
        .bearer(&a2)
        .send()
        .await
        .expect(204);
    for t in [&a2, &a3] {
        app.get("/auth/me")
            .bearer(t)
            .send()
            .await
            .expect_problem(401, "invalid_token");
    }

    let keep = app.login("out@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app.login("out@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post("/auth/password")
        .bearer(&keep)
        .json(&json!({"current_password": "wrong one entirely", "new_password": "a brand new passphrase"}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
    app.post("/auth/password")
        .bearer(&keep)
        .json(&json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}))
        .send()
        .await
        .expect(204);
    app.get("/auth/me")
        .bearer(&other)
        .send()
        .await
        .expect_problem(401, "invalid_token");
    app.get("/auth/me").bearer(&keep).send().await.expect(200);
    app.post("/auth/login")
        .json(&json!({"email": "out@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect_problem(401, "invalid_credentials");
    app.post("/auth/login")
        .json(&json!({"email": "out@example.com", "password": "a brand new passphrase"}))
        .send()
        .await
        .expect(200);
}

#[tokio::test]
async fn oldest_session_ends_past_the_cap() {
    let app = TestApp::with_env(&[("MAX_SESSIONS_PER_USER", "2")]).await;
    let (_, first, _) = app.user("cap").await;
    let second = app.login("cap@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let third = app.login("cap@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get("/auth/me")
        .bearer(&first)
        .send()
        .await
        .expect_problem(401, "invalid_token");
    app.get("/auth/me").bearer(&second).send().await.expect(200);
    app.get("/auth/me").bearer(&third).send().await.expect(200);
}

#[tokio::test]
async fn patch_me_changes_profile_and_moves_reservations() {
    let app = TestApp::new().await;
    app.register("taken@example.com", "takenname").await;
    let (_, access, _) = app.user("mover").await;
    let user = app
        .patch("/auth/me")
        .bearer(&access)
        .json(&json!({"email": "moved@example.com", "display_name": "Moved", "current_password": PASSWORD}))
        .send()
        .await
        .expect(200);
    assert_eq!(user["email"], "moved@example.com");
    assert_eq!(user["version"], 2);
    app.post("/auth/login")
        .json(&json!({"email": "moved@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect(200);
    // The old address is free again; the taken one stays taken.
    app.register("mover@example.com", "newmover").await;
    app.patch("/auth/me")
        .bearer(&access)
        .json(&json!({"username": "takenname"}))
        .send()
        .await
        .expect_problem(409, "username_taken");
    app.patch("/auth/me")
        .bearer(&access)
        .json(&json!({"is_admin": true}))
        .send()
        .await
        .expect_problem(403, "forbidden");
    app.patch("/auth/me")
        .bearer(&access)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .expect_problem(400, "unknown_fields");
}

#[tokio::test]
async fn api_keys_are_admin_only_shown_once_and_revocable() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("root").await;
    let (_, user, _) = app.user("plain").await;
    app.get("/api-keys")
        .bearer(&user)
        .send()
        .await
        .expect_problem(403, "forbidden");
    app.post("/api-keys")
        .bearer(&admin)
        .json(&json!({"name": "etl", "scopes": ["users:fly"]}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
    let created = app
        .post("/api-keys")
        .bearer(&admin)
        .json(&json!({"name": "etl", "scopes": ["users:read"]}))
        .send()
        .await
        .expect(201);
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("uhk_"));
    let listed = app.get("/api-keys").bearer(&admin).send().await.expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(
        !listed.to_string().contains(&key),
        "the key is shown only once"
    );
    // Authenticated (the key is valid) but not allowed on an admin-only route.
    app.get("/api-keys")
        .header("x-api-key", &key)
        .send()
        .await
        .expect_problem(403, "forbidden");
    let id = created["id"].as_str().unwrap();
    app.delete(&format!("/api-keys/{id}"))
        .bearer(&admin)
        .send()
        .await
        .expect(204);
    app.get("/api-keys")
        .header("x-api-key", &key)
        .send()
        .await
        .expect_problem(401, "invalid_token");
    app.delete(&format!("/api-keys/{id}"))
        .bearer(&admin)
        .send()
        .await
        .expect_problem(404, "not_found");
}

#[tokio::test]
async fn api_keys_refuse_a_repeated_scope() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("root").await;
    // openapi.yaml's `scopes` has `uniqueItems: true`: a repeat is refused, not folded.
    let problem = app
        .post("/api-keys")
        .bearer(&admin)
        .json(&json!({"name": "etl", "scopes": ["users:write", "users:write"]}))
        .send()
        .await
        .expect_problem(400, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "scopes");
    assert_eq!(problem["errors"].as_array().unwrap().len(), 1);
    let listed = app.get("/api-keys").bearer(&admin).send().await.expect(200);
    assert!(listed["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn api_keys_page_with_limit_and_cursor_and_name_their_creator() {
    let app = TestApp::new().await;
    let (admin_id, admin) = app.admin("root").await;
    let mut made = Vec::new();
    for (i, expires) in [json!(null), json!("2999-01-01T00:00:00.000Z"), json!(null)]
        .into_iter()
        .enumerate()
    {
        let key = app
            .post("/api-keys")
            .bearer(&admin)
            .json(
                &json!({"name": format!("k{i}"), "scopes": ["users:read"], "expires_at": expires}),
            )
            .send()
            .await
            .expect(201);
        assert_eq!(key["created_by"], admin_id.as_str());
        let id = key["id"].as_str().unwrap().to_owned();
        // The UUIDv7 in the 32-hex-digit form the key itself carries.
        assert!(uuid::Uuid::try_parse(&id).is_ok_and(|u| u.simple().to_string() == id));
        assert!(key["key"]
            .as_str()
            .unwrap()
            .starts_with(&format!("uhk_{id}_")));
        made.push(id);
    }
    let first = app.get("/api-keys?limit=2").bearer(&admin).send().await;
    let page = first.expect(200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    assert!(first
        .header("link")
        .is_some_and(|l| l.contains("rel=\"next\"")));
    let rest = app
        .get(&format!("/api-keys?limit=2&cursor={cursor}"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    let mut seen: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(rest["next_cursor"].is_null());
    made.reverse();
    assert_eq!(seen, made, "newest first, each once");
    // A cursor of another list, or a tampered one, is a 400.
    let exports = format!("/exports?limit=1&cursor={cursor}");
    app.get(&exports)
        .bearer(&admin)
        .send()
        .await
        .expect_problem(400, "invalid_cursor");
    app.get(&format!("/api-keys?cursor={}x", &cursor[1..]))
        .bearer(&admin)
        .send()
        .await
        .expect_problem(400, "invalid_cursor");
    let newest = seen.pop().unwrap();
    app.delete(&format!("/api-keys/{newest}"))
        .bearer(&admin)
        .send()
        .await
        .expect(204);
}

#[tokio::test]
async fn inactive_accounts_cannot_log_in_with_the_right_password() {
    let app = TestApp::new().await;
    let (id, access, refresh) = app.user("sleepy").await;
    let id = userhub::domain::UserId::parse(&id).unwrap();
    userhub::users::transition(
        &app.state,
        id,
        userhub::users::Transition::Deactivate,
        None,
        userhub::domain::Actor::system(),
        "t",
    )
    .await
    .unwrap();
    app.get("/auth/me")
        .bearer(&access)
        .send()
        .await
        .expect_problem(401, "invalid_token");
    app.post("/auth/refresh")
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .expect_problem(401, "invalid_grant");
    app.post("/auth/login")
        .json(&json!({"email": "sleepy@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect_problem(401, "invalid_credentials");
}

#[tokio::test]
async fn first_admin_is_bootstrapped_once_without_a_baked_in_password() {
    use userhub::accounts::bootstrap::{ensure_admin, Bootstrap};
    let app = TestApp::new().await;
    let generated = ensure_admin(&app.state, None, None).await.unwrap();
    let Bootstrap::Generated { email, password } = generated else {
        panic!("expected a generated admin, got {generated:?}");
    };
    assert!(password.len() >= 32);
    let tokens = app
        .post("/auth/login")
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect(200);
    assert_eq!(tokens["user"]["is_admin"], true);
    // An admin exists now: a second run changes nothing, even with credentials given.
    let again = ensure_admin(
        &app.state,
        Some("other@example.com".into()),
        Some(PASSWORD.into()),
    )
    .await
    .unwrap();
    assert_eq!(again, Bootstrap::Exists);

    let fresh = TestApp::new().await;
    let created = ensure_admin(
        &fresh.state,
        Some("Chief@Example.com".into()),
        Some(PASSWORD.into()),
    )
    .await
    .unwrap();
    assert_eq!(
        created,
        Bootstrap::Created {
            email: "Chief@Example.com".into()
        }
    );
    fresh.login("chief@example.com").await;
}
