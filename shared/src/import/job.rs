//! Running an import job: claim it, check the file once (size, columns, well-formedness,
//! row count) before any write, then apply it in batches, each ending in a checkpoint
//! (report part, counts, counters, position). A run that nears its deadline hands the job
//! back as pending, and the next invocation continues from the checkpoint.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use tokio::time::Instant;

use super::read::{self, FileError, Rows};
use super::report::{self, ReportError, RowResult};
use super::row::{self, Applied, Context, RowsError, Seen};
use crate::domain::import::{validate_row, Counts, ImportJob, ImportStatus, RawRow};
use crate::domain::Actor;
use crate::store::{Advance, ImportTally, JobMoveError, StoreError};
use crate::Ctx;

/// Kept back before the Lambda deadline for the batch in flight and the hand-over.
const DEADLINE_MARGIN: Duration = Duration::from_secs(60);
/// A run with no deadline (the local API) still ends its lease eventually.
const NO_DEADLINE_RUN: Duration = Duration::from_secs(840);
/// A lease outlives its run's stop time by this much.
const LEASE_GRACE_SECS: u64 = 2;

/// How a run ended.
#[derive(Debug)]
pub enum Ran {
    /// Another run holds the job, or it is not runnable (awaiting its upload, ended).
    Skipped,
    /// Handed back as pending, to continue in a fresh invocation.
    Continued,
    /// The import ended (succeeded, or failed as a whole).
    Ended(Box<ImportJob>),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The job's own record could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The test hook `IMPORT_FAIL_AFTER_ROWS` stopped the run dead, as a crash would.
    #[error("the run stopped at the injected failure point")]
    Injected,
}

/// Why a run could not go on; the job continues from its last checkpoint.
#[derive(Debug, thiserror::Error)]
enum ExecError {
    #[error("the job is held by another run")]
    Lost,
    #[error("injected failure")]
    Injected,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rows(#[from] RowsError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("reading the file failed")]
    Read,
}

impl From<JobMoveError> for ExecError {
    fn from(e: JobMoveError) -> Self {
        match e {
            JobMoveError::Lost => ExecError::Lost,
            JobMoveError::Store(e) => ExecError::Store(e),
        }
    }
}

/// When a run stops taking new batches.
struct Budget {
    stop_at: Instant,
}

impl Budget {
    fn new(ctx: &Ctx, deadline: Option<Instant>) -> Self {
        let now = Instant::now();
        let by_deadline = deadline.map(|d| d.checked_sub(DEADLINE_MARGIN).unwrap_or(now).max(now));
        let by_limit = ctx.config.import_run_limit.map(|l| now + l);
        let stop_at = [by_deadline, by_limit]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + NO_DEADLINE_RUN);
        Self { stop_at }
    }

    /// Unix seconds (from `now`) after which another run may take the job over.
    fn lease_until(&self, now: u64) -> u64 {
        let left = self.stop_at.saturating_duration_since(Instant::now());
        now + left.as_secs() + 1 + LEASE_GRACE_SECS
    }

    fn out_of_time(&self) -> bool {
        Instant::now() >= self.stop_at
    }
}

/// What the run did with the job.
enum Step {
    Continue,
    Finish(Result<(), FileError>),
}

/// Runs the job `id` if it is pending (or its last run's lease ran out), until it ends or
/// its time is up. `deadline` is the invocation's (the Lambda `Context`'s).
#[tracing::instrument(skip(ctx, deadline))]
pub async fn run(ctx: &Ctx, id: &str, deadline: Option<Instant>) -> Result<Ran, RunError> {
    let budget = Budget::new(ctx, deadline);
    let run_id = uuid::Uuid::new_v4().to_string();
    let now = ctx.clock.now_secs();
    let claimed = ctx
        .store
        .claim_import_job(id, &run_id, now, budget.lease_until(now))
        .await;
    let job = match claimed {
        Ok(job) => job,
        Err(JobMoveError::Lost) => {
            tracing::info!(job = %id, "import job is not runnable; skipped");
            return Ok(Ran::Skipped);
        }
        Err(JobMoveError::Store(e)) => return Err(e.into()),
    };
    let started = Instant::now();
    let step = execute(ctx, job.clone(), &run_id, &budget).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let outcome = match step {
        Ok(Step::Finish(result)) => finish(ctx, &job, &run_id, result).await,
        Ok(Step::Continue) => Ok(None),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(Some(ended)) => {
            tracing::info!(job = %id, status = ended.status.as_str(), elapsed_ms, "import ended");
            Ok(Ran::Ended(Box::new(ended)))
        }
        Ok(None) => hand_back(ctx, id, &run_id, elapsed_ms).await,
        Err(ExecError::Lost) => {
            tracing::warn!(job = %id, "import job was taken over; this run stops");
            Ok(Ran::Skipped)
        }
        Err(ExecError::Injected) => Err(RunError::Injected),
        Err(e) => {
            tracing::error!(job = %id, error = %e, cause = ?e, "import run failed; it continues from its checkpoint");
            hand_back(ctx, id, &run_id, elapsed_ms).await
        }
    }
}

