//! `userhub-admin import FILE [--mode upsert] [--dry-run]`: the same import job as
//! POST /imports, from a terminal: the file goes to the deployment's bucket, the job runs in
//! this process (continuing itself like the jobs function), and a progress bar shows rows/s
//! and the counts. The actor is `system`: whoever holds the deployment's credentials.

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use indicatif::{ProgressBar, ProgressStyle};
use userhub::domain::import::{ImportFormat, ImportJob, ImportMode, ImportRequest};
use userhub::domain::Actor;
use userhub::import::{self, ImportResource, Ran};
use userhub::jobs::JobResource;
use userhub::AppState;

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportArgs {
    pub file: String,
    pub request: ImportRequest,
}

impl ImportArgs {
    /// `FILE [--mode create|upsert] [--dry-run] [--format csv|json|ndjson]`; the format
    /// defaults to the file's extension.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut file = None;
        let mut mode = ImportMode::Create;
        let mut dry_run = false;
        let mut format = None;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--dry-run" => dry_run = true,
                "--mode" => {
                    let v = it.next().ok_or("--mode needs a value")?;
                    mode = ImportMode::parse(v).ok_or("--mode must be create or upsert")?;
                }
                "--format" => {
                    let v = it.next().ok_or("--format needs a value")?;
                    format =
                        Some(ImportFormat::parse(v).ok_or("--format must be csv, json or ndjson")?);
                }
                other if other.starts_with("--") => return Err(format!("unknown option {other}")),
                other if file.is_none() => file = Some(other.to_owned()),
                _ => return Err("give one file".into()),
            }
        }
        let file = file.ok_or("give the file to import")?;
        let format = match format {
            Some(f) => f,
            None => by_extension(&file)
                .ok_or("cannot tell the format from the extension; give --format")?,
        };
        Ok(Self {
            file,
            request: ImportRequest {
                format,
                mode,
                dry_run,
            },
        })
    }
}

fn by_extension(file: &str) -> Option<ImportFormat> {
    match Path::new(file)
        .extension()?
        .to_str()?
        .to_ascii_lowercase()
        .as_str()
    {
        "csv" => Some(ImportFormat::Csv),
        "json" => Some(ImportFormat::Json),
        "ndjson" | "jsonl" => Some(ImportFormat::Ndjson),
        _ => None,
    }
}

/// Uploads the file, runs the import to its end with a progress bar, and returns it.
pub async fn run(
    ctx: &AppState,
    args: &ImportArgs,
) -> Result<ImportResource, Box<dyn std::error::Error>> {
    let job = import::create(ctx, args.request, Actor::system().to_string()).await?;
    let body = ByteStream::from_path(&args.file).await?;
    ctx.s3
        .put_object()
        .bucket(&ctx.config.bucket_name)
        .key(import::report::upload_key(&job))
        .body(body)
        .send()
        .await
        .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())?;
    import::start(ctx, &job.id).await?;
    let mut worker = Some({
        let ctx = ctx.clone();
        let id = job.id.clone();
        tokio::spawn(async move {
            loop {
                match import::run(&ctx, &id, None).await {
                    Ok(Ran::Continued) => continue,
                    Ok(Ran::Skipped) => tokio::time::sleep(Duration::from_millis(500)).await,
                    Ok(Ran::Ended(_)) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        })
    });
    let bar = ProgressBar::new(0).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} rows  {per_sec}  {msg}  [{elapsed_precise}]",
    )?);
    let ended = loop {
        let current = ctx
            .store
            .import_job(&job.id)
            .await?
            .ok_or("the import job vanished")?;
        show(&bar, &current);
        if current.status.has_ended() {
            break current;
        }
        if let Some(done) = worker.take_if(|w| w.is_finished()) {
            // The job has ended (the next read shows it), or the worker failed: say why.
            done.await??;
            continue;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    bar.finish();
    Ok(ImportResource::of(ctx, ended).await?)
}

fn show(bar: &ProgressBar, job: &ImportJob) {
    let c = job.counts;
    if let Some(total) = c.total {
        bar.set_length(total);
    }
    bar.set_position(c.done());
    bar.set_message(format!(
        "created {}  updated {}  unchanged {}  failed {}",
        c.created, c.updated, c.unchanged, c.failed
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<ImportArgs, String> {
        ImportArgs::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_the_command_line() {
        let a = args(&["users.CSV", "--mode", "upsert", "--dry-run"]).unwrap();
        assert_eq!(
            a.request,
            ImportRequest {
                format: ImportFormat::Csv,
                mode: ImportMode::Upsert,
                dry_run: true
            }
        );
        assert_eq!(
            args(&["u.jsonl"]).unwrap().request.format,
            ImportFormat::Ndjson
        );
        assert_eq!(
            args(&["u.txt", "--format", "json"]).unwrap().request.format,
            ImportFormat::Json
        );
        assert!(args(&["u.txt"]).is_err());
        assert!(args(&["u.csv", "--mode", "merge"]).is_err());
        assert!(args(&[]).is_err());
    }
}
