//! The promises that must hold whatever the interleaving of requests, each raced many times
//! against DynamoDB Local: a change of a user's authority outlives no login in flight, the
//! lockout counts every verified guess, one lockout bucket per account, the session cap, no
//! transaction over DynamoDB's 100 actions, and API keys that die with their creator.
//! Assertions are about what holds afterwards, never about timing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::future::join_all;
use serde_json::Value;
use userhub_tests::{fresh_ip, json, TestApp, TestResponse, PASSWORD};

/// Trials per race: enough that a window of a few milliseconds is hit many times.
const TRIALS: u64 = 20;
/// Logins racing each change.
const RACERS: usize = 4;

/// Limits out of the way of tests that race logins rather than count them.
const GENEROUS: [(&str, &str); 3] = [
    ("RATE_LIMIT_LOGIN_ACCOUNT", "100000/900"),
    ("RATE_LIMIT_LOGIN_IP", "100000/60"),
    ("RATE_LIMIT_PASSWORD_USER", "100000/60"),
];

async fn try_login(app: &TestApp, name: (&str, &str), password: &str) -> TestResponse {
    app.post("/auth/login")
        .from_ip(fresh_ip())
        .json(&json!({name.0: name.1, "password": password}))
        .send()
        .await
}

/// `try_login` as a client that retries a 503 `unavailable` (up to 3 times), as its
/// `Retry-After` invites: under 100 writers of one user, DynamoDB Local gives up waiting for
/// its item locks ("this request will succeed in actual DynamoDB API").
async fn login_retrying_503(app: &TestApp, name: (&str, &str), password: &str) -> TestResponse {
    let mut res = try_login(app, name, password).await;
    for _ in 0..3 {
        if res.status != 503 {
            break;
        }
        res = try_login(app, name, password).await;
    }
    res
}

/// How long `RACERS` parallel logins take here and now, to spread the changes over their
/// flight.
async fn login_time(app: &TestApp, email: &str, password: &str) -> Duration {
    let started = Instant::now();
    for res in join_all((0..RACERS).map(|_| try_login(app, ("email", email), password))).await {
        res.expect(200);
    }
    started.elapsed()
}

