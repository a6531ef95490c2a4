//! The jobs worker: no HTTP. Invoked by the table's stream (new job items) and by the
//! EventBridge schedule (the daily full export).

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use userhub_jobs::Trigger;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    userhub::telemetry::init();
    let state = userhub::Ctx::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let state = state.clone();
        async move {
            let trigger = Trigger::classify(&event.payload)?;
            let deadline = userhub_jobs::deadline_instant(event.context.deadline);
            userhub_jobs::handle_until(&state, trigger, Some(deadline)).await?;
            Ok::<(), lambda_runtime::Error>(())
        }
    }))
    .await
}
