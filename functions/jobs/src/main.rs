//! The jobs worker: no HTTP. Invoked by the table's stream (new job items) and by the
//! EventBridge schedule (the daily full export).

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use userhub_jobs::Invocation;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    userhub::telemetry::init();
    // No one waits on a job: its SDK calls may outwait a slow dependency.
    let state = userhub::Ctx::from_env_for(userhub::faults::Caller::Worker).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let state = state.clone();
        async move {
            let invocation = Invocation::classify(&event.payload)?;
            let deadline = userhub_jobs::deadline_instant(event.context.deadline);
            userhub_jobs::handle_until(&state, invocation, Some(deadline)).await?;
            Ok::<(), lambda_runtime::Error>(())
        }
    }))
    .await
}
