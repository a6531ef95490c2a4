//! Import job items (one partition, `IMPORT`, sorted by time-ordered id), the users an
//! import creates, and the checkpoint that moves a job forward.
//!
//! Exactness under crashes rests on two rules. A created user carries a marker naming its
//! import and row, so a retried row recognises its own earlier write instead of failing as
//! "exists already". And a batch's counters (users by status, signups per month) and the
//! job's counts and position move in one transaction, conditional on the position the
//! batch started from: they are applied exactly once, however often the batch is retried.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::error::is_condition_failed;
use super::item::{n, s, Attrs, Item};
use super::keys;
use super::profiles::user_item;
use super::tx::{TxError, Write};
use super::users::Deltas;
use super::{Call, Page, Position, Store, StoreError, WriteError};
use crate::domain::import::{Counts, ImportFormat, ImportJob, ImportMode, ImportStatus};
use crate::domain::{AuditEvent, Timestamp, User, UserId};

/// The id of the import job a stream record's keys name, if they name one.
pub fn import_job_id<'a>(pk: &str, sk: &'a str) -> Option<&'a str> {
    keys::job_of(keys::IMPORTS, pk, sk)
}

fn job_item(job: &ImportJob) -> Attrs {
    let mut item = keys::import_job(&job.id);
    let mut put = |k: &str, v: AttributeValue| {
        item.insert(k.to_owned(), v);
    };
    put("id", s(&job.id));
    put("status", s(job.status.as_str()));
    put("format", s(job.format.as_str()));
    put("mode", s(job.mode.as_str()));
    put("dry_run", AttributeValue::Bool(job.dry_run));
    put("requested_by", s(&job.requested_by));
    put("created", n(job.counts.created));
    put("updated", n(job.counts.updated));
    put("unchanged", n(job.counts.unchanged));
    put("failed", n(job.counts.failed));
    put("position", n(job.position));
    put("checked", AttributeValue::Bool(job.checked));
    put("created_at", s(job.created_at.to_string()));
    if let Some(total) = job.counts.total {
        put("total", n(total));
    }
    if let Some(k) = &job.report_key {
        put("report_key", s(k));
    }
    item
}

fn job_from(item: &Item) -> Result<ImportJob, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("import job has an invalid {what}"));
    let time = |name: &str| item.opt_s(name).and_then(Timestamp::parse);
    Ok(ImportJob {
        id: item.s("id")?.to_owned(),
        status: ImportStatus::parse(item.s("status")?).ok_or_else(|| corrupt("status"))?,
        format: ImportFormat::parse(item.s("format")?).ok_or_else(|| corrupt("format"))?,
        mode: ImportMode::parse(item.s("mode")?).ok_or_else(|| corrupt("mode"))?,
        dry_run: item.bool("dry_run"),
        requested_by: item.s("requested_by")?.to_owned(),
        counts: Counts {
            total: item.opt_n("total"),
            created: item.n("created")?,
            updated: item.n("updated")?,
            unchanged: item.n("unchanged")?,
            failed: item.n("failed")?,
        },
        created_at: time("created_at").ok_or_else(|| corrupt("created_at"))?,
        started_at: time("started_at"),
        completed_at: time("completed_at"),
        error: item.opt_s("error").map(str::to_owned),
        position: item.n("position")?,
        checked: item.bool("checked"),
        report_key: item.opt_s("report_key").map(str::to_owned),
    })
}

/// What the users a batch created add to the counters, summed so that a batch makes one
/// write per counter item instead of one per user.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportTally {
    deltas: Deltas,
    signups: BTreeMap<i32, BTreeMap<u32, i64>>,
}

impl ImportTally {
    pub fn add_created(&mut self, user: &User) {
        self.deltas = self.deltas.plus(Deltas::between(None, Some(user)));
        let (year, month) = user.created_at.year_month();
        *self
            .signups
            .entry(year)
            .or_default()
            .entry(month)
            .or_default() += 1;
    }
}

/// How a batch moves its job: from `from` rows handled to `to`, with these outcomes.
#[derive(Debug, Clone, Copy)]
pub struct Advance {
    pub from: u64,
    pub to: u64,
    pub counts: Counts,
}

/// What creating an imported user found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// Written now.
    Now,
    /// Written by an earlier attempt at the same row (a retry after a crash).
    Earlier,
}

/// Why claiming or moving a job failed a condition.
#[derive(Debug, thiserror::Error)]
pub enum JobMoveError {
    /// Another run holds the job, or the job moved on: this run must stop.
    #[error("the import job is held by another run or moved on")]
    Lost,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Writes a new job, awaiting its file.
    #[tracing::instrument(skip_all, fields(job = %job.id))]
    pub async fn put_import_job(&self, job: &ImportJob) -> Result<(), StoreError> {
        self.put_new("import job", job_item(job)).await
    }

