//! The one entry point every HTTP function's `main` calls.

use crate::http::Routes;
use crate::Ctx;

/// Initialises logging and the AWS clients once per cold start, then serves `routes`
/// under the Lambda runtime.
pub async fn serve(routes: Routes) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let state = Ctx::from_env().await.inspect_err(|e| {
        tracing::error!(error = %e, "start-up failed");
    })?;
    lambda_http::run(crate::http::app(routes, state)).await
}
