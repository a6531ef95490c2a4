//! What the jobs worker does with each kind of invocation.

use serde_json::Value;
use tokio::time::Instant;
use userhub::domain::export::{
    ExportFilters, ExportRequest, Fields, Format, Trigger as ExportTrigger,
};
use userhub::export::{self, RunError};
use userhub::import::{self, Ran};
use userhub::store::{export_job_id, import_job_id, StoreError};
use userhub::Ctx;

/// The invocations the worker accepts; anything else is refused so a misrouted event
/// shows up as a failed invocation instead of being silently dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// DynamoDB stream records: the `pk`/`sk` keys of new or changed job items.
    Stream(Vec<(String, String)>),
    /// The EventBridge (or EventBridge Scheduler) schedule.
    Schedule,
}

#[derive(Debug, thiserror::Error)]
#[error("unrecognised event: {0}")]
pub struct UnknownEvent(String);

impl Trigger {
    pub fn classify(event: &Value) -> Result<Self, UnknownEvent> {
        if let Some(records) = event.get("Records").and_then(Value::as_array) {
            let keys = records
                .iter()
                .filter(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:dynamodb"))
                .filter_map(|r| {
                    let keys = r.get("dynamodb")?.get("Keys")?;
                    let pk = keys.get("pk")?.get("S")?.as_str()?;
                    let sk = keys.get("sk")?.get("S")?.as_str()?;
                    Some((pk.to_owned(), sk.to_owned()))
                })
                .collect::<Vec<_>>();
            if keys.len() == records.len() {
                return Ok(Trigger::Stream(keys));
            }
            return Err(UnknownEvent(
                "records that are not DynamoDB stream records".into(),
            ));
        }
        if event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
            return Ok(Trigger::Schedule);
        }
        Err(UnknownEvent(
            "neither a stream batch nor a scheduled event".into(),
        ))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A stream record of an item this worker runs no job for: misrouted, so it fails
    /// visibly (and ends in the dead-letter queue) rather than being dropped.
    #[error("no job runs items with pk {0:?}")]
    UnknownJob(String),
    /// The job's record could not be read or written; a retry may get through.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An import run stopped dead (the test hook that stands in for a crash).
    #[error(transparent)]
    Import(#[from] import::RunError),
}

/// Runs what the trigger asks for. A job that runs and fails is recorded as failed on its
/// item and counts as handled; only bookkeeping failures fail the invocation (and retry).
pub async fn handle(ctx: &Ctx, trigger: Trigger) -> Result<(), JobError> {
    handle_until(ctx, trigger, None).await
}

/// `handle` within an invocation that ends at `deadline` (the Lambda `Context`'s): an
/// import near it hands itself back as pending, and the stream delivers that change to a
/// fresh invocation, which continues it.
pub async fn handle_until(
    ctx: &Ctx,
    trigger: Trigger,
    deadline: Option<Instant>,
) -> Result<(), JobError> {
    match trigger {
        Trigger::Stream(keys) => {
            for (pk, sk) in keys {
                if let Some(id) = export_job_id(&pk, &sk) {
                    export::run(ctx, id).await?;
                } else if let Some(id) = import_job_id(&pk, &sk) {
                    if let Ran::Continued = import::run(ctx, id, deadline).await? {
                        tracing::info!(job = %id, "import handed back for the next invocation");
                    }
                } else {
                    return Err(JobError::UnknownJob(pk));
                }
            }
            Ok(())
        }
        Trigger::Schedule => {
            let request = ExportRequest {
                format: Format::Csv,
                fields: Fields::Full,
                filters: ExportFilters::default(),
            };
            match export::run_now(
                ctx,
                request,
                "schedule".into(),
                ExportTrigger::Schedule,
                None,
            )
            .await
            {
                Ok(_) | Err(RunError::Failed { .. }) => Ok(()),
                Err(RunError::Store(e)) => Err(e.into()),
            }
        }
    }
}

/// The Lambda `Context` deadline (milliseconds since the epoch) as an `Instant`.
pub fn deadline_instant(deadline_ms: u64) -> Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Instant::now() + std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_stream_and_schedule_events() {
        let stream = json!({"Records": [{"eventSource": "aws:dynamodb", "eventName": "INSERT",
            "dynamodb": {"Keys": {"pk": {"S": "EXPORT"}, "sk": {"S": "0193"}}}}]});
        assert_eq!(
            Trigger::classify(&stream).unwrap(),
            Trigger::Stream(vec![("EXPORT".into(), "0193".into())])
        );
        let schedule =
            json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert_eq!(Trigger::classify(&schedule).unwrap(), Trigger::Schedule);
        assert!(Trigger::classify(&json!({"hello": 1})).is_err());
        assert!(Trigger::classify(&json!({"Records": [{"eventSource": "aws:sqs"}]})).is_err());
    }
}
