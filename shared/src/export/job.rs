//! Running an export job: pending -> running -> succeeded | failed, each move a conditional
//! write, so a job that the stream delivers twice still runs once. A job that fails aborts
//! its upload (no partial object is ever left) and records a summary safe to show clients.

use std::time::Duration;

use tokio::time::Instant;

use super::encode::{EncodeError, Encoder};
use super::object_meta;
use super::upload::{Multipart, PartWriter, UploadError};
use crate::domain::export::{ExportJob, ExportRequest, JobStatus, Trigger};
use crate::store::StoreError;
use crate::{AppState, Ctx, Error};

/// Why an export did not produce its file. `Display` is the summary recorded on the job
/// and shown to clients; the source, with the AWS detail, only goes to the log.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading users from the table failed")]
    Scan(#[from] StoreError),
    #[error("encoding the file failed")]
    Encode(#[from] EncodeError),
    #[error("writing the file to S3 failed while {}", .0.call.stage())]
    Upload(#[from] UploadError),
    #[error("the export did not finish within {} s", .0.as_secs())]
    TimedOut(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The job ran and failed; it is recorded as failed.
    #[error("export {id} failed: {source}")]
    Failed {
        id: String,
        #[source]
        source: ExportError,
    },
    /// The job's own record could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ExportError {
    /// Whether the export failed because S3 or the table was unavailable, not for a bug.
    pub fn is_unavailable(&self) -> bool {
        match self {
            ExportError::Scan(e) => e.is_unavailable(),
            ExportError::Upload(e) => e.unavailable,
            ExportError::Encode(_) | ExportError::TimedOut(_) => false,
        }
    }
}

impl From<RunError> for Error {
    fn from(err: RunError) -> Self {
        match err {
            RunError::Store(e) => e.into(),
            RunError::Failed { source, .. } if source.is_unavailable() => {
                Error::unavailable(crate::faults::describe(&source))
            }
            RunError::Failed {
                source: ExportError::TimedOut(limit),
                ..
            } => Error::conflict(
                "export_too_large",
                format!(
                    "the export did not finish within {} s; start it with POST /exports instead",
                    limit.as_secs()
                ),
            ),
            other => Error::internal(other),
        }
    }
}

/// Writes a pending job for `request`. In AWS the table's stream hands it to the jobs
/// function; where nothing consumes the stream (`RUN_JOBS_INLINE`), it runs in the
/// background of this process instead.
pub async fn start(
    ctx: &AppState,
    request: ExportRequest,
    requested_by: String,
    trigger: Trigger,
) -> Result<ExportJob, StoreError> {
    let job = ExportJob::new(request, requested_by, trigger);
    ctx.store.put_export_job(&job).await?;
    if ctx.config.run_jobs_inline {
        let ctx = ctx.clone();
        let id = job.id.clone();
        tokio::spawn(async move {
            if let Err(e) = run(&ctx, &id).await {
                tracing::error!(job = %id, error = %e, "export job could not be run");
            }
        });
    }
    Ok(job)
}

/// Runs the job `id` if it is still pending; `None` when it was not (already claimed by an
/// earlier delivery, or unknown). A failed export is recorded on the job, not returned.
pub async fn run(ctx: &Ctx, id: &str) -> Result<Option<ExportJob>, StoreError> {
    let Some(job) = ctx.store.claim_export_job(id).await? else {
        tracing::info!(job = %id, "export job is not pending; skipped");
        return Ok(None);
    };
    let (job, _) = execute(ctx, job, None).await?;
    Ok(Some(job))
}

/// Writes a job that this caller runs at once, and runs it, giving up after `limit`. The
/// job is written already running, so the stream's delivery of it finds nothing to do.
pub async fn run_now(
    ctx: &Ctx,
    request: ExportRequest,
    requested_by: String,
    trigger: Trigger,
    limit: Option<Duration>,
) -> Result<ExportJob, RunError> {
    let mut job = ExportJob::new(request, requested_by, trigger);
    job.status = JobStatus::Running;
    ctx.store.put_export_job(&job).await?;
    match execute(ctx, job, limit).await? {
        (job, None) => Ok(job),
        (job, Some(source)) => Err(RunError::Failed { id: job.id, source }),
    }
}

/// Produces the file of a running job and records how that went.
async fn execute(
    ctx: &Ctx,
    job: ExportJob,
    limit: Option<Duration>,
) -> Result<(ExportJob, Option<ExportError>), StoreError> {
    let started = Instant::now();
    let meta = object_meta(&job);
    let outcome = match Multipart::start(&ctx.s3, &ctx.config.bucket_name, &meta).await {
        Err(e) => Err(e.into()),
        Ok(upload) => {
            let written = write(ctx, &job, upload.clone());
            let written = match limit {
                Some(limit) => tokio::time::timeout_at(started + limit, written)
                    .await
                    .unwrap_or(Err(ExportError::TimedOut(limit))),
                None => written.await,
            };
            if written.is_err() {
                if let Err(e) = upload.abort().await {
                    // S3's lifecycle rule removes incomplete uploads after a day.
                    tracing::error!(job = %job.id, error = %e, "aborting the export upload failed");
                }
            }
            written
        }
    };
    let (done, error) = match outcome {
        Ok((rows, bytes)) => {
            tracing::info!(job = %job.id, rows, bytes, elapsed_ms = started.elapsed().as_millis() as u64, "export succeeded");
            (job.succeeded(rows, bytes, meta.key), None)
        }
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, cause = ?e, "export failed");
            (job.failed(e.to_string()), Some(e))
        }
    };
    ctx.store.finish_export_job(&done).await?;
    Ok((done, error))
}

/// Streams the matching users into the upload and completes it; returns rows and bytes.
async fn write(ctx: &Ctx, job: &ExportJob, upload: Multipart) -> Result<(u64, u64), ExportError> {
    let mut scan = ctx
        .store
        .scan_users(&job.filters, ctx.config.export_scan_segments);
    let mut encoder = Encoder::new(job.format, job.fields, ctx.config.export_part_size)?;
    let mut parts = PartWriter::new(upload);
    while let Some(user) = scan.next().await {
        if let Some(part) = encoder.push(&user?)? {
            parts.send(part).await?;
        }
    }
    let rows = encoder.rows();
    let bytes = parts.finish(encoder.finish()?).await?;
    Ok((rows, bytes))
}
