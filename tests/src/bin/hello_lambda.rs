//! The cold-start baseline for `bench`: a bare `lambda_runtime` function that answers
//! every event with `{"ok": true}`, built with the same profile as the real functions.

use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|_e: LambdaEvent<serde_json::Value>| async {
        Ok::<_, lambda_runtime::Error>(serde_json::json!({"ok": true}))
    }))
    .await
}
