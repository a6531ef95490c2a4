//! `userhub-admin bootstrap`: creates the first admin in any deployment (local or AWS),
//! from BOOTSTRAP_ADMIN_EMAIL / BOOTSTRAP_ADMIN_PASSWORD, or with a random password that
//! is printed once. Uses the same TABLE_NAME and AWS credentials as the functions.
//!
//! `userhub-admin import FILE [--mode upsert] [--dry-run] [--format csv|json|ndjson]`: runs
//! an import job from this terminal with a progress bar (`userhub_local_api::import_cli`).

use userhub::Ctx;
use userhub_local_api::setup::bootstrap_admin_from_env;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let command = std::env::args().nth(1);
    if command.as_deref() == Some("import") {
        return import(&std::env::args().skip(2).collect::<Vec<_>>()).await;
    }
    if command.as_deref() != Some("bootstrap") {
        eprintln!("usage: userhub-admin bootstrap\n  env: TABLE_NAME, BUCKET_NAME, JWT_SECRET, BOOTSTRAP_ADMIN_EMAIL?, BOOTSTRAP_ADMIN_PASSWORD?");
        std::process::exit(2);
    }
    let ctx = Ctx::from_env().await?;
    bootstrap_admin_from_env(&ctx)
        .await
        .map_err(|e| format!("{e}: {e:?}"))?;
    Ok(())
}

async fn import(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let args = userhub_local_api::import_cli::ImportArgs::parse(args).unwrap_or_else(|e| {
        eprintln!("{e}\nusage: userhub-admin import FILE [--mode create|upsert] [--dry-run] [--format csv|json|ndjson]");
        std::process::exit(2);
    });
    let ctx = Ctx::from_env().await?;
    let done = userhub_local_api::import_cli::run(&ctx, &args).await?;
    let c = done.job.counts;
    println!(
        "import {} {}: {} rows, {} created, {} updated, {} unchanged, {} failed",
        done.job.id,
        done.job.status.as_str(),
        c.total.unwrap_or(0),
        c.created,
        c.updated,
        c.unchanged,
        c.failed
    );
    if let Some(error) = &done.job.error {
        println!("error: {error}");
    }
    if let Some(url) = &done.report_url {
        println!("report: {url}");
    }
    Ok(())
}