async fn hand_back(ctx: &Ctx, id: &str, run_id: &str, elapsed_ms: u64) -> Result<Ran, RunError> {
    match ctx.store.release_import_job(id, run_id).await {
        Ok(()) => {
            tracing::info!(job = %id, elapsed_ms, "import continues in a fresh invocation");
            Ok(Ran::Continued)
        }
        Err(JobMoveError::Lost) => Ok(Ran::Skipped),
        Err(JobMoveError::Store(e)) => Err(e.into()),
    }
}

/// Ends the job with its report; `None` when the report could not be written yet.
async fn finish(
    ctx: &Ctx,
    job: &ImportJob,
    run_id: &str,
    result: Result<(), FileError>,
) -> Result<Option<ImportJob>, ExecError> {
    let key = report::compose(ctx, job).await?;
    let (status, error) = match &result {
        Ok(()) => (ImportStatus::Succeeded, None),
        Err(e) => {
            tracing::warn!(job = %job.id, error = %e, "import file refused");
            (ImportStatus::Failed, Some(e.to_string()))
        }
    };
    let ended = ctx
        .store
        .finish_import_job(&job.id, run_id, status, error.as_deref(), &key)
        .await?;
    Ok(Some(ended))
}

async fn execute(
    ctx: &Ctx,
    mut job: ImportJob,
    run_id: &str,
    budget: &Budget,
) -> Result<Step, ExecError> {
    let key = report::upload_key(&job);
    let max = ctx.config.import_max_bytes;
    match object_size(ctx, &key).await? {
        None => return Ok(Step::Finish(Err(FileError::Missing))),
        Some(size) if size > max => {
            return Ok(Step::Finish(Err(FileError::TooLarge { size, max })))
        }
        Some(_) => {}
    }
    if !job.checked {
        match check(ctx, &job, &key).await? {
            Checked::Total(total) => {
                job = ctx
                    .store
                    .mark_import_checked(&job.id, run_id, total)
                    .await?
            }
            Checked::Refused(e) => return Ok(Step::Finish(Err(e))),
        }
    }
    apply(ctx, &job, &key, run_id, budget).await
}

