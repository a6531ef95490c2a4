//! `make bench-import`: import throughput next to what bounds it, measured in one run on one
//! machine: one core's argon2id rate (the cost of a plain-text password), the raw write rate
//! of `Store::seed_users` (BatchWriteItem of bare profiles, no reservations, counters or
//! audit), an import of `--rows` rows with `password_hash` (default 20,000) and one of
//! `--plain` rows with plain-text passwords (default 2,000), and the process's peak RSS.
//! `--phase plain|hash|seed` picks one; each prints one JSON object, and fails when its peak
//! RSS is over budget. Needs the local stack; `make bench-import` runs each phase in a fresh
//! one.

use std::time::Instant;

use serde_json::json;
use userhub::domain::import::{ImportFormat, ImportMode, ImportRequest};
use userhub::domain::Actor;
use userhub::import::{self, Ran};
use userhub::AppState;
use userhub_tests::{
    flags, peak_rss_kib, seed_user, seed_users, TestApp, IMPORT_RSS_BUDGET_KIB, PASSWORD,
};

type BoxError = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let rows = flags::parsed(&args, "--rows", 20_000)?;
    let plain = flags::parsed(&args, "--plain", 2_000)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let phase = flags::value(&args, "--phase")?;
    // One phase per process and per fresh DynamoDB Local (the Makefile runs each in its own
    // stack): on DynamoDB Local, the transactions of a phase that follows another crawl,
    // its SQLite thread busy in a stream lookup (`getStreamDescription`), even after the
    // earlier table is deleted. 20,000 hash rows after 2,000 plain ones did not end in 200 s.
    let mut report = match phase {
        Some("plain") => {
            let argon2_per_core = argon2_rate().await?;
            let rate = import_rate(plain, "password", PASSWORD).await?;
            json!({
                "cores": cores,
                "argon2id_hashes_per_s_one_core": argon2_per_core,
                "import_plain_rows": plain,
                "import_plain_rows_per_s": rate,
                "import_plain_vs_all_cores_argon2": rate / (argon2_per_core * cores as f64),
            })
        }
        Some("hash") => {
            let hash = "$2b$10$5OZPYLLcXujGIsoC5SwDFuTn25XyiB28WVyo08GSHAZoNse8rHgka";
            let rate = import_rate(rows, "password_hash", hash).await?;
            json!({"import_hash_rows": rows, "import_hash_rows_per_s": rate})
        }
        Some("seed") => {
            json!({"seed_users_rows": rows, "seed_users_rows_per_s": seed_rate(rows).await})
        }
        _ => return Err("--phase plain, hash or seed".into()),
    };
    let peak = peak_rss_kib()?;
    report["peak_rss_kib"] = json!(peak);
    println!("{}", serde_json::to_string_pretty(&report)?);
    if peak > IMPORT_RSS_BUDGET_KIB {
        return Err(format!(
            "peak RSS {peak} KiB is over the budget of {IMPORT_RSS_BUDGET_KIB} KiB"
        )
        .into());
    }
    Ok(())
}

/// `Store::seed_users`' rows per second into an empty table: BatchWriteItem of bare profiles.
async fn seed_rate(rows: usize) -> f64 {
    let app = TestApp::with_env(&[]).await;
    let users: Vec<_> = (0..rows).map(|i| seed_user(i, Some("Seed"))).collect();
    let started = Instant::now();
    seed_users(&app.state.store, &users).await;
    rows as f64 / started.elapsed().as_secs_f64()
}

/// argon2id hashes per second on one core (one blocking thread at a time), over ~3 s.
async fn argon2_rate() -> Result<f64, BoxError> {
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed().as_secs_f64() < 3.0 || n < 5 {
        userhub::auth::passwords::hash(PASSWORD.to_owned()).await?;
        n += 1;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Rows per second of a `rows`-row CSV import into an empty table, from start to end.
async fn import_rate(rows: usize, column: &str, credential: &str) -> Result<f64, BoxError> {
    let app = TestApp::with_env(&[]).await;
    let ctx: &AppState = &app.state;
    let mut file = format!("email,username,{column}\n");
    for i in 0..rows {
        file.push_str(&format!("bench{i}@bench.example,bench{i},{credential}\n"));
    }
    let request = ImportRequest {
        format: ImportFormat::Csv,
        mode: ImportMode::Create,
        dry_run: false,
    };
    let job = import::create(ctx, request, Actor::system().to_string()).await?;
    ctx.s3
        .put_object()
        .bucket(&ctx.config.bucket_name)
        .key(import::report::upload_key(&job))
        .body(file.into_bytes().into())
        .send()
        .await?;
    import::start(ctx, &job.id).await?;
    let started = Instant::now();
    loop {
        match import::run(ctx, &job.id, None).await? {
            Ran::Ended(done) => {
                if done.counts.created != rows as u64 {
                    return Err(
                        format!("{column}: created {} of {rows}", done.counts.created).into(),
                    );
                }
                break;
            }
            Ran::Continued => continue,
            Ran::Skipped => return Err("the import was skipped".into()),
        }
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}
