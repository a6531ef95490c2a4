//! Export job items, all in one partition (`EXPORT`, sorted by time-ordered id). Status
//! moves are conditional writes, so a job runs once however often the stream delivers it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::error::is_condition_failed;
use super::item::{n, s, Attrs, Item};
use super::keys;
use super::{Call, Page, Position, Store, StoreError};
use crate::domain::export::{ExportFilters, ExportJob, Fields, Format, JobStatus, Trigger};
use crate::domain::Timestamp;

/// The id of the export job a stream record's keys name, if they name one.
pub fn export_job_id<'a>(pk: &str, sk: &'a str) -> Option<&'a str> {
    keys::job_of(keys::EXPORTS, pk, sk)
}

fn filters_item(f: &ExportFilters) -> AttributeValue {
    let mut map = HashMap::new();
    if let Some(status) = f.status {
        map.insert("status".to_owned(), s(status.as_str()));
    }
    if let Some(t) = f.created_after {
        map.insert("created_after".to_owned(), s(t.to_string()));
    }
    if let Some(t) = f.created_before {
        map.insert("created_before".to_owned(), s(t.to_string()));
    }
    if let Some(e) = &f.email {
        map.insert("email".to_owned(), s(e));
    }
    AttributeValue::M(map)
}

fn job_item(job: &ExportJob) -> Attrs {
    let mut item = keys::export_job(&job.id);
    let mut put = |k: &str, v: AttributeValue| {
        item.insert(k.to_owned(), v);
    };
    put("id", s(&job.id));
    put("status", s(job.status.as_str()));
    put("format", s(job.format.as_str()));
    put("fields", s(job.fields.as_str()));
    put("filters", filters_item(&job.filters));
    put("requested_by", s(&job.requested_by));
    put("trigger", s(job.trigger.as_str()));
    put("created_at", s(job.created_at.to_string()));
    if let Some(v) = job.row_count {
        put("row_count", n(v));
    }
    if let Some(v) = job.size_bytes {
        put("size_bytes", n(v));
    }
    if let Some(t) = job.completed_at {
        put("completed_at", s(t.to_string()));
    }
    if let Some(e) = &job.error {
        put("error", s(e));
    }
    if let Some(k) = &job.object_key {
        put("object_key", s(k));
    }
    item
}

pub(super) fn job_from(item: &Item) -> Result<ExportJob, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("export job has an invalid {what}"));
    let filters = match item.0.get("filters") {
        Some(AttributeValue::M(map)) => {
            let f = Item(map.clone());
            ExportFilters {
                status: f
                    .opt_s("status")
                    .map(|v| v.parse().map_err(|_| corrupt("status filter")))
                    .transpose()?,
                created_after: f.opt_s("created_after").and_then(Timestamp::parse),
                created_before: f.opt_s("created_before").and_then(Timestamp::parse),
                email: f.opt_s("email").map(str::to_owned),
            }
        }
        _ => ExportFilters::default(),
    };
    Ok(ExportJob {
        id: item.s("id")?.to_owned(),
        status: JobStatus::parse(item.s("status")?).ok_or_else(|| corrupt("status"))?,
        format: Format::parse(item.s("format")?).ok_or_else(|| corrupt("format"))?,
        fields: Fields::parse(item.s("fields")?).map_err(|_| corrupt("fields"))?,
        filters,
        requested_by: item.s("requested_by")?.to_owned(),
        trigger: Trigger::parse(item.s("trigger")?).ok_or_else(|| corrupt("trigger"))?,
        row_count: item.opt_n("row_count"),
        size_bytes: item.opt_n("size_bytes"),
        created_at: Timestamp::parse(item.s("created_at")?).ok_or_else(|| corrupt("created_at"))?,
        completed_at: item.opt_s("completed_at").and_then(Timestamp::parse),
        error: item.opt_s("error").map(str::to_owned),
        object_key: item.opt_s("object_key").map(str::to_owned),
    })
}

impl Store {
    /// Writes a new job (pending, or already running when its writer runs it itself).
    #[tracing::instrument(skip_all, fields(job = %job.id), err)]
    pub async fn put_export_job(&self, job: &ExportJob) -> Result<(), StoreError> {
        self.put_new("export job", job_item(job)).await
    }

    pub async fn export_job(&self, id: &str) -> Result<Option<ExportJob>, StoreError> {
        self.read_as("export job", keys::export_job(id), job_from)
            .await
    }

    /// One page of jobs, newest first.
    pub async fn export_jobs_page(
        &self,
        limit: u32,
        after: Option<Position>,
    ) -> Result<Page<ExportJob>, StoreError> {
        self.partition_page("export job", keys::EXPORTS, limit, after, job_from)
            .await
    }

    /// Moves a pending job to running and returns it; `None` when it is not pending (a
    /// repeated delivery, or a job someone else already runs) or does not exist.
    #[tracing::instrument(skip(self), err)]
    pub async fn claim_export_job(&self, id: &str) -> Result<Option<ExportJob>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::export_job(id)))
            .update_expression("SET #status = :running")
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(JobStatus::Running.as_str()))
            .expression_attribute_values(":pending", s(JobStatus::Pending.as_str()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes.map(|a| job_from(&Item(a))).transpose(),
            Err(e) if is_condition_failed(&e) => Ok(None),
            Err(e) => Err(StoreError::sdk(Call::new("UpdateItem", "export job"))(e)),
        }
    }

    /// Records how a running job ended. Only a running job can end, so an ending is
    /// written once.
    #[tracing::instrument(skip_all, fields(job = %job.id), err)]
    pub async fn finish_export_job(&self, job: &ExportJob) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_item(job)))
            .condition_expression("#status = :running")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(JobStatus::Running.as_str()))
            .send()
            .await
            .map_err(StoreError::sdk(Call::new("PutItem", "export job")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::export::ExportRequest;
    use crate::domain::Status;

    #[test]
    fn job_items_round_trip() {
        let request = ExportRequest {
            format: Format::Json,
            fields: Fields::Full,
            filters: ExportFilters {
                status: Some(Status::Inactive),
                created_after: Timestamp::parse("2026-01-01T00:00:00Z"),
                created_before: None,
                email: Some("ann".into()),
            },
        };
        let job = ExportJob::new(request, "user:1".into(), Trigger::Api);
        assert_eq!(job_from(&Item(job_item(&job))).unwrap(), job);
        let done = job.succeeded(3, 120, "exports/x.json".into());
        assert_eq!(job_from(&Item(job_item(&done))).unwrap(), done);
    }
}