/// The object's size, or `None` when nothing was uploaded.
async fn object_size(ctx: &Ctx, key: &str) -> Result<Option<u64>, ExecError> {
    match ctx
        .s3
        .head_object()
        .bucket(&ctx.config.bucket_name)
        .key(key)
        .send()
        .await
    {
        Ok(head) => Ok(Some(head.content_length.unwrap_or(0).max(0) as u64)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
        Err(e) => {
            tracing::error!(error = %aws_sdk_s3::error::DisplayErrorContext(e), "HeadObject of the import file failed");
            Err(ExecError::Read)
        }
    }
}

enum Checked {
    Total(u64),
    Refused(FileError),
}

/// Reads the whole file once without writing, so that a malformed file or an unknown
/// column fails the import before any user is written. Parsing alone is fast (no hashes,
/// no writes), so this pass is not split across invocations.
async fn check(ctx: &Ctx, job: &ImportJob, key: &str) -> Result<Checked, ExecError> {
    let mut rows = match read::open(&ctx.s3, &ctx.config.bucket_name, key, job.format).await {
        Ok(rows) => rows,
        Err(FileError::Read) => return Err(ExecError::Read),
        Err(e) => return Ok(Checked::Refused(e)),
    };
    let mut total = 0;
    while let Some(row) = rows.next().await {
        match row {
            Ok(_) => total += 1,
            Err(FileError::Read) => return Err(ExecError::Read),
            Err(e) => return Ok(Checked::Refused(e)),
        }
    }
    Ok(Checked::Total(total))
}

/// Applies the rows after the checkpoint, batch by batch.
async fn apply(
    ctx: &Ctx,
    job: &ImportJob,
    key: &str,
    run_id: &str,
    budget: &Budget,
) -> Result<Step, ExecError> {
    let mut rows = match read::open(&ctx.s3, &ctx.config.bucket_name, key, job.format).await {
        Ok(rows) => rows,
        Err(FileError::Read) => return Err(ExecError::Read),
        Err(e) => return Ok(Step::Finish(Err(e))),
    };
    let context = Context {
        ctx,
        job,
        actor: Actor::recorded(&job.requested_by),
        request_id: format!("import:{}", job.id),
    };
    let mut seen = Seen::default();
    let mut position = job.position;
    let mut left_before_failure = ctx.config.import_fail_after_rows;
    loop {
        let batch = match next_batch(
            &mut rows,
            &mut seen,
            position,
            ctx.config.import_batch_rows,
            job,
        )
        .await
        {
            Ok(batch) => batch,
            Err(FileError::Read) => return Err(ExecError::Read),
            Err(e) => return Ok(Step::Finish(Err(e))),
        };
        let Some(last) = batch.last().map(|r| r.number) else {
            return Ok(Step::Finish(Ok(())));
        };
        // Every run applies at least one batch, so a job always moves on.
        if position > job.position && budget.out_of_time() {
            return Ok(Step::Continue);
        }
        let (results, tally) =
            apply_batch(&context, &mut seen, batch, &mut left_before_failure).await?;
        let mut counts = Counts::default();
        for r in &results {
            counts.add(r.outcome);
        }
        report::put_part(
            ctx,
            job,
            position + 1,
            report::encode(&results, job.dry_run).map_err(ReportError::from)?,
        )
        .await?;
        let advance = Advance {
            from: position,
            to: last,
            counts,
        };
        ctx.store
            .advance_import_job(&job.id, run_id, advance, &tally)
            .await?;
        position = last;
    }
}

/// The next rows after `position`; rows up to it (handled by earlier runs) are only
/// validated again, to know which values later rows would duplicate.
async fn next_batch(
    rows: &mut Rows,
    seen: &mut Seen,
    position: u64,
    size: usize,
    job: &ImportJob,
) -> Result<Vec<RawRow>, FileError> {
    let mut batch = Vec::with_capacity(size);
    while batch.len() < size {
        let Some(row) = rows.next().await else { break };
        let row = row?;
        if row.number <= position {
            if let Ok(valid) = validate_row(&row, job.may_import_admins()) {
                let _ = seen.check(&valid);
            }
            continue;
        }
        batch.push(row);
    }
    Ok(batch)
}

/// Validates the batch's rows in order (duplicates depend on order), then applies the
/// valid ones concurrently. Returns every row's result, in row order, and what the created
/// users add to the counters.
async fn apply_batch(
    context: &Context<'_>,
    seen: &mut Seen,
    batch: Vec<RawRow>,
    left_before_failure: &mut Option<u64>,
) -> Result<(Vec<RowResult>, ImportTally), ExecError> {
    let mut results = Vec::with_capacity(batch.len());
    let mut valid = Vec::with_capacity(batch.len());
    for raw in batch {
        let checked = validate_row(&raw, context.job.may_import_admins())
            .and_then(|row| seen.check(&row).map(|()| row).map_err(|e| vec![e]));
        match checked {
            Ok(row) => valid.push(row),
            Err(errors) => results.push(RowResult::failed(raw.number, raw.source_id(), errors)),
        }
    }
    let injected = match left_before_failure {
        Some(left) if (*left as usize) < valid.len() => {
            valid.truncate(*left as usize);
            true
        }
        Some(left) => {
            *left -= valid.len() as u64;
            false
        }
        None => false,
    };
    let applied: Vec<Applied> = futures::stream::iter(valid)
        .map(|row| context.apply(row))
        .buffer_unordered(context.ctx.config.import_write_concurrency)
        .try_collect()
        .await?;
    if injected {
        return Err(ExecError::Injected);
    }
    let tally = row::tally(&applied);
    results.extend(applied.into_iter().map(|a| a.result));
    results.sort_by_key(|r| r.number);
    Ok((results, tally))
}
