use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;

/// How long a dependency may take before health calls it down; well under API Gateway's 29 s.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Reachability of every dependency, checked concurrently with the function's own rights.
pub(super) async fn health(State(state): State<AppState>) -> Response {
    let dynamodb = async {
        match tokio::time::timeout(CHECK_TIMEOUT, state.store.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".to_owned()),
        }
    };
    let s3 = async {
        let call = state
            .s3
            .head_bucket()
            .bucket(&state.config.bucket_name)
            .send();
        match tokio::time::timeout(CHECK_TIMEOUT, call).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".to_owned()),
        }
    };
    let (dynamodb, s3) = tokio::join!(dynamodb, s3);
    let mut healthy = true;
    let mut report = |name: &str, result: Result<(), String>| match result {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            healthy = false;
            // The cause goes to the log; the public answer only names the failing check.
            tracing::warn!(check = name, error = %e, "health check failed");
            "unavailable".to_owned()
        }
    };
    let checks = json!({ "dynamodb": report("dynamodb", dynamodb), "s3": report("s3", s3) });
    let (status, word) = if healthy {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    let body = json!({ "status": word, "version": env!("CARGO_PKG_VERSION"), "checks": checks });
    (status, axum::Json(body)).into_response()
}