/// `RACERS` logins with `password`, and `change` started a little later each trial (from
/// at once to past a whole login's `flight`) so that across the trials it lands at every
/// point of the logins, the last write included; returns the logins' token responses.
async fn race_logins<F: std::future::Future<Output = ()>>(
    app: &TestApp,
    (email, password): (&str, &str),
    flight: Duration,
    trial: u64,
    change: F,
) -> Vec<Value> {
    let logins = join_all((0..RACERS).map(|_| try_login(app, ("email", email), password)));
    let change = async {
        tokio::time::sleep(flight * (trial % 16) as u32 / 12).await;
        change.await;
    };
    let (results, ()) = tokio::join!(logins, change);
    results
        .into_iter()
        .filter_map(|r| {
            assert!(
                [200, 401].contains(&r.status.as_u16()),
                "a racing login answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
            (r.status == 200).then(|| r.json())
        })
        .collect()
}

/// Every token of `tokens` is dead: no access token works and no refresh token refreshes.
async fn assert_all_dead(app: &TestApp, tokens: &[Value]) {
    for t in tokens {
        app.get("/auth/me")
            .bearer(t["access_token"].as_str().unwrap())
            .send()
            .await
            .expect_problem(401, "invalid_token");
        app.post("/auth/refresh")
            .json(&json!({"refresh_token": t["refresh_token"]}))
            .send()
            .await
            .expect_problem(401, "invalid_grant");
    }
}

fn path(id: &str) -> String {
    format!("/users/{id}")
}

#[tokio::test]
async fn logins_racing_a_demotion_never_keep_admin_power() {
    let app = TestApp::with_env(&GENEROUS).await;
    let (_, boss) = app.admin("boss").await;
    let (id, _) = app.admin("target").await;
    let target = ("target@example.com", PASSWORD);
    let flight = login_time(&app, target.0, target.1).await;
    let mut tokens_seen = 0;
    for trial in 0..TRIALS {
        app.patch(&path(&id))
            .bearer(&boss)
            .json(&json!({"is_admin": true}))
            .send()
            .await
            .expect(200);
        let demote = async {
            app.patch(&path(&id))
                .bearer(&boss)
                .json(&json!({"is_admin": false}))
                .send()
                .await
                .expect(200);
        };
        let tokens = race_logins(&app, target, flight, trial, demote).await;
        tokens_seen += tokens.len();
        // The demotion has returned: no token of any of those logins lists users or
        // promotes its user again, whatever its role claim says.
        for t in &tokens {
            let access = t["access_token"].as_str().unwrap();
            let listed = app.get("/users").bearer(access).send().await;
            assert!(
                [401, 403].contains(&listed.status.as_u16()),
                "trial {trial}: a token listed users after the demotion ({})",
                listed.status
            );
            let promoted = app
                .patch(&path(&id))
                .bearer(access)
                .json(&json!({"is_admin": true}))
                .send()
                .await;
            assert!(
                [401, 403].contains(&promoted.status.as_u16()),
                "trial {trial}: a token re-promoted its user ({})",
                promoted.status
            );
        }
        let target = app.get(&path(&id)).bearer(&boss).send().await.expect(200);
        assert_eq!(target["is_admin"], false);
    }
    eprintln!(
        "{tokens_seen} tokens from {} racing logins",
        TRIALS as usize * RACERS
    );
    assert!(tokens_seen > 0, "no login ever won a race");
}

/// Races logins against an admin's lifecycle move of their user (`"<method> <path>"`, with
/// `{id}` for the user), undone with `undo` between trials; no token of them may live on.
async fn race_a_lifecycle_move(change: &str, undo: &str) {
    let app = TestApp::with_env(&GENEROUS).await;
    let (_, boss) = app.admin("boss").await;
    let (id, _, _) = app.user("target").await;
    let target = ("target@example.com", PASSWORD);
    let flight = login_time(&app, target.0, target.1).await;
    let send = |route: &str| {
        let (method, path) = route.split_once(' ').unwrap();
        app.request(method.parse().unwrap(), &path.replace("{id}", &id))
            .bearer(&boss)
            .send()
    };
    for trial in 0..TRIALS {
        if trial > 0 {
            send(undo).await.expect(200);
        }
        let moved = async {
            let res = send(change).await;
            assert!(res.status.is_success(), "{change}: {}", res.status);
        };
        let tokens = race_logins(&app, target, flight, trial, moved).await;
        assert_all_dead(&app, &tokens).await;
    }
}

#[tokio::test]
async fn logins_racing_a_deactivation_leave_no_live_session() {
    race_a_lifecycle_move("POST /users/{id}/deactivate", "POST /users/{id}/activate").await;
}

#[tokio::test]
async fn logins_racing_a_deletion_leave_no_live_session() {
    race_a_lifecycle_move("DELETE /users/{id}", "POST /users/{id}/restore").await;
}

#[tokio::test]
async fn logins_racing_a_password_change_leave_only_the_changing_session() {
    let app = TestApp::with_env(&GENEROUS).await;
    let (_, home, _) = app.user("target").await;
    let flight = login_time(&app, "target@example.com", PASSWORD).await;
    let password = |n: u64| format!("{PASSWORD} number {n}");
    let mut current = PASSWORD.to_owned();
    for trial in 0..TRIALS {
        let next = password(trial);
        let change = async {
            app.post("/auth/password")
                .bearer(&home)
                .json(&json!({"current_password": current, "new_password": next}))
                .send()
                .await
                .expect(204);
        };
        let tokens = race_logins(
            &app,
            ("target@example.com", &current),
            flight,
            trial,
            change,
        )
        .await;
        assert_all_dead(&app, &tokens).await;
        app.get("/auth/me").bearer(&home).send().await.expect(200);
        current = next;
    }
}

/// The `login_failed` events in a user's audit trail.
async fn failed_logins(app: &TestApp, admin: &str, id: &str) -> usize {
    let events = app
        .get(&format!("/users/{id}/audit?limit=100"))
        .bearer(admin)
        .send()
        .await
        .expect(200);
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "login_failed")
        .count()
}

