//! `userhub-admin`: operations on any deployment (local or AWS), with the same TABLE_NAME and
//! AWS credentials as the functions.
//!
//! - `bootstrap`: creates the first admin from BOOTSTRAP_ADMIN_EMAIL /
//!   BOOTSTRAP_ADMIN_PASSWORD, or with a random password that is printed once.
//! - `check [--repair] [--stuck-after SECONDS]`: reports every broken invariant of the
//!   table (`userhub::check`), and with `--repair` fixes what is safe. Exits 1 while
//!   anything is still broken.

use std::process::ExitCode;
use std::time::Duration;

use userhub::check::{check, Options};
use userhub::faults::Caller;
use userhub::Ctx;
use userhub_local_api::setup::bootstrap_admin_from_env;

const USAGE: &str = "usage: userhub-admin bootstrap | check [--repair] [--stuck-after SECONDS]
  env: TABLE_NAME, BUCKET_NAME, JWT_SECRET, BOOTSTRAP_ADMIN_EMAIL?, BOOTSTRAP_ADMIN_PASSWORD?";

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, flags) = args.split_first().ok_or(USAGE)?;
    match command.as_str() {
        "bootstrap" if flags.is_empty() => {
            let ctx = Ctx::from_env().await?;
            bootstrap_admin_from_env(&ctx)
                .await
                .map_err(|e| format!("{e}: {e:?}"))?;
            Ok(ExitCode::SUCCESS)
        }
        "check" => run_check(parse_check(flags)?).await,
        _ => Err(USAGE.into()),
    }
}

fn parse_check(flags: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        match flag.as_str() {
            "--repair" => options.repair = true,
            "--stuck-after" => {
                let secs = flags.next().and_then(|v| v.parse().ok()).ok_or(USAGE)?;
                options.stuck_after = Duration::from_secs(secs);
            }
            _ => return Err(USAGE.into()),
        }
    }
    Ok(options)
}

async fn run_check(options: Options) -> Result<ExitCode, Box<dyn std::error::Error>> {
    // A scan of the whole table is no interactive request: it may outwait a slow table.
    let ctx = Ctx::from_env_for(Caller::Worker).await?;
    let report = check(&ctx.store, options).await?;
    for finding in &report.findings {
        println!("{finding}");
    }
    let broken = report.unrepaired().count();
    println!(
        "{} finding(s), {} repaired, {broken} still broken",
        report.findings.len(),
        report.findings.len() - broken
    );
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
