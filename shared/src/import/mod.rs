//! Imports of users from files in S3: the client uploads with a presigned PUT, starts the
//! job, and the jobs worker streams the file through the row rules into the table, with
//! checkpoints and continuations so that imports of any size finish exactly once. See
//! ARCHITECTURE.md, "Imports".

pub mod job;
pub mod read;
pub mod report;
pub mod row;

use std::time::Duration;

use serde::Serialize;

pub use job::{run, Ran, RunError};

use crate::config::Feature;
use crate::domain::import::{ImportJob, ImportRequest, ImportStatus};
use crate::domain::{Scope, Timestamp};
use crate::jobs::JobResource;
use crate::store::{JobMoveError, Page, Position, StoreError};
use crate::{AppState, Ctx, Error};

/// How long an upload link lives.
pub const UPLOAD_LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// The import resource: the job, its upload link while it awaits the file, and its report
/// link once it has ended (both freshly signed).
#[derive(Debug, Clone, Serialize)]
pub struct ImportResource {
    #[serde(flatten)]
    pub job: ImportJob,
    pub max_bytes: u64,
    pub upload_url: Option<String>,
    pub upload_expires_at: Option<Timestamp>,
    pub report_url: Option<String>,
    pub report_expires_at: Option<Timestamp>,
}

impl JobResource for ImportResource {
    type Job = ImportJob;
    const LIST: &'static str = "imports";
    const SCOPE: Scope = Scope::UsersImport;
    const FEATURE: Feature = Feature::UsersImport;

    async fn job(ctx: &Ctx, id: &str) -> Result<Option<ImportJob>, StoreError> {
        if !ImportJob::is_id(id) {
            return Ok(None);
        }
        ctx.store.import_job(id).await
    }

    async fn page(
        ctx: &Ctx,
        limit: u32,
        after: Option<Position>,
    ) -> Result<Page<ImportJob>, StoreError> {
        ctx.store.import_jobs_page(limit, after).await
    }

    async fn of(ctx: &Ctx, job: ImportJob) -> Result<Self, Error> {
        let upload = match job.status {
            ImportStatus::AwaitingUpload => Some(
                presign(UPLOAD_LINK_TTL, |p| {
                    let put = ctx
                        .s3
                        .put_object()
                        .bucket(&ctx.config.bucket_name)
                        .key(report::upload_key(&job));
                    async move { put.presigned(p).await }
                })
                .await?,
            ),
            _ => None,
        };
        let report = match (&job.report_key, job.status.has_ended()) {
            (Some(key), true) => Some(
                presign(ctx.config.export_link_ttl, |p| {
                    let get = ctx.s3.get_object().bucket(&ctx.config.bucket_name).key(key);
                    async move { get.presigned(p).await }
                })
                .await?,
            ),
            _ => None,
        };
        Ok(Self {
            max_bytes: ctx.config.import_max_bytes,
            upload_url: upload.as_ref().map(|l| l.0.clone()),
            upload_expires_at: upload.map(|l| l.1),
            report_url: report.as_ref().map(|l| l.0.clone()),
            report_expires_at: report.map(|l| l.1),
            job,
        })
    }
}

/// A presigned link (local: no S3 call) and when it expires.
async fn presign<F, Fut, E>(ttl: Duration, sign: F) -> Result<(String, Timestamp), Error>
where
    F: FnOnce(aws_sdk_s3::presigning::PresigningConfig) -> Fut,
    Fut: std::future::Future<Output = Result<aws_sdk_s3::presigning::PresignedRequest, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let config =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl).map_err(Error::internal)?;
    let expires_at = Timestamp::now().plus_secs(ttl.as_secs());
    let request = sign(config).await.map_err(Error::internal)?;
    Ok((request.uri().to_owned(), expires_at))
}

/// Writes a new job that awaits its file.
#[tracing::instrument(skip(ctx))]
pub async fn create(
    ctx: &Ctx,
    request: ImportRequest,
    requested_by: String,
) -> Result<ImportJob, Error> {
    let job = ImportJob::new(request, requested_by);
    ctx.store.put_import_job(&job).await?;
    Ok(job)
}

/// POST /imports/{id}/start: the file must be there; the job becomes pending once. In AWS
/// the table's stream hands it to the jobs function; with `RUN_JOBS_INLINE` it runs (and
/// continues) in the background of this process.
#[tracing::instrument(skip(ctx))]
pub async fn start(ctx: &AppState, id: &str) -> Result<ImportJob, Error> {
    let job = ctx.store.import_job(id).await?.ok_or(Error::NotFound)?;
    if job.status != ImportStatus::AwaitingUpload {
        return Err(already_started());
    }
    let uploaded = ctx
        .s3
        .head_object()
        .bucket(&ctx.config.bucket_name)
        .key(report::upload_key(&job))
        .send()
        .await;
    match uploaded {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {
            return Err(Error::conflict(
                "upload_missing",
                "upload the file to upload_url first",
            ))
        }
        Err(e) => {
            return Err(Error::internal(
                aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
            ))
        }
    }
    let job = match ctx.store.queue_import_job(id).await {
        Ok(job) => job,
        Err(JobMoveError::Lost) => return Err(already_started()),
        Err(JobMoveError::Store(e)) => return Err(e.into()),
    };
    if ctx.config.run_jobs_inline {
        run_inline(ctx.clone(), job.id.clone());
    }
    Ok(job)
}

fn already_started() -> Error {
    Error::conflict("already_started", "the import has been started already")
}

/// Runs the job in this process, continuing it as a fresh invocation would.
pub fn run_inline(ctx: AppState, id: String) {
    tokio::spawn(async move {
        loop {
            match run(&ctx, &id, None).await {
                Ok(Ran::Continued) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(job = %id, error = %e, "import job could not be run");
                    break;
                }
            }
        }
    });
}
