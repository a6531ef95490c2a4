//! Account recovery, email verification and invitations against DynamoDB Local and moto's
//! SES: the links mailed, what redeeming them does, that each works once (also when raced),
//! that they expire and supersede each other, and that forgot-password tells nobody whether
//! an account exists.

use std::time::Instant;

use futures::future::join_all;
use serde_json::Value;
use userhub_tests::{
    eventually, fresh_ip, json, mail_once_sent, median, only_new, sent_mail, unique_email, TestApp,
    TestResponse, PASSWORD,
};

const VERIFY_SUBJECT: &str = "Verify your email address";
const RESET_SUBJECT: &str = "Reset your password";
const INVITE_SUBJECT: &str = "You are invited to userhub";
const CHANGED_SUBJECT: &str = "Your email address was changed";
const NEW_PASSWORD: &str = "a completely new passphrase";

/// `field` of every item of a list page.
fn item_strings<'a>(page: &'a Value, field: &str) -> Vec<&'a str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

/// Registers `email` and returns (user, the verification link's token).
async fn register(app: &TestApp, email: &str) -> (Value, String) {
    let username = email.split('@').next().unwrap().replace('-', "_");
    let user = app
        .register(email, &username[..username.len().min(32)])
        .await;
    let mails = sent_mail(email).await;
    let token = only_new(&mails, 0, VERIFY_SUBJECT).token("verify-email");
    (user, token)
}

async fn forgot(app: &TestApp, email: &str) -> TestResponse {
    app.post("/auth/password/forgot")
        .from_ip(fresh_ip())
        .json(&json!({ "email": email }))
        .send()
        .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> TestResponse {
    app.post("/auth/password/reset")
        .json(&json!({"token": token, "new_password": password}))
        .send()
        .await
}

async fn verify(app: &TestApp, token: &str) -> TestResponse {
    app.post("/auth/verify-email")
        .json(&json!({ "token": token }))
        .send()
        .await
}

async fn login(app: &TestApp, email: &str, password: &str) -> TestResponse {
    app.post("/auth/login")
        .from_ip(fresh_ip())
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
}

/// Asks for a reset link and returns its token.
async fn reset_token(app: &TestApp, email: &str) -> String {
    let before = sent_mail(email).await.len();
    forgot(app, email).await.expect(202);
    only_new(
        &mail_once_sent(email, before + 1).await,
        before,
        RESET_SUBJECT,
    )
    .token("reset-password")
}

#[tokio::test]
async fn registration_mails_a_verification_link_that_works_once() {
    let app = TestApp::new().await;
    let email = unique_email("ver");
    let (user, token) = register(&app, &email).await;
    assert_eq!(user["email_verified"], false);
    let mail = &sent_mail(&email).await[0];
    assert!(
        mail.body
            .contains(&format!("http://127.0.0.1:3000/verify-email?token={token}")),
        "{}",
        mail.body
    );
    assert_eq!(token.len(), 43);

    let verified_count = || async {
        app.state
            .store
            .status_counts()
            .await
            .unwrap()
            .email_verified
    };
    assert_eq!(verified_count().await, 0);
    let verified = verify(&app, &token).await.expect(200);
    assert_eq!(verified_count().await, 1);
    assert_eq!(verified["id"], user["id"]);
    assert_eq!(verified["email_verified"], true);
    assert_eq!(verified["version"], 2);
    verify(&app, &token)
        .await
        .expect_problem(400, "invalid_token");
    let me = login(&app, &email, PASSWORD).await.expect(200);
    assert_eq!(me["user"]["email_verified"], true);
    // The directory filters on it.
    let other = unique_email("vernot");
    register(&app, &other).await;
    let (_, admin) = app.admin("boss").await;
    for (filter, want) in [("true", &email), ("false", &other)] {
        let page = app
            .get(&format!("/users?email_verified={filter}&email=ver"))
            .bearer(&admin)
            .send()
            .await
            .expect(200);
        let emails = item_strings(&page, "email");
        assert_eq!(emails, [want.as_str()], "email_verified={filter}");
    }

    // Malformed, unknown, and a token of another purpose are all the same 400.
    for bad in ["", "short", &"A".repeat(43), &format!("{token}x")] {
        verify(&app, bad).await.expect_problem(400, "invalid_token");
    }
    let reset = reset_token(&app, &email).await;
    verify(&app, &reset)
        .await
        .expect_problem(400, "invalid_token");
    // The table holds only hashes of the tokens.
    let items = format!("{:?}", app.scan_all().await);
    assert!(!items.contains(&token) && !items.contains(&reset));
}

#[tokio::test]
async fn reset_sets_the_password_ends_every_session_and_works_once() {
    let app = TestApp::new().await;
    let email = unique_email("reset");
    register(&app, &email).await;
    let first = login(&app, &email, PASSWORD).await.expect(200);
    let second = login(&app, &email, PASSWORD).await.expect(200);

    let older = reset_token(&app, &email).await;
    let newer = reset_token(&app, &email).await;
    let mail = sent_mail(&email).await.pop().unwrap();
    assert!(mail.body.contains(&format!(
        "http://127.0.0.1:3000/reset-password?token={newer}"
    )));
    // A newer link voids the older one.
    reset(&app, &older, NEW_PASSWORD)
        .await
        .expect_problem(400, "invalid_token");
    // The policy applies, and a refused password leaves the link working.
    let body = reset(&app, &newer, "password")
        .await
        .expect_problem(400, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "new_password");
    reset(&app, &newer, &email)
        .await
        .expect_problem(400, "validation_failed");
    reset(&app, &newer, NEW_PASSWORD).await.expect(204);
    reset(&app, &newer, "yet another passphrase")
        .await
        .expect_problem(400, "invalid_token");

    for tokens in [&first, &second] {
        app.get("/auth/me")
            .bearer(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .expect_problem(401, "invalid_token");
        app.post("/auth/refresh")
            .json(&json!({"refresh_token": tokens["refresh_token"]}))
            .send()
            .await
            .expect_problem(401, "invalid_grant");
    }
    login(&app, &email, PASSWORD)
        .await
        .expect_problem(401, "invalid_credentials");
    let tokens = login(&app, &email, NEW_PASSWORD).await.expect(200);
    // Following the link proved the address.
    assert_eq!(tokens["user"]["email_verified"], true);
    let id = tokens["user"]["id"].as_str().unwrap();
    let (_, admin) = app.admin("boss").await;
    let audit = app
        .get(&format!("/users/{id}/audit"))
        .bearer(&admin)
        .send()
        .await
        .expect(200);
    let actions = item_strings(&audit, "action");
    assert!(actions.contains(&"password_reset"), "{actions:?}");
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "password_reset_requested")
            .count(),
        2
    );
}

