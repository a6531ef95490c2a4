//! What every step measures against: one table and bucket on the local stack, the function
//! configuration the binaries get, the same API in-process (with the round-trip
//! [`Recorder`] on its DynamoDB client), and the users and tokens the requests use.

use std::sync::Mutex;

use serde_json::Value;
use userhub::{AppState, Ctx};
use userhub_tests::{json, TestApp, PASSWORD};

use crate::recorder::{Recorder, Replayer};
use crate::BoxError;

/// Users seeded so that list and search pages are full pages.
pub const SEEDED_USERS: usize = 300;

pub struct Fixture {
    /// The function configuration (TABLE_NAME, BUCKET_NAME, JWT_SECRET, ...).
    pub env: Vec<(String, String)>,
    pub app: TestApp,
    pub recorder: Recorder,
    pub replayer: Replayer,
    pub admin_token: String,
    /// A user others read (GET /users/{id}, PATCH): never logs in again, so no session of
    /// the admin's is evicted.
    pub target_id: String,
    /// A user whose own token reads GET /auth/me.
    pub reader_token: String,
    /// The account the login benchmark logs into, again and again.
    pub login_email: String,
    /// The refresh token of a session the refresh benchmark rotates (the latest one).
    pub refresh_token: Mutex<String>,
}

fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Limits high enough for a benchmark's repeated logins, registrations and refreshes from
/// one address; everything else is as deployed.
const LIMITS: [(&str, &str); 4] = [
    ("RATE_LIMIT_LOGIN_ACCOUNT", "1000000/60"),
    ("RATE_LIMIT_LOGIN_IP", "1000000/60"),
    ("RATE_LIMIT_REGISTER_IP", "1000000/60"),
    ("RATE_LIMIT_REFRESH_SESSION", "1000000/60"),
];

impl Fixture {
    pub async fn new() -> Result<Self, BoxError> {
        let mut env: Vec<(String, String)> = vec![
            ("TABLE_NAME".into(), format!("t-bench-{}", unique())),
            ("BUCKET_NAME".into(), format!("b-bench-{}", unique())),
            ("JWT_SECRET".into(), format!("{}{}", unique(), unique())),
            ("S3_FORCE_PATH_STYLE".into(), "true".into()),
        ];
        env.extend(LIMITS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let overrides: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let config = TestApp::config(&overrides);
        let sdk = userhub::app::load_sdk_config().await;
        let recorder = Recorder::default();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(recorder.clone())
                .build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        let replayer = Replayer::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            config.table_name.clone(),
        );
        let ses = userhub::mail::ses_client(&sdk);
        let state: AppState = Ctx::with_clients(config, dynamodb, s3, ses);
        TestApp::provision(&state).await;
        let app = TestApp::from_state(state);

        let (_, admin_token) = app.admin(&format!("admin{}", &unique()[20..])).await;
        let (target_id, _, _) = app.user(&format!("target{}", &unique()[20..])).await;
        let (_, reader_token, _) = app.user(&format!("reader{}", &unique()[20..])).await;
        let login_name = format!("login{}", &unique()[20..]);
        app.user(&login_name).await;
        let (_, _, refresh_token) = app.user(&format!("refresh{}", &unique()[20..])).await;
        let seeded: Vec<_> = (0..SEEDED_USERS)
            .map(|i| userhub_tests::seed_user(i, None))
            .collect();
        app.seed(&seeded).await;
        recorder.take();
        Ok(Self {
            env,
            app,
            recorder,
            replayer,
            admin_token,
            target_id,
            reader_token,
            login_email: format!("{login_name}@example.com"),
            refresh_token: Mutex::new(refresh_token),
        })
    }

    /// The body of a login as the benchmark's login account.
    pub fn login_body(&self) -> Value {
        json!({"email": self.login_email, "password": PASSWORD})
    }
}
