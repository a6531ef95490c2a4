//! The import's report, `row,outcome,user_id,source_id,field,code,message`: each batch
//! writes its lines as a small object next to its checkpoint (a retried batch overwrites
//! the same object), and the end of the import joins them, in row order, into one CSV.
//! Lines hold ids, codes and messages of our own: never a password, a hash or a cell.

use bytes::{Bytes, BytesMut};

use crate::domain::import::{ImportJob, Outcome, RowError};
use crate::domain::UserId;
use crate::export::encode::neutralise;
use crate::export::upload::{Multipart, ObjectMeta, PartWriter, UploadError};
use crate::Ctx;

pub const HEADER: &str = "row,outcome,user_id,source_id,field,code,message\r\n";

/// How one row ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowResult {
    pub number: u64,
    pub outcome: Outcome,
    pub user_id: Option<UserId>,
    pub source_id: Option<String>,
    pub errors: Vec<RowError>,
}

impl RowResult {
    pub fn failed(number: u64, source_id: Option<String>, errors: Vec<RowError>) -> Self {
        Self {
            number,
            outcome: Outcome::Failed,
            user_id: None,
            source_id,
            errors,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("encoding the report failed")]
    Encode(#[from] csv::Error),
    #[error("writing the report to S3 failed")]
    S3(String),
    #[error(transparent)]
    Upload(#[from] UploadError),
}

/// Where an import's objects live: its upload, its report and the report's parts.
pub fn prefix(job: &ImportJob) -> String {
    format!("imports/{}/{}/", job.created_at.date_path(), job.id)
}

pub fn upload_key(job: &ImportJob) -> String {
    format!("{}upload", prefix(job))
}

fn report_key(job: &ImportJob) -> String {
    format!("{}report.csv", prefix(job))
}

fn parts_prefix(job: &ImportJob) -> String {
    format!("{}parts/", prefix(job))
}

/// Report lines for `results` (in order), without the header. In a dry run, rows that
/// would be written say `valid`.
pub fn encode(results: &[RowResult], dry_run: bool) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for r in results {
        let outcome = match r.outcome {
            Outcome::Failed => Outcome::Failed,
            _ if dry_run => Outcome::Valid,
            other => other,
        };
        let row = r.number.to_string();
        let user = r.user_id.map(|id| id.to_string()).unwrap_or_default();
        let source = neutralise(r.source_id.as_deref().unwrap_or_default()).into_owned();
        if r.errors.is_empty() {
            out.write_record([&row, outcome.as_str(), &user, &source, "", "", ""])?;
        }
        for e in &r.errors {
            out.write_record([
                &row,
                outcome.as_str(),
                &user,
                &source,
                &e.field,
                e.code,
                &e.message,
            ])?;
        }
    }
    out.into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// Stores a batch's lines, named by its first row so that the parts sort in row order.
#[tracing::instrument(skip(ctx, job, lines), fields(job = %job.id))]
pub async fn put_part(
    ctx: &Ctx,
    job: &ImportJob,
    first_row: u64,
    lines: Vec<u8>,
) -> Result<(), ReportError> {
    ctx.s3
        .put_object()
        .bucket(&ctx.config.bucket_name)
        .key(format!("{}{first_row:012}.csv", parts_prefix(job)))
        .content_type("text/csv; charset=utf-8")
        .body(lines.into())
        .send()
        .await
        .map_err(|e| ReportError::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
    Ok(())
}

/// Joins the parts, in row order, under the header into the report; returns its key.
/// Memory holds about two upload parts. The parts are removed afterwards.
#[tracing::instrument(skip(ctx, job), fields(job = %job.id))]
pub async fn compose(ctx: &Ctx, job: &ImportJob) -> Result<String, ReportError> {
    let s3_error = |e: &dyn std::fmt::Display| ReportError::S3(e.to_string());
    let key = report_key(job);
    let meta = ObjectMeta {
        key: key.clone(),
        content_type: "text/csv; charset=utf-8",
        content_disposition: "attachment; filename=\"import_report.csv\"".into(),
    };
    let parts = part_keys(ctx, job).await?;
    let upload = Multipart::start(&ctx.s3, &ctx.config.bucket_name, &meta).await?;
    let mut writer = PartWriter::new(upload.clone());
    let mut buffer = BytesMut::from(HEADER.as_bytes());
    let result: Result<u64, ReportError> = async {
        for part in &parts {
            let object = ctx
                .s3
                .get_object()
                .bucket(&ctx.config.bucket_name)
                .key(part)
                .send()
                .await
                .map_err(|e| s3_error(&aws_sdk_s3::error::DisplayErrorContext(e)))?;
            let body = object.body.collect().await.map_err(|e| s3_error(&e))?;
            buffer.extend_from_slice(&body.into_bytes());
            if buffer.len() >= ctx.config.export_part_size {
                writer.send(buffer.split().freeze()).await?;
            }
        }
        Ok(writer.finish(Bytes::from(buffer)).await?)
    }
    .await;
    if let Err(e) = result {
        let _ = upload.abort().await;
        return Err(e);
    }
    remove(ctx, &parts).await;
    Ok(key)
}

async fn part_keys(ctx: &Ctx, job: &ImportJob) -> Result<Vec<String>, ReportError> {
    let mut keys = Vec::new();
    let mut pages = ctx
        .s3
        .list_objects_v2()
        .bucket(&ctx.config.bucket_name)
        .prefix(parts_prefix(job))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| ReportError::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    keys.sort();
    Ok(keys)
}

/// Best effort: the bucket's lifecycle rule expires `imports/` anyway.
async fn remove(ctx: &Ctx, keys: &[String]) {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    for chunk in keys.chunks(1000) {
        let objects = chunk
            .iter()
            .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
            .collect();
        let Ok(delete) = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
        else {
            continue;
        };
        if let Err(e) = ctx
            .s3
            .delete_objects()
            .bucket(&ctx.config.bucket_name)
            .delete(delete)
            .send()
            .await
        {
            tracing::warn!(error = %aws_sdk_s3::error::DisplayErrorContext(e), "removing report parts failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_row_or_per_invalid_field() {
        let id = UserId::new();
        let results = [
            RowResult {
                number: 1,
                outcome: Outcome::Created,
                user_id: Some(id),
                source_id: Some("=42".into()),
                errors: vec![],
            },
            RowResult::failed(
                2,
                None,
                vec![
                    RowError::new("email", "invalid", "must contain @"),
                    RowError::new("username", "invalid", "must be 3 to 32 characters"),
                ],
            ),
        ];
        let text = String::from_utf8(encode(&results, false).unwrap()).unwrap();
        assert_eq!(
            text,
            format!(
                "1,created,{id},'=42,,,\r\n2,failed,,,email,invalid,must contain @\r\n2,failed,,,username,invalid,must be 3 to 32 characters\r\n"
            )
        );
        let dry = String::from_utf8(encode(&results[..1], true).unwrap()).unwrap();
        assert!(dry.starts_with("1,valid,"));
    }
}
