//! `make bench-export`: seeds a table with 100,000 users (`--users N`), then compares
//! export throughput (CSV and JSON, full columns) with a raw parallel Scan of the same
//! table over a few rounds (`--rounds N`, medians reported, as the machine is shared with
//! DynamoDB Local and the S3 emulator), and measures the export's peak RSS. Every raw Scan
//! reports its page times, and `--sweep 1,4,16` times one raw Scan per segment count.
//! `--segments N` sets the export's (and its raw Scan's) segment count, as
//! EXPORT_SCAN_SEGMENTS does in a deployment; `--no-warmup` skips the uncounted warm-up. Each export
//! runs in a child process of its own, so its peak RSS is the export's and not the
//! seeding's; each file is downloaded through its link and its rows counted. Exits
//! non-zero when a budget below is missed. Needs the local stack (see the Makefile).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use userhub::domain::export::{ExportRequest, Fields, Format, Trigger};
use userhub::{AppState, Ctx};
use userhub_tests::{download, flags, peak_rss_kib, seed_user, seed_users, TestApp};

/// The budget for an export's peak RSS.
const RSS_BUDGET_KIB: u64 = 64 * 1024;
/// The budget: an export reads at least this fraction of a raw Scan's rows/s.
const THROUGHPUT_BUDGET: f64 = 0.8;
const CHILD: &str = "--export-child";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = if flags::present(&args, CHILD) {
        child(&args).await
    } else {
        parent(&args).await
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprint!("bench_export: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprint!(": {cause}");
                source = cause.source();
            }
            eprintln!();
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error>;

/// Runs one export against the table and bucket named in the environment; prints its
/// numbers as one JSON line.
async fn child(args: &[String]) -> Result<ExitCode, BoxError> {
    let format = flags::value(args, CHILD)?
        .and_then(Format::parse)
        .ok_or("child needs a format")?;
    // The jobs worker's SDK patience, as in the parent: a PutItem met a busy DynamoDB
    // Local after a 300,000-user Scan and gave up within the interactive budget.
    let ctx = Ctx::from_env_for(userhub::faults::Caller::Worker).await?;
    let before = peak_rss_kib()?;
    let request = ExportRequest {
        format,
        fields: Fields::Full,
        filters: Default::default(),
    };
    let started = Instant::now();
    let job = userhub::export::run_now(&ctx, request, "bench".into(), Trigger::Api, None).await?;
    let elapsed = started.elapsed();
    let line = json!({
        "id": job.id,
        "rows": job.row_count,
        "bytes": job.size_bytes,
        "seconds": elapsed.as_secs_f64(),
        "rss_before_kib": before,
        "rss_peak_kib": peak_rss_kib()?,
    });
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

async fn parent(args: &[String]) -> Result<ExitCode, BoxError> {
    let users = flags::parsed(args, "--users", 100_000)?;
    // DynamoDB Local's Scan page takes time in proportion to the table's size, so a whole
    // Scan takes the square of it: at 100,000 users a round is seconds, at a million it is
    // minutes. Large tables get one round, no warm-up, and 16 segments (which DynamoDB
    // Local serves 4x faster than 4) unless told otherwise.
    let large = users > 300_000;
    let rounds = flags::parsed(args, "--rounds", if large { 1 } else { 3 })?;
    let warmup = !large && !flags::present(args, "--no-warmup");
    let sweep = segment_counts(args)?;
    let segments = flags::parsed(args, "--segments", if large { 16 } else { 4 })?.to_string();
    let config = TestApp::config(&[("EXPORT_SCAN_SEGMENTS", &segments)]);
    // An export is the jobs worker's work: its SDK calls get the worker's patience.
    let sdk = userhub::app::load_sdk_config_for(userhub::faults::Caller::Worker).await;
    let state = Ctx::new(config, &sdk);
    TestApp::provision(&state).await;
    let segments = state.config.export_scan_segments;
    println!(
        "table {} | {users} users | {segments} scan segments | {rounds} rounds{} | {} MiB parts",
        state.config.table_name,
        if warmup { "" } else { ", no warm-up" },
        state.config.export_part_size / (1024 * 1024)
    );

    let started = Instant::now();
    let seeds: Vec<_> = (0..users)
        .map(|i| seed_user(i, Some(&format!("Bench User {i}"))))
        .collect();
    seed_users(&state.store, &seeds).await;
    let seeded = started.elapsed();
    // Exports leave soft-deleted users out unless asked for them.
    let live = seeds
        .iter()
        .filter(|u| u.status != userhub::domain::Status::Deleted)
        .count() as u64;
    drop(seeds);
    println!(
        "seeded       {users:>8} items in {:>6.2} s ({:>8.0} items/s, BatchWriteItem)",
        seeded.as_secs_f64(),
        users as f64 / seeded.as_secs_f64()
    );

    // DynamoDB Local runs on a JVM and is slow on the first runs of each kind of Scan
    // (plain, and filtered with a projection): one of each warms it up, uncounted. At a
    // million users a warm-up costs minutes and its first pages warm the JIT anyway.
    if warmup {
        raw_scan(&state, segments).await?;
        export_in_child(&state, Format::Csv).await?;
    }
    for count in sweep {
        let scan = raw_scan(&state, count).await?;
        println!(
            "sweep  raw Scan in {count:>3} segments: {:>7.0} items/s | {}",
            scan.rate(),
            scan.pages_summary()
        );
    }

    let mut scan_rates = Vec::new();
    let mut export_rates: Vec<(Format, f64)> = Vec::new();
    let mut peak_rss = 0;
    let mut ok = true;
    for round in 1..=rounds {
        let scan = raw_scan(&state, segments).await?;
        let scan_rate = scan.rate();
        scan_rates.push(scan_rate);
        println!(
            "round {round}  raw Scan    {:>7} items in {:>5.2} s ({scan_rate:>6.0} items/s) | {}",
            scan.items,
            scan.elapsed.as_secs_f64(),
            scan.pages_summary()
        );
        for format in [Format::Csv, Format::Json] {
            let run = export_in_child(&state, format).await?;
            let rows = run["rows"].as_u64().unwrap_or(0);
            let seconds = run["seconds"].as_f64().unwrap_or(f64::INFINITY);
            let rate = rows as f64 / seconds;
            let peak = run["rss_peak_kib"].as_u64().unwrap_or(u64::MAX);
            let bytes = run["bytes"].as_u64().unwrap_or(0);
            let downloaded = verify(&state, &run, format).await?;
            export_rates.push((format, rate));
            peak_rss = peak_rss.max(peak);
            println!(
                "round {round}  export {:<4} {rows:>7} rows  in {seconds:>5.2} s ({rate:>6.0} rows/s, {:.2}x) \
                 | {:>4.1} MiB file, {downloaded} rows read back | peak RSS {:.1} MiB (idle {:.1} MiB)",
                format.as_str(),
                rate / scan_rate,
                bytes as f64 / (1024.0 * 1024.0),
                peak as f64 / 1024.0,
                run["rss_before_kib"].as_u64().unwrap_or(0) as f64 / 1024.0,
            );
            if rows != live || downloaded != rows {
                println!("  FAIL: {live} users to export, but {rows} exported and {downloaded} read back");
                ok = false;
            }
        }
    }

    let scan_rate = median(scan_rates);
    println!("\nmedians over {rounds} rounds: raw Scan {scan_rate:.0} items/s");
    for format in [Format::Csv, Format::Json] {
        let rate = median(
            export_rates
                .iter()
                .filter(|(f, _)| *f == format)
                .map(|(_, r)| *r)
                .collect(),
        );
        let ratio = rate / scan_rate;
        let verdict = if ratio >= THROUGHPUT_BUDGET {
            "ok"
        } else {
            "UNDER 0.8x"
        };
        println!(
            "  export {:<4} {rate:.0} rows/s = {ratio:.2}x raw Scan ({verdict})",
            format.as_str()
        );
        ok &= ratio >= THROUGHPUT_BUDGET;
    }
    let verdict = if peak_rss < RSS_BUDGET_KIB {
        "ok"
    } else {
        "OVER 64 MiB"
    };
    println!(
        "  export peak RSS {:.1} MiB ({verdict})",
        peak_rss as f64 / 1024.0
    );
    ok &= peak_rss < RSS_BUDGET_KIB;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--sweep 1,4,16`: segment counts to time one raw Scan with each, besides the export's.
fn segment_counts(args: &[String]) -> Result<Vec<u32>, BoxError> {
    let Some(list) = flags::value(args, "--sweep")? else {
        return Ok(Vec::new());
    };
    Ok(list.split(',').map(str::parse).collect::<Result<_, _>>()?)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// One raw parallel Scan: the items it read, how long it took, and each page's time.
struct ScanRun {
    items: u64,
    elapsed: Duration,
    pages: Vec<Duration>,
}

impl ScanRun {
    fn rate(&self) -> f64 {
        self.items as f64 / self.elapsed.as_secs_f64()
    }

    /// Page times (p50 / p99 / max, ms): where the cost of a Scan goes as the table grows,
    /// since DynamoDB Local's page time, not the client, bounds every export.
    fn pages_summary(&self) -> String {
        let mut pages = self.pages.clone();
        pages.sort();
        let at = |q: f64| {
            let i = ((pages.len() as f64 * q).ceil() as usize).clamp(1, pages.len().max(1)) - 1;
            pages.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        format!(
            "{} pages, page p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            pages.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        )
    }
}

/// A parallel Scan of every item in `segments` segments, counting items: with the
/// export's segment count, the floor an export's read side cannot beat.
async fn raw_scan(state: &AppState, segments: u32) -> Result<ScanRun, BoxError> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for segment in 0..segments {
        let client = state.store.client().clone();
        let table = state.config.table_name.clone();
        tasks.spawn(async move {
            let mut pages = client
                .scan()
                .table_name(table)
                .segment(segment as i32)
                .total_segments(segments as i32)
                .into_paginator()
                .send();
            let (mut count, mut times) = (0u64, Vec::new());
            let mut asked = Instant::now();
            while let Some(page) = pages.next().await {
                times.push(asked.elapsed());
                count += page.map_err(|e| e.to_string())?.items().len() as u64;
                asked = Instant::now();
            }
            Ok::<_, String>((count, times))
        });
    }
    let (mut items, mut pages) = (0, Vec::new());
    while let Some(joined) = tasks.join_next().await {
        let (count, times) = joined??;
        items += count;
        pages.extend(times);
    }
    Ok(ScanRun {
        items,
        elapsed: started.elapsed(),
        pages,
    })
}

async fn export_in_child(state: &AppState, format: Format) -> Result<Value, BoxError> {
    let segments = state.config.export_scan_segments;
    let out = tokio::process::Command::new(std::env::current_exe()?)
        .args([CHILD, format.as_str()])
        .env("TABLE_NAME", &state.config.table_name)
        .env("BUCKET_NAME", &state.config.bucket_name)
        .env("JWT_SECRET", "bench-secret-bench-secret-bench-secret")
        .env("S3_FORCE_PATH_STYLE", "true")
        .env("EXPORT_SCAN_SEGMENTS", segments.to_string())
        .output()
        .await?;
    if !out.status.success() {
        return Err(format!(
            "export child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let stdout = String::from_utf8(out.stdout)?;
    let line = stdout
        .lines()
        .last()
        .ok_or("export child printed nothing")?;
    Ok(serde_json::from_str(line)?)
}

/// Downloads the export through its presigned link, counts its rows, and deletes it.
async fn verify(state: &AppState, run: &Value, format: Format) -> Result<u64, BoxError> {
    let id = run["id"].as_str().ok_or("no job id")?;
    let job = state.store.export_job(id).await?.ok_or("job not found")?;
    let link = userhub::export::download(state, &job)
        .await?
        .ok_or("export has no link")?;
    let (status, _, body) = download(&link.url).await;
    if status != 200 {
        return Err(format!("download answered {status}").into());
    }
    let rows = match format {
        Format::Csv => csv::Reader::from_reader(&body[..]).records().count() as u64,
        Format::Json => serde_json::from_slice::<Vec<Value>>(&body)?.len() as u64,
    };
    // The S3 emulator keeps objects in memory; left there, they slow later rounds down.
    if let Some(key) = &job.object_key {
        state
            .s3
            .delete_object()
            .bucket(&state.config.bucket_name)
            .key(key)
            .send()
            .await?;
    }
    Ok(rows)
}
