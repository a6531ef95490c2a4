//! What the jobs worker does with each kind of invocation.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::dynamodb::{Event as StreamBatch, EventRecord};
use serde::Deserialize;
use serde_dynamo::AttributeValue;
use serde_json::Value;
use tokio::time::Instant;
use userhub::domain::export::{ExportFilters, ExportRequest, Fields, Format, Trigger};
use userhub::export::{self, RunError};
use userhub::import::{self, Ran};
use userhub::store::{export_job_id, import_job_id, StoreError};
use userhub::Ctx;

/// The invocations the worker accepts; anything else is refused so a misrouted event
/// shows up as a failed invocation instead of being silently dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// DynamoDB stream records: the `pk`/`sk` keys of new or changed job items.
    Stream(Vec<(String, String)>),
    /// The EventBridge (or EventBridge Scheduler) schedule.
    Schedule,
}

#[derive(Debug, thiserror::Error)]
#[error("unrecognised event: {0}")]
pub struct UnknownEvent(String);

/// The two event shapes AWS sends the worker, as `aws_lambda_events` types them.
#[derive(Deserialize)]
#[serde(untagged)]
enum JobsEvent {
    Stream(StreamBatch),
    Scheduled(CloudWatchEvent),
}

impl Invocation {
    pub fn classify(event: &Value) -> Result<Self, UnknownEvent> {
        let event = JobsEvent::deserialize(event)
            .map_err(|_| UnknownEvent("neither a stream batch nor a scheduled event".into()))?;
        match event {
            JobsEvent::Stream(batch) => {
                let keys: Option<Vec<(String, String)>> =
                    batch.records.iter().map(job_key).collect();
                keys.map(Invocation::Stream).ok_or_else(|| {
                    UnknownEvent("records that are not DynamoDB stream records".into())
                })
            }
            JobsEvent::Scheduled(e) if e.detail_type.as_deref() == Some("Scheduled Event") => {
                Ok(Invocation::Schedule)
            }
            JobsEvent::Scheduled(_) => Err(UnknownEvent("an event that is no schedule".into())),
        }
    }
}

/// The `pk`/`sk` of the item a DynamoDB stream record is about.
fn job_key(record: &EventRecord) -> Option<(String, String)> {
    if record.event_source.as_deref() != Some("aws:dynamodb") {
        return None;
    }
    let text = |name: &str| match record.change.keys.get(name)? {
        AttributeValue::S(s) => Some(s.clone()),
        _ => None,
    };
    Some((text("pk")?, text("sk")?))
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

/// Runs what the invocation asks for. A job that runs and fails is recorded as failed on its
/// item and counts as handled; only bookkeeping failures fail the invocation (and retry).
pub async fn handle(ctx: &Ctx, invocation: Invocation) -> Result<(), JobError> {
    handle_until(ctx, invocation, None).await
}

/// `handle` within an invocation that ends at `deadline` (the Lambda `Context`'s): an
/// import near it hands itself back as pending, and the stream delivers that change to a
/// fresh invocation, which continues it.
pub async fn handle_until(
    ctx: &Ctx,
    invocation: Invocation,
    deadline: Option<Instant>,
) -> Result<(), JobError> {
    match invocation {
        Invocation::Stream(keys) => {
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
        Invocation::Schedule => {
            let request = ExportRequest {
                format: Format::Csv,
                fields: Fields::Full,
                filters: ExportFilters::default(),
            };
            match export::run_now(ctx, request, "schedule".into(), Trigger::Schedule, None).await {
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

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn classifies_stream_and_schedule_events() {
        let stream = fixture("dynamodb-stream-export-insert.json");
        assert_eq!(
            Invocation::classify(&stream).unwrap(),
            Invocation::Stream(vec![("EXPORT".into(), "__JOB_ID__".into())])
        );
        let schedule = fixture("eventbridge-scheduled-event.json");
        assert_eq!(
            Invocation::classify(&schedule).unwrap(),
            Invocation::Schedule
        );
        assert!(Invocation::classify(&json!({"hello": 1})).is_err());
        assert!(Invocation::classify(&json!({"Records": [{"eventSource": "aws:sqs"}]})).is_err());
    }

    #[test]
    fn refuses_records_of_other_sources_and_other_events() {
        let mut stream = fixture("dynamodb-stream-export-insert.json");
        stream["Records"][0]["eventSource"] = json!("aws:kinesis");
        assert!(Invocation::classify(&stream).is_err());
        let mut other = fixture("eventbridge-scheduled-event.json");
        other["detail-type"] = json!("EC2 Instance State-change Notification");
        assert!(Invocation::classify(&other).is_err());
    }
}