/// Sends `guesses` at once; returns how many were answered 401 (verified and wrong), 429
/// (refused before any hash was checked) and 200.
async fn guess(app: &TestApp, name: (&str, &str), guesses: &[String]) -> HashMap<u16, usize> {
    let answers = join_all(guesses.iter().map(|p| try_login(app, name, p))).await;
    let mut counts = HashMap::new();
    for a in answers {
        let status = a.status.as_u16();
        match status {
            401 => {
                a.expect_problem(401, "invalid_credentials");
            }
            429 => {
                a.expect_problem(429, "rate_limited");
            }
            200 => {}
            _ => panic!("a guess answered {status}"),
        }
        *counts.entry(status).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn parallel_guesses_verify_at_most_the_lockout_limit() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("root").await;
    let (id, _, _) = app.user("victim").await;
    let wrong: Vec<String> = (0..50).map(|i| format!("wrong guess number {i}")).collect();
    let counts = guess(&app, ("email", "victim@example.com"), &wrong).await;
    let verified = counts.get(&401).copied().unwrap_or(0);
    eprintln!("50 parallel wrong guesses: {counts:?}");
    assert!(
        verified <= 5,
        "{verified} of 50 parallel guesses were checked"
    );
    assert_eq!(verified + counts.get(&429).copied().unwrap_or(0), 50);
    assert_eq!(failed_logins(&app, &admin, &id).await, verified);

    // Past the limit the right password among parallel guesses gets nowhere either.
    let mut mixed: Vec<String> = (0..19).map(|i| format!("another guess {i}")).collect();
    mixed.insert(7, PASSWORD.to_owned());
    let counts = guess(&app, ("email", "victim@example.com"), &mixed).await;
    assert_eq!(counts.get(&200), None, "the lockout let a login through");
    assert_eq!(counts.get(&429).copied(), Some(20));
    assert_eq!(failed_logins(&app, &admin, &id).await, verified);
    // The window ends, and with it the lockout.
    app.state.clock.advance(900);
    app.login("victim@example.com").await;
}

#[tokio::test]
async fn parallel_guesses_of_an_unknown_account_are_counted_the_same() {
    let app = TestApp::new().await;
    let wrong: Vec<String> = (0..50).map(|i| format!("wrong guess number {i}")).collect();
    let counts = guess(&app, ("email", "ghost@example.com"), &wrong).await;
    assert!(counts.get(&401).copied().unwrap_or(0) <= 5, "{counts:?}");
}

#[tokio::test]
async fn one_lockout_bucket_per_account_whichever_name_is_used() {
    let app = TestApp::new().await;
    app.register("both@example.com", "bothnames").await;
    let wrong = "not the password at all";
    // Failures by either name count against the one account.
    for name in [
        ("email", "both@example.com"),
        ("username", "bothnames"),
        ("email", "BOTH@example.com"),
        ("username", "BothNames"),
        ("email", "both@example.com"),
    ] {
        try_login(&app, name, wrong)
            .await
            .expect_problem(401, "invalid_credentials");
    }
    for name in [("username", "bothnames"), ("email", "both@example.com")] {
        try_login(&app, name, PASSWORD)
            .await
            .expect_problem(429, "rate_limited");
    }

    // A name that is no account has its own bucket, and answers just like an account's.
    let mut bodies = Vec::new();
    for _ in 0..5 {
        let res = try_login(&app, ("email", "ghost@example.com"), wrong).await;
        let mut body = res.expect_problem(401, "invalid_credentials");
        body.as_object_mut().unwrap().remove("request_id");
        bodies.push(body);
    }
    let locked = try_login(&app, ("email", "ghost@example.com"), wrong).await;
    locked.expect_problem(429, "rate_limited");
    let other_name = try_login(&app, ("username", "ghost"), wrong).await;
    let mut body = other_name.expect_problem(401, "invalid_credentials");
    body.as_object_mut().unwrap().remove("request_id");
    assert_eq!(body, bodies[0]);
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
}

/// The session items in a user's partition.
async fn session_items(app: &TestApp, id: &str) -> usize {
    let out = app
        .state
        .store
        .client()
        .query()
        .table_name(&app.state.config.table_name)
        .key_condition_expression("pk = :pk AND begins_with(sk, :s)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{id}")))
        .expression_attribute_values(":s", AttributeValue::S("SESSION#".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("query sessions");
    out.count as usize
}

#[tokio::test]
async fn the_session_cap_holds_under_100_parallel_logins() {
    let mut env = GENEROUS.to_vec();
    env.push(("MAX_SESSIONS_PER_USER", "10"));
    let app = TestApp::with_env(&env).await;
    let (id, _, _) = app.user("busy").await;
    let answers = join_all(
        (0..100).map(|_| login_retrying_503(&app, ("email", "busy@example.com"), PASSWORD)),
    )
    .await;
    let mut live = 0;
    for a in &answers {
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        let me = app
            .get("/auth/me")
            .bearer(a.json()["access_token"].as_str().unwrap())
            .send()
            .await;
        live += usize::from(me.status == 200);
    }
    eprintln!("100 parallel logins left {live} live sessions");
    assert!((1..=10).contains(&live), "{live} live sessions");
    assert!(session_items(&app, &id).await <= 10);
}

/// Writes `n` session items into the user's partition directly, as a table from before the
/// cap held (or with a larger cap) would hold them.
async fn seed_sessions(app: &TestApp, id: &str, n: usize) {
    let now = userhub::domain::Timestamp::now();
    let items: Vec<WriteRequest> = (0..n)
        .map(|i| {
            let slot = 1000 + i;
            let item = HashMap::from([
                ("pk".to_owned(), AttributeValue::S(format!("USER#{id}"))),
                (
                    "sk".to_owned(),
                    AttributeValue::S(format!("SESSION#{slot}")),
                ),
                (
                    "session_id".to_owned(),
                    AttributeValue::S(format!("{slot}-{}", uuid::Uuid::now_v7())),
                ),
                ("user_id".to_owned(), AttributeValue::S(id.to_owned())),
                ("refresh_hash".to_owned(), AttributeValue::S("0".repeat(64))),
                ("created_at".to_owned(), AttributeValue::S(now.to_string())),
                (
                    "ttl".to_owned(),
                    AttributeValue::N((now.unix_secs() + 3600).to_string()),
                ),
                ("authority".to_owned(), AttributeValue::N("1".into())),
            ]);
            let put = PutRequest::builder().set_item(Some(item)).build().unwrap();
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    for chunk in items.chunks(25) {
        app.state
            .store
            .client()
            .batch_write_item()
            .request_items(&app.state.config.table_name, chunk.to_vec())
            .send()
            .await
            .expect("seed sessions");
    }
}

/// A user with a real session and 300 more session items; returns (id, access token).
async fn crowded_user(app: &TestApp, name: &str) -> (String, String) {
    let (id, access, _) = app.user(name).await;
    seed_sessions(app, &id, 300).await;
    (id, access)
}

#[tokio::test]
async fn authority_changes_of_a_user_with_300_sessions_work() {
    let app = TestApp::with_env(&GENEROUS).await;
    let (_, boss) = app.admin("boss").await;
    for (name, route) in [
        ("quitter", "POST /users/{id}/deactivate"),
        ("forgotten", "POST /users/{id}/anonymize"),
        ("deleted", "DELETE /users/{id}"),
        ("erased", "DELETE /users/{id}?hard=true"),
    ] {
        let (id, access) = crowded_user(&app, name).await;
        let (method, route) = route.split_once(' ').unwrap();
        let res = app
            .request(method.parse().unwrap(), &route.replace("{id}", &id))
            .bearer(&boss)
            .send()
            .await;
        assert!(
            res.status.is_success(),
            "{route}: {} {}",
            res.status,
            String::from_utf8_lossy(&res.body)
        );
        app.get("/auth/me")
            .bearer(&access)
            .send()
            .await
            .expect_problem(401, "invalid_token");
        assert_eq!(
            session_items(&app, &id).await,
            0,
            "{name}'s sessions stayed"
        );
    }

    let (id, keep) = crowded_user(&app, "rekeyed").await;
    let other = app.login("rekeyed@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post("/auth/password")
        .bearer(&keep)
        .json(&json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}))
        .send()
        .await
        .expect(204);
    app.get("/auth/me").bearer(&keep).send().await.expect(200);
    app.get("/auth/me")
        .bearer(&other)
        .send()
        .await
        .expect_problem(401, "invalid_token");
    assert_eq!(session_items(&app, &id).await, 1);
}

#[tokio::test]
async fn a_login_beside_300_sessions_works_and_trims_them() {
    let app = TestApp::with_env(&GENEROUS).await;
    let (id, _) = crowded_user(&app, "crowded").await;
    for _ in 0..7 {
        app.login("crowded@example.com").await;
    }
    assert!(session_items(&app, &id).await <= 10);
}

/// Every scope there is.
const ALL_SCOPES: [&str; 4] = ["users:read", "users:write", "users:export", "users:import"];

#[tokio::test]
async fn api_keys_die_with_their_creators_authority_and_never_act_as_admin() {
    let app = TestApp::new().await;
    let (_, boss) = app.admin("boss").await;
    let (victim, _, _) = app.user("victim").await;
    let key = app.api_key(&boss, &ALL_SCOPES).await;
    // Every scope, and still no admin power.
    app.get("/users")
        .header("x-api-key", &key)
        .send()
        .await
        .expect(200);
    for (method, route) in [
        ("POST", "/api-keys".to_owned()),
        ("GET", "/stats/users".to_owned()),
        ("GET", format!("/users/{victim}/audit")),
        ("DELETE", path(&victim)),
        ("POST", format!("/users/{victim}/deactivate")),
    ] {
        let req = app.request(method.parse().unwrap(), &route);
        let req = if method == "POST" && route == "/api-keys" {
            req.json(&json!({"name": "more", "scopes": ["users:read"]}))
        } else {
            req
        };
        req.header("x-api-key", &key)
            .send()
            .await
            .expect_problem(403, "forbidden");
    }

    for (name, change) in [
        ("demoted", "demote"),
        ("quitter", "deactivate"),
        ("gone", "delete"),
    ] {
        let (creator, token) = app.admin(name).await;
        let key = app.api_key(&token, &ALL_SCOPES).await;
        let read = || app.get(&path(&victim)).header("x-api-key", &key).send();
        read().await.expect(200);
        match change {
            "demote" => app
                .patch(&path(&creator))
                .bearer(&boss)
                .json(&json!({"is_admin": false}))
                .send()
                .await
                .expect(200),
            "deactivate" => app
                .post(&format!("/users/{creator}/deactivate"))
                .bearer(&boss)
                .send()
                .await
                .expect(200),
            _ => app
                .delete(&path(&creator))
                .bearer(&boss)
                .send()
                .await
                .expect(204),
        };
        read().await.expect_problem(401, "invalid_token");
        app.get("/users")
            .header("x-api-key", &key)
            .send()
            .await
            .expect_problem(401, "invalid_token");
    }
}