#[tokio::test]
async fn links_expire() {
    let app = TestApp::new().await;
    let email = unique_email("late");
    let (_, verify_token) = register(&app, &email).await;
    let reset_link = reset_token(&app, &email).await;
    // The reset link ends after 30 minutes.
    app.state.clock.advance(30 * 60);
    reset(&app, &reset_link, NEW_PASSWORD)
        .await
        .expect_problem(400, "invalid_token");
    // The verification link lasts 2 days.
    app.state.clock.advance(2 * 86_400 - 30 * 60 - 5);
    let fresh_reset = reset_token(&app, &email).await;
    app.state.clock.advance(5);
    verify(&app, &verify_token)
        .await
        .expect_problem(400, "invalid_token");
    // A link minted after the clock moved still works for its own lifetime.
    reset(&app, &fresh_reset, NEW_PASSWORD).await.expect(204);
    login(&app, &email, NEW_PASSWORD).await.expect(200);
}

#[tokio::test]
async fn a_link_redeemed_in_parallel_works_exactly_once() {
    let app = TestApp::with_env(&[
        ("RATE_LIMIT_PASSWORD_USER", "100/60"),
        ("RATE_LIMIT_FORGOT_EMAIL", "100/3600"),
    ])
    .await;
    let email = unique_email("race");
    let (_, first) = register(&app, &email).await;
    let access = login(&app, &email, PASSWORD).await.expect(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Verification: several trials, each racing many redemptions of one fresh link.
    let mut token = first;
    for trial in 0..5 {
        let results = join_all((0..25).map(|_| verify(&app, &token))).await;
        let ok = results.iter().filter(|r| r.status == 200).count();
        let refused = results
            .iter()
            .filter(|r| r.status == 400 && r.json()["code"] == "invalid_token")
            .count();
        assert_eq!(
            (ok, refused),
            (1, 24),
            "trial {trial}: {:?}",
            results.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        // Unverify through an email change, then ask for a new link.
        let moved = unique_email("race");
        app.patch("/auth/me")
            .bearer(&access)
            .json(&json!({"email": moved, "current_password": PASSWORD}))
            .send()
            .await
            .expect(200);
        token = only_new(&sent_mail(&moved).await, 0, VERIFY_SUBJECT).token("verify-email");
    }
    // Reset: in each trial twenty redemptions race, and one sets its password.
    let email = app.get("/auth/me").bearer(&access).send().await.expect(200)["email"]
        .as_str()
        .unwrap()
        .to_owned();
    for trial in 0..3 {
        let token = reset_token(&app, &email).await;
        let passwords: Vec<String> = (0..20)
            .map(|i| format!("parallel passphrase {trial}-{i}"))
            .collect();
        let results = join_all(passwords.iter().map(|p| reset(&app, &token, p))).await;
        let winners: Vec<&String> = passwords
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.status == 204)
            .map(|(p, _)| p)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "trial {trial}: {:?}",
            results.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        assert!(results
            .iter()
            .all(|r| r.status == 204 || r.json()["code"] == "invalid_token"));
        login(&app, &email, winners[0]).await.expect(200);
    }
}

/// Three addresses: of an account, of no account, and of a soft-deleted account.
async fn known_unknown_deleted(app: &TestApp) -> [String; 3] {
    let (_, admin) = app.admin("boss").await;
    let [known, unknown, deleted] = ["known", "nobody", "gone"].map(unique_email);
    register(app, &known).await;
    let (gone, _) = register(app, &deleted).await;
    app.delete(&format!("/users/{}", gone["id"].as_str().unwrap()))
        .bearer(&admin)
        .send()
        .await
        .expect(204);
    [known, unknown, deleted]
}

#[tokio::test]
async fn forgot_answers_alike_and_mails_only_existing_accounts() {
    let app = TestApp::new().await;
    let [known, unknown, deleted] = known_unknown_deleted(&app).await;
    let mut bodies = Vec::new();
    for email in [&known, &unknown, &deleted] {
        let res = forgot(&app, email).await;
        let mut body = res.expect(202);
        assert_eq!(res.header("content-type"), Some("application/json"));
        body.as_object_mut().unwrap().remove("request_id");
        bodies.push((res.status, body));
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert_eq!(
        mail_once_sent(&known, 2).await.len(),
        2,
        "verification and reset"
    );
    assert!(sent_mail(&unknown).await.is_empty());
    assert_eq!(sent_mail(&deleted).await.len(), 1, "only the verification");
    // A malformed address is a validation error, which says nothing about accounts.
    forgot(&app, "not-an-address")
        .await
        .expect_problem(400, "validation_failed");
}

#[tokio::test]
async fn forgot_is_limited_per_address_whether_or_not_it_exists_and_per_ip() {
    let app = TestApp::with_env(&[("RATE_LIMIT_FORGOT_IP", "4/3600")]).await;
    let known = unique_email("lim");
    register(&app, &known).await;
    for email in [known.clone(), unique_email("ghost")] {
        for _ in 0..3 {
            forgot(&app, &email).await.expect(202);
        }
        let res = forgot(&app, &email).await;
        res.expect_problem(429, "rate_limited");
        assert_eq!(res.header("ratelimit-limit"), Some("3"));
    }
    // Three reset mails went out, not four.
    assert_eq!(sent_mail(&known).await.len(), 1 + 3);
    let ip = fresh_ip();
    for _ in 0..4 {
        app.post("/auth/password/forgot")
            .from_ip(ip)
            .json(&json!({"email": unique_email("ip")}))
            .send()
            .await
            .expect(202);
    }
    app.post("/auth/password/forgot")
        .from_ip(ip)
        .json(&json!({"email": unique_email("ip")}))
        .send()
        .await
        .expect_problem(429, "rate_limited");
    // Windows end.
    app.state.clock.advance(3600);
    forgot(&app, &known).await.expect(202);
}

/// Run alone (.config/nextest.toml), like the login-timing comparison.
#[tokio::test]
async fn forgot_password_takes_as_long_for_known_unknown_and_deleted_accounts() {
    let app = TestApp::with_env(&[
        ("RATE_LIMIT_FORGOT_EMAIL", "1000/3600"),
        ("RATE_LIMIT_FORGOT_IP", "1000/3600"),
    ])
    .await;
    let [known, unknown, deleted] = known_unknown_deleted(&app).await;
    let app = &app;
    let attempt = |email: String| async move {
        let started = Instant::now();
        let res = forgot(app, &email).await;
        res.expect(202);
        started.elapsed()
    };
    for email in [&known, &unknown, &deleted] {
        attempt(email.clone()).await;
    }
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..11 {
        for (email, times) in [&known, &unknown, &deleted]
            .into_iter()
            .zip(times.iter_mut())
        {
            times.push(attempt(email.clone()).await);
        }
    }
    let [k, u, d] = times.map(median);
    eprintln!("forgot-password medians: known {k:?}, unknown {u:?}, deleted {d:?}");
    for (name, other) in [("unknown", u), ("deleted", d)] {
        let ratio = k.as_secs_f64() / other.as_secs_f64();
        assert!(
            (0.8..1.25).contains(&ratio),
            "known {k:?} vs {name} {other:?} (ratio {ratio:.2})"
        );
    }
    assert_eq!(mail_once_sent(&known, 1 + 12).await.len(), 1 + 12);
    assert!(sent_mail(&unknown).await.is_empty());
}

#[tokio::test]
async fn an_invited_user_sets_a_password_and_logs_in() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let email = unique_email("inv");
    let created = app
        .post("/users")
        .bearer(&admin)
        .json(&json!({"email": email, "username": "invitee"}))
        .send()
        .await
        .expect(201);
    assert_eq!(created["email_verified"], false);
    let id = created["id"].as_str().unwrap();
    let first = only_new(&sent_mail(&email).await, 0, INVITE_SUBJECT).token("reset-password");
    // Re-sending makes a new link and voids the first.
    app.post(&format!("/users/{id}/invite"))
        .bearer(&admin)
        .send()
        .await
        .expect(202);
    let second = only_new(&sent_mail(&email).await, 1, INVITE_SUBJECT).token("reset-password");
    reset(&app, &first, NEW_PASSWORD)
        .await
        .expect_problem(400, "invalid_token");
    reset(&app, &second, NEW_PASSWORD).await.expect(204);
    let tokens = login(&app, &email, NEW_PASSWORD).await.expect(200);
    assert_eq!(tokens["user"]["email_verified"], true);
    // Now that a password is set, an invitation makes no sense.
    app.post(&format!("/users/{id}/invite"))
        .bearer(&admin)
        .send()
        .await
        .expect_problem(409, "password_already_set");

    // Only admins invite, and only existing users.
    let user = tokens["access_token"].as_str().unwrap();
    app.post(&format!("/users/{id}/invite"))
        .bearer(user)
        .send()
        .await
        .expect_problem(403, "forbidden");
    let nobody = userhub::domain::UserId::new();
    app.post(&format!("/users/{nobody}/invite"))
        .bearer(&admin)
        .send()
        .await
        .expect_problem(404, "not_found");
    // An invitation lasts 7 days.
    let late = unique_email("late");
    app.post("/users")
        .bearer(&admin)
        .json(&json!({"email": late, "username": "latecomer"}))
        .send()
        .await
        .expect(201);
    let token = only_new(&sent_mail(&late).await, 0, INVITE_SUBJECT).token("reset-password");
    app.state.clock.advance(7 * 86_400);
    reset(&app, &token, NEW_PASSWORD)
        .await
        .expect_problem(400, "invalid_token");
    // A user created with a password gets no invitation.
    let with_password = unique_email("pw");
    app.post("/users")
        .bearer(&admin)
        .json(&json!({"email": with_password, "username": "haspw", "password": PASSWORD}))
        .send()
        .await
        .expect(201);
    assert!(sent_mail(&with_password).await.is_empty());
}

#[tokio::test]
async fn bulk_created_users_without_a_password_are_invited() {
    let app = TestApp::new().await;
    let (_, admin) = app.admin("boss").await;
    let (invited, with_password) = (unique_email("bulkinv"), unique_email("bulkpw"));
    let body = app
        .post("/users/bulk")
        .bearer(&admin)
        .json(&json!({"users": [
            {"email": invited, "username": "bulkinvitee"},
            {"email": with_password, "username": "bulkhaspw", "password": PASSWORD},
        ]}))
        .send()
        .await
        .expect(200);
    assert!(
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == 201),
        "{body}"
    );
    let token = only_new(&sent_mail(&invited).await, 0, INVITE_SUBJECT).token("reset-password");
    reset(&app, &token, NEW_PASSWORD).await.expect(204);
    login(&app, &invited, NEW_PASSWORD).await.expect(200);
    assert!(sent_mail(&with_password).await.is_empty());
}

