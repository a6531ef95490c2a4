//! The JWT secrets from SSM Parameter Store (moto serves SSM on the stack's S3 endpoint):
//! read at start-up, and rotated through a previous key without logging anyone out.

use std::collections::HashMap;

use aws_sdk_ssm::types::ParameterType;
use userhub::app::{config_from, StartupError};
use userhub_tests::{fresh_ip, json, TestApp, PASSWORD};

async fn put_secret(ssm: &aws_sdk_ssm::Client, name: &str, value: &str) {
    ssm.put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("put parameter");
}

/// An app over `base`'s table and bucket whose secrets are read from the named parameters.
async fn app_with(base: &TestApp, parameters: &[(&str, &str)]) -> Result<TestApp, StartupError> {
    let c = &base.state.config;
    let mut vars: HashMap<String, String> = HashMap::from([
        ("TABLE_NAME".into(), c.table_name.clone()),
        ("BUCKET_NAME".into(), c.bucket_name.clone()),
        ("S3_FORCE_PATH_STYLE".into(), "true".into()),
    ]);
    vars.extend(
        parameters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let sdk = userhub_tests::sdk_config().await;
    let config = config_from(&sdk, |k| vars.get(k).cloned()).await?;
    Ok(TestApp::from_state(userhub::Ctx::new(config, &sdk)))
}

async fn login(app: &TestApp) -> String {
    let res = app
        .post("/auth/login")
        .from_ip(fresh_ip())
        .json(&json!({"email": "ann@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect(200);
    res["access_token"].as_str().unwrap().to_owned()
}

async fn me(app: &TestApp, token: &str) -> u16 {
    app.get("/auth/me")
        .bearer(token)
        .send()
        .await
        .status
        .as_u16()
}

#[tokio::test]
async fn jwt_secrets_come_from_parameter_store_and_rotate_without_logging_anyone_out() {
    let base = TestApp::new().await;
    base.register("ann@example.com", "ann").await;
    let ssm = aws_sdk_ssm::Client::new(&userhub_tests::sdk_config().await);
    let prefix = format!("/userhub-test/{}", uuid::Uuid::now_v7().simple());
    let (old_name, new_name) = (format!("{prefix}/old"), format!("{prefix}/new"));
    put_secret(&ssm, &old_name, "the-first-secret-of-at-least-32-bytes").await;
    put_secret(&ssm, &new_name, "the-second-secret-of-at-least-32-bytes").await;

    let before = app_with(&base, &[("JWT_SECRET_PARAMETER", &old_name)])
        .await
        .expect("start with the first secret");
    assert_eq!(
        before.state.config.jwt_secret.expose(),
        b"the-first-secret-of-at-least-32-bytes"
    );
    let old_token = login(&before).await;

    let during = app_with(
        &base,
        &[
            ("JWT_SECRET_PARAMETER", &new_name),
            ("JWT_SECRET_PREVIOUS_PARAMETER", &old_name),
        ],
    )
    .await
    .expect("start while rotating");
    let new_token = login(&during).await;
    assert_eq!(
        me(&during, &old_token).await,
        200,
        "rotation logged a user out"
    );
    assert_eq!(me(&during, &new_token).await, 200);
    assert_eq!(me(&before, &new_token).await, 401);

    let after = app_with(&base, &[("JWT_SECRET_PARAMETER", &new_name)])
        .await
        .expect("start after rotating");
    assert_eq!(me(&after, &new_token).await, 200);
    assert_eq!(me(&after, &old_token).await, 401);

    // A missing parameter stops start-up, naming the parameter and never a value.
    let missing = format!("{prefix}/missing");
    let err = app_with(&base, &[("JWT_SECRET_PARAMETER", &missing)])
        .await
        .err()
        .expect("a missing parameter is a start-up error");
    assert!(err.to_string().contains(&missing), "{err}");
}
