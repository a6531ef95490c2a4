//! Exports of users to S3: a parallel Scan streamed row by row through a CSV or JSON
//! encoder into a multipart upload, so memory stays flat whatever the table's size; and the
//! resource clients see, with a presigned download link.

pub mod encode;
pub mod job;
pub(crate) mod upload;

use serde::Serialize;

pub use job::{run, run_now, start, ExportError, RunError};

use crate::config::Feature;
use crate::domain::export::{ExportJob, Fields, Format, InvalidExport, JobStatus};
use crate::domain::{Scope, Timestamp};
use crate::jobs::JobResource;
use crate::store::{Page, Position, StoreError};
use crate::{Ctx, Error};
use upload::ObjectMeta;

impl From<InvalidExport> for Error {
    fn from(err: InvalidExport) -> Self {
        match err {
            InvalidExport::UnsupportedFormat(format) => unsupported_format(&format),
            InvalidExport::Fields(errors) => Error::Validation(errors),
        }
    }
}

pub fn unsupported_format(format: &str) -> Error {
    Error::bad_request(
        "unsupported_format",
        format!("format {format:?} is not supported here"),
    )
}

/// Where a job's file goes and how it is served.
fn object_meta(job: &ExportJob) -> ObjectMeta {
    let extension = job.format.as_str();
    let name = match job.fields {
        Fields::Minimal => "users_export",
        Fields::Full => "users_full_export",
    };
    ObjectMeta {
        key: format!(
            "exports/{}/{}.{extension}",
            job.created_at.date_path(),
            job.id
        ),
        content_type: match job.format {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        },
        content_disposition: format!("attachment; filename=\"{name}.{extension}\""),
    }
}

/// A link to a finished export's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub url: String,
    pub expires_at: Timestamp,
}

/// When a link signed now stops working: after its TTL, or when the credentials that
/// signed it expire (a Lambda role's are temporary), whichever comes first.
fn link_expiry(
    now: Timestamp,
    ttl: std::time::Duration,
    credentials_expire: Option<std::time::SystemTime>,
) -> Timestamp {
    let by_ttl = now.plus_secs(ttl.as_secs());
    let by_credentials = credentials_expire
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| Timestamp::from_millis(d.as_millis() as i64));
    by_credentials.map_or(by_ttl, |c| c.min(by_ttl))
}

/// The expiry of the credentials the S3 client signs with, when their provider knows it
/// (STS, container and instance credentials do; static keys never expire). A failure to
/// ask costs the link nothing but the cap.
#[tracing::instrument(skip(ctx))]
async fn signing_credentials_expiry(ctx: &Ctx) -> Option<std::time::SystemTime> {
    use aws_sdk_s3::config::ProvideCredentials;
    let provider = ctx.signing_credentials.as_ref()?;
    match provider.provide_credentials().await {
        Ok(credentials) => credentials.expiry(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the signing credentials' expiry");
            None
        }
    }
}

/// A presigned GET of the job's file, valid for `EXPORT_LINK_TTL` or until the signing
/// credentials expire; `None` until it succeeded.
pub async fn download(ctx: &Ctx, job: &ExportJob) -> Result<Option<Download>, Error> {
    let (JobStatus::Succeeded, Some(key)) = (job.status, &job.object_key) else {
        return Ok(None);
    };
    let ttl = ctx.config.export_link_ttl;
    let presigning =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl).map_err(Error::internal)?;
    let expires_at = link_expiry(Timestamp::now(), ttl, signing_credentials_expiry(ctx).await);
    let request = ctx
        .s3
        .get_object()
        .bucket(&ctx.config.bucket_name)
        .key(key)
        .presigned(presigning)
        .await
        .map_err(Error::internal)?;
    Ok(Some(Download {
        url: request.uri().to_owned(),
        expires_at,
    }))
}

/// The export resource: the job and, once it succeeded, a freshly signed download link.
#[derive(Debug, Clone, Serialize)]
pub struct ExportResource {
    #[serde(flatten)]
    pub job: ExportJob,
    pub download_url: Option<String>,
    pub download_expires_at: Option<Timestamp>,
}

impl JobResource for ExportResource {
    type Job = ExportJob;
    const LIST: &'static str = "exports";
    const SCOPE: Scope = Scope::UsersExport;
    const FEATURE: Feature = Feature::UsersExport;

    async fn job(ctx: &Ctx, id: &str) -> Result<Option<ExportJob>, StoreError> {
        if !ExportJob::is_id(id) {
            return Ok(None);
        }
        ctx.store.export_job(id).await
    }

    async fn page(
        ctx: &Ctx,
        limit: u32,
        after: Option<Position>,
    ) -> Result<Page<ExportJob>, StoreError> {
        ctx.store.export_jobs_page(limit, after).await
    }

    async fn of(ctx: &Ctx, job: ExportJob) -> Result<Self, Error> {
        let link = download(ctx, &job).await?;
        Ok(Self {
            job,
            download_url: link.as_ref().map(|l| l.url.clone()),
            download_expires_at: link.map(|l| l.expires_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::export::{ExportRequest, Trigger};

    #[test]
    fn a_link_dies_with_the_credentials_that_signed_it() {
        use std::time::{Duration, UNIX_EPOCH};
        let now = Timestamp::from_millis(1_800_000_000_000).unwrap();
        let ttl = Duration::from_secs(900);
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
        // Static keys: the TTL.
        assert_eq!(link_expiry(now, ttl, None), now.plus_secs(900));
        // Credentials that outlive the TTL: the TTL.
        assert_eq!(
            link_expiry(now, ttl, Some(at(1_800_000_000 + 3600))),
            now.plus_secs(900)
        );
        // Credentials that expire first: their expiry, to the millisecond.
        let soon = UNIX_EPOCH + Duration::from_millis(1_800_000_000_000 + 120_500);
        assert_eq!(
            link_expiry(now, ttl, Some(soon)),
            Timestamp::from_millis(1_800_000_120_500).unwrap()
        );
        // Already expired: already dead.
        assert_eq!(
            link_expiry(now, ttl, Some(at(1_700_000_000))),
            Timestamp::from_millis(1_700_000_000_000).unwrap()
        );
    }

    #[test]
    fn objects_are_dated_and_named_by_kind() {
        let job = ExportJob::new(
            ExportRequest {
                format: Format::Csv,
                fields: Fields::Full,
                filters: Default::default(),
            },
            "schedule".into(),
            Trigger::Schedule,
        );
        let meta = object_meta(&job);
        assert_eq!(
            meta.key,
            format!("exports/{}/{}.csv", job.created_at.date_path(), job.id)
        );
        assert!(meta.key.starts_with("exports/20") && meta.key.matches('/').count() == 4);
        assert_eq!(
            meta.content_disposition,
            "attachment; filename=\"users_full_export.csv\""
        );
        assert_eq!(meta.content_type, "text/csv; charset=utf-8");
    }
}