    pub async fn import_job(&self, id: &str) -> Result<Option<ImportJob>, StoreError> {
        self.read_as("import job", keys::import_job(id), job_from)
            .await
    }

    /// One page of jobs, newest first.
    pub async fn import_jobs_page(
        &self,
        limit: u32,
        after: Option<Position>,
    ) -> Result<Page<ImportJob>, StoreError> {
        self.partition_page("import job", keys::IMPORTS, limit, after, job_from)
            .await
    }

    /// Runs one conditional update of a job and returns it as it is afterwards; `Lost`
    /// when the condition fails.
    async fn move_import_job(
        &self,
        id: &str,
        update: &str,
        condition: &str,
        values: Attrs,
    ) -> Result<ImportJob, JobMoveError> {
        // Several of these attribute names are DynamoDB reserved words.
        let names = [
            ("#status", "status"),
            ("#total", "total"),
            ("#error", "error"),
        ]
        .into_iter()
        .filter(|(alias, _)| update.contains(alias) || condition.contains(alias))
        .map(|(a, n)| (a.to_owned(), n.to_owned()))
        .collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::import_job(id)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => job_from(&Item(out.attributes.unwrap_or_default())).map_err(Into::into),
            Err(e) if is_condition_failed(&e) => Err(JobMoveError::Lost),
            Err(e) => Err(StoreError::sdk(Call::new("UpdateItem", "import job"))(e).into()),
        }
    }

    /// awaiting_upload -> pending (POST /imports/{id}/start); `Lost` when it was not
    /// awaiting its upload.
    #[tracing::instrument(skip(self))]
    pub async fn queue_import_job(&self, id: &str) -> Result<ImportJob, JobMoveError> {
        self.move_import_job(
            id,
            "SET #status = :pending, started_at = :now",
            "#status = :awaiting",
            HashMap::from([
                (":pending".into(), s(ImportStatus::Pending.as_str())),
                (":awaiting".into(), s(ImportStatus::AwaitingUpload.as_str())),
                (":now".into(), s(Timestamp::now().to_string())),
            ]),
        )
        .await
    }

    /// Takes the job for one run until `lease_until` (unix seconds, like `now`): a pending
    /// job, or a running one whose last run's lease ran out (it crashed or timed out).
    /// `Lost` when another run holds it or it has ended.
    #[tracing::instrument(skip(self))]
    pub async fn claim_import_job(
        &self,
        id: &str,
        run: &str,
        now: u64,
        lease_until: u64,
    ) -> Result<ImportJob, JobMoveError> {
        self.move_import_job(
            id,
            "SET #status = :running, run_id = :run, lease_until = :lease",
            "#status = :pending OR (#status = :running AND lease_until < :now)",
            HashMap::from([
                (":running".into(), s(ImportStatus::Running.as_str())),
                (":pending".into(), s(ImportStatus::Pending.as_str())),
                (":run".into(), s(run)),
                (":lease".into(), n(lease_until)),
                (":now".into(), n(now)),
            ]),
        )
        .await
    }

    /// Records that the whole file was read once and is well-formed, with its row count.
    #[tracing::instrument(skip(self))]
    pub async fn mark_import_checked(
        &self,
        id: &str,
        run: &str,
        total: u64,
    ) -> Result<ImportJob, JobMoveError> {
        self.move_import_job(
            id,
            "SET checked = :yes, #total = :total",
            "run_id = :run AND #status = :running",
            HashMap::from([
                (":yes".into(), AttributeValue::Bool(true)),
                (":total".into(), n(total)),
                (":run".into(), s(run)),
                (":running".into(), s(ImportStatus::Running.as_str())),
            ]),
        )
        .await
    }

    /// Hands a running job back as pending, for a fresh invocation to continue from its
    /// checkpoint (in AWS, the stream delivers this change to the jobs function).
    #[tracing::instrument(skip(self))]
    pub async fn release_import_job(&self, id: &str, run: &str) -> Result<(), JobMoveError> {
        self.move_import_job(
            id,
            "SET #status = :pending REMOVE run_id, lease_until",
            "run_id = :run AND #status = :running",
            HashMap::from([
                (":pending".into(), s(ImportStatus::Pending.as_str())),
                (":run".into(), s(run)),
                (":running".into(), s(ImportStatus::Running.as_str())),
            ]),
        )
        .await
        .map(|_| ())
    }

    /// Ends the job (succeeded or failed), once, by the run that holds it.
    #[tracing::instrument(skip(self, error, report_key))]
    pub async fn finish_import_job(
        &self,
        id: &str,
        run: &str,
        status: ImportStatus,
        error: Option<&str>,
        report_key: &str,
    ) -> Result<ImportJob, JobMoveError> {
        let mut values = HashMap::from([
            (":end".into(), s(status.as_str())),
            (":now".into(), s(Timestamp::now().to_string())),
            (":report".into(), s(report_key)),
            (":run".into(), s(run)),
            (":running".into(), s(ImportStatus::Running.as_str())),
        ]);
        let mut update = "SET #status = :end, completed_at = :now, report_key = :report".to_owned();
        if let Some(e) = error {
            values.insert(":error".into(), s(e));
            update.push_str(", #error = :error");
        }
        update.push_str(" REMOVE run_id, lease_until");
        self.move_import_job(id, &update, "run_id = :run AND #status = :running", values)
            .await
    }

    /// Applies a batch: the job's counts and position, and the counters of the users it
    /// created, in one transaction that only succeeds from the position the batch started at.
    #[tracing::instrument(skip(self, tally))]
    pub async fn advance_import_job(
        &self,
        id: &str,
        run: &str,
        advance: Advance,
        tally: &ImportTally,
    ) -> Result<(), JobMoveError> {
        let c = advance.counts;
        let values = HashMap::from([
            (":from".into(), n(advance.from)),
            (":to".into(), n(advance.to)),
            (":created".into(), n(c.created)),
            (":updated".into(), n(c.updated)),
            (":unchanged".into(), n(c.unchanged)),
            (":failed".into(), n(c.failed)),
            (":run".into(), s(run)),
        ]);
        let mut writes = vec![Write::update(
            &self.table,
            keys::import_job(id),
            "SET #position = :to ADD #created :created, #updated :updated, #unchanged :unchanged, #failed :failed",
            Some("run_id = :run AND #position = :from"),
            ["position", "created", "updated", "unchanged", "failed"]
                .into_iter()
                .map(|name| (format!("#{name}"), name.to_owned()))
                .collect(),
            values,
        )];
        if !tally.deltas.is_zero() {
            writes.push(self.counter_write(tally.deltas));
        }
        for (year, months) in &tally.signups {
            let months: Vec<(u32, i64)> = months.iter().map(|(m, c)| (*m, *c)).collect();
            writes.push(self.signups_write(*year, &months));
        }
        let call = Call::new("TransactWriteItems", "import checkpoint");
        match self.transact(call.item, writes).await {
            Ok(()) => Ok(()),
            Err(e) if e.failed_at(0) => Err(JobMoveError::Lost),
            Err(cancelled @ TxError::Cancelled(_)) => {
                Err(StoreError::failed(call, cancelled).into())
            }
            Err(TxError::Store(e)) => Err(e.into()),
        }
    }

    /// Creates an imported user with its reservations and audit event (its counters move
    /// with its batch's checkpoint). The profile carries `marker`, so that a retry of the
    /// same row finds `Created::Earlier` instead of a conflict with itself.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn create_imported_user(
        &self,
        user: &User,
        marker: &str,
        audit: &AuditEvent,
    ) -> Result<Created, WriteError> {
        let mut profile = user_item(user);
        profile.insert("import_row".into(), s(marker));
        let mut writes = Vec::from(self.new_user_writes(profile, user));
        writes.push(self.audit_write(audit));
        match self.transact("user", writes).await {
            Ok(()) => Ok(Created::Now),
            Err(e) if e.failed_at(0) => {
                let existing = self.read("profile", keys::profile(user.id)).await?;
                match existing.as_ref().and_then(|i| i.opt_s("import_row")) {
                    Some(m) if m == marker => Ok(Created::Earlier),
                    _ => Err(WriteError::IdTaken),
                }
            }
            Err(e) if e.failed_at(1) => Err(WriteError::EmailTaken),
            Err(e) if e.failed_at(2) => Err(WriteError::UsernameTaken),
            Err(TxError::Cancelled(_)) => Err(WriteError::VersionMismatch),
            Err(TxError::Store(e)) => Err(WriteError::Store(e)),
        }
    }

    /// Whether a user with this id exists (read consistently).
    pub async fn user_exists(&self, id: UserId) -> Result<bool, StoreError> {
        Ok(self.read("profile", keys::profile(id)).await?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::import::ImportRequest;

    #[test]
    fn job_items_round_trip() {
        let mut job = ImportJob::new(
            ImportRequest {
                format: ImportFormat::Ndjson,
                mode: ImportMode::Upsert,
                dry_run: true,
            },
            "user:1".into(),
        );
        assert_eq!(job_from(&Item(job_item(&job))).unwrap(), job);
        job.counts.total = Some(12);
        job.counts.created = 3;
        job.position = 7;
        job.checked = true;
        assert_eq!(job_from(&Item(job_item(&job))).unwrap(), job);
    }
}