#[tokio::test]
async fn an_email_change_needs_the_password_and_mails_both_addresses() {
    let app = TestApp::new().await;
    let old = unique_email("old");
    let (user, token) = register(&app, &old).await;
    let id = user["id"].as_str().unwrap();
    verify(&app, &token).await.expect(200);
    let access = login(&app, &old, PASSWORD).await.expect(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let new = unique_email("new");
    // Without the current password, or with a wrong one: refused, on both routes.
    for path in ["/auth/me".to_owned(), format!("/users/{id}")] {
        for body in [
            json!({"email": new}),
            json!({"email": new, "current_password": "not my password"}),
        ] {
            let problem = app
                .patch(&path)
                .bearer(&access)
                .json(&body)
                .send()
                .await
                .expect_problem(400, "validation_failed");
            assert_eq!(problem["errors"][0]["field"], "current_password");
        }
    }
    // Other fields need no password.
    app.patch("/auth/me")
        .bearer(&access)
        .json(&json!({"display_name": "Ann"}))
        .send()
        .await
        .expect(200);
    let changed = app
        .patch("/auth/me")
        .bearer(&access)
        .json(&json!({"email": new, "current_password": PASSWORD}))
        .send()
        .await
        .expect(200);
    assert_eq!(changed["email"], new.as_str());
    assert_eq!(changed["email_verified"], false);
    // The stats count verified addresses in the same transaction.
    assert_eq!(
        app.state
            .store
            .status_counts()
            .await
            .unwrap()
            .email_verified,
        0
    );
    let link = only_new(&sent_mail(&new).await, 0, VERIFY_SUBJECT).token("verify-email");
    let old_mails = sent_mail(&old).await;
    let notice = only_new(&old_mails, 1, CHANGED_SUBJECT);
    assert!(!notice.body.contains("token="));
    let verified = verify(&app, &link).await.expect(200);
    assert_eq!(verified["email"], new.as_str());
    assert_eq!(verified["email_verified"], true);

    // An admin changes someone's email without their password; a link mailed to the old
    // address no longer verifies anything.
    let (_, admin) = app.admin("boss").await;
    app.post("/auth/verify-email/resend")
        .bearer(&access)
        .send()
        .await
        .expect(202);
    assert_eq!(sent_mail(&new).await.len(), 1, "already verified: no mail");
    let third = unique_email("third");
    app.patch(&format!("/users/{id}"))
        .bearer(&admin)
        .json(&json!({ "email": third }))
        .send()
        .await
        .expect(200);
    let stale = only_new(&sent_mail(&third).await, 0, VERIFY_SUBJECT).token("verify-email");
    assert_eq!(
        sent_mail(&new).await.last().unwrap().subject,
        CHANGED_SUBJECT
    );
    let fourth = unique_email("fourth");
    app.patch(&format!("/users/{id}"))
        .bearer(&admin)
        .json(&json!({ "email": fourth }))
        .send()
        .await
        .expect(200);
    verify(&app, &stale)
        .await
        .expect_problem(400, "invalid_token");
}

#[tokio::test]
async fn resend_mails_a_new_link_that_replaces_the_old_one() {
    let app = TestApp::with_env(&[("RATE_LIMIT_VERIFY_RESEND_USER", "2/3600")]).await;
    let email = unique_email("again");
    let (_, first) = register(&app, &email).await;
    let access = login(&app, &email, PASSWORD).await.expect(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let resend = || app.post("/auth/verify-email/resend").bearer(&access).send();
    resend().await.expect(202);
    let second = only_new(&sent_mail(&email).await, 1, VERIFY_SUBJECT).token("verify-email");
    verify(&app, &first)
        .await
        .expect_problem(400, "invalid_token");
    resend().await.expect(202);
    resend().await.expect_problem(429, "rate_limited");
    let third = sent_mail(&email).await.pop().unwrap().token("verify-email");
    verify(&app, &second)
        .await
        .expect_problem(400, "invalid_token");
    verify(&app, &third).await.expect(200);
    app.post("/auth/verify-email/resend")
        .send()
        .await
        .expect_problem(401, "unauthorized");
}

#[tokio::test]
async fn unverified_accounts_cannot_log_in_when_verification_is_required() {
    let app = TestApp::with_env(&[("REQUIRE_VERIFIED_EMAIL", "true")]).await;
    let email = unique_email("strict");
    let (_, token) = register(&app, &email).await;
    login(&app, &email, PASSWORD)
        .await
        .expect_problem(403, "email_not_verified");
    // Without the password nothing is revealed: the usual 401.
    login(&app, &email, "not the password at all")
        .await
        .expect_problem(401, "invalid_credentials");
    verify(&app, &token).await.expect(200);
    login(&app, &email, PASSWORD).await.expect(200);
}

#[tokio::test]
async fn a_mail_that_cannot_be_sent_changes_no_answer() {
    // moto refuses mail from an identity that was never verified, as SES does.
    let app = TestApp::new().await;
    let broken = TestApp::from_state(userhub::Ctx::new(
        TestApp::config(&[
            ("TABLE_NAME", &app.state.config.table_name),
            ("BUCKET_NAME", &app.state.config.bucket_name),
            ("EMAIL_FROM", &unique_email("unverified-sender")),
        ]),
        &userhub::app::load_sdk_config().await,
    ));
    let email = unique_email("nomail");
    let user = broken.register(&email, "nomail").await;
    assert_eq!(user["email_verified"], false);
    broken
        .post("/auth/password/forgot")
        .from_ip(fresh_ip())
        .json(&json!({ "email": email }))
        .send()
        .await
        .expect(202);
    assert!(sent_mail(&email).await.is_empty());
}

/// Fails the first `fail` SendEmail calls, as SES would during an outage, and counts them all.
#[derive(Debug, Clone)]
struct FlakySes {
    fail: usize,
    sends: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl aws_sdk_sesv2::config::Intercept for FlakySes {
    fn name(&self) -> &'static str {
        "FlakySes"
    }

    fn read_before_execution(
        &self,
        context: &aws_sdk_sesv2::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_sesv2::config::ConfigBag,
    ) -> Result<(), aws_sdk_sesv2::error::BoxError> {
        let input = context.input();
        if input
            .downcast_ref::<aws_sdk_sesv2::operation::send_email::SendEmailInput>()
            .is_none()
        {
            return Ok(());
        }
        let n = self.sends.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n < self.fail {
            return Err("injected SES failure".into());
        }
        Ok(())
    }
}

/// A test app whose SES client goes through `FlakySes`; returns it with the send counter.
async fn flaky_app(fail: usize) -> (TestApp, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let sdk = userhub::app::load_sdk_config().await;
    let flaky = FlakySes {
        fail,
        sends: Default::default(),
    };
    let sends = flaky.sends.clone();
    let ses = userhub::mail::ses_client(&sdk);
    let ses =
        aws_sdk_sesv2::Client::from_conf(ses.config().to_builder().interceptor(flaky).build());
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let state = userhub::Ctx::with_clients(
        TestApp::config(&[]),
        aws_sdk_dynamodb::Client::new(&sdk),
        s3,
        ses,
    );
    TestApp::provision(&state).await;
    (TestApp::from_state(state), sends)
}

#[tokio::test]
async fn a_failed_send_is_retried_once() {
    use std::sync::atomic::Ordering::SeqCst;
    // SES down: every mail is tried twice, and no answer changes.
    let (app, sends) = flaky_app(usize::MAX).await;
    let email = unique_email("down");
    app.register(&email, "down").await;
    assert_eq!(sends.load(SeqCst), 2);
    forgot(&app, &email).await.expect(202);
    // Forgot-password answers on time; its two tries may still be under way.
    eventually(|| async { (sends.load(SeqCst) >= 4).then_some(()) }).await;
    assert_eq!(sends.load(SeqCst), 4);
    assert!(sent_mail(&email).await.is_empty());
    // One failure: the retry delivers the mail, and its link works.
    let (app, sends) = flaky_app(1).await;
    let email = unique_email("blip");
    let (_, token) = register(&app, &email).await;
    assert_eq!(sends.load(SeqCst), 2);
    verify(&app, &token).await.expect(200);
}
