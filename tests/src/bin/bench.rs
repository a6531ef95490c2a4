//! `make bench`: the performance budgets of DESIGN.md that a local run can measure, as
//! ratios within one run, with the real release binaries under our Lambda runtime API
//! emulator (`userhub_tests::lambda_emulator`) against the local stack.
//!
//! - Cold start: exec to the first `GET /runtime/invocation/next`, median of 15 starts per
//!   binary (interleaved), next to a bare `lambda_runtime` hello world (`hello_lambda`)
//!   built with the same profile. Budget: within 1.5x.
//! - Warm `GET /health`: 200 invocations per HTTP function through the emulator (median and
//!   p95), each followed by the raw calls it must make, a DynamoDB GetItem and an S3
//!   HeadBucket (concurrently, as the handler does), made with the SDK from this process.
//!   Budget: within 1.3x. The emulator's own round trip (hello_lambda, warm) and the raw
//!   calls on their own are shown for reference.
//!
//! Needs the release binaries: `cargo build --release --workspace --bins` (`make bench`
//! builds them first), and the local stack's environment (`python3 infra/stack.py run`).
//! `--strict` exits with 1 when a budget is exceeded.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use userhub_tests::lambda_emulator::{
    apigw_v2_get, artifact_dir, built_binary, HttpResponse, LambdaProcess, Outcome,
};
use userhub_tests::TestApp;

const COLD_RUNS: usize = 15;
const WARM_RUNS: usize = 200;
const WARM_UP: usize = 10;
const COLD_BUDGET: f64 = 1.5;
const WARM_BUDGET: f64 = 1.3;
const TIMEOUT: Duration = Duration::from_secs(30);
/// Sampling stops (with what it has) past this, to keep the run bounded.
const TIME_LIMIT: Duration = Duration::from_secs(170);

struct Function {
    name: &'static str,
    package_dir: &'static str,
    http: bool,
}

const FUNCTIONS: [Function; 5] = [
    Function {
        name: "userhub-auth",
        package_dir: "functions/auth",
        http: true,
    },
    Function {
        name: "userhub-users",
        package_dir: "functions/users",
        http: true,
    },
    Function {
        name: "userhub-exports",
        package_dir: "functions/exports",
        http: true,
    },
    Function {
        name: "userhub-imports",
        package_dir: "functions/imports",
        http: true,
    },
    Function {
        name: "userhub-jobs",
        package_dir: "functions/jobs",
        http: false,
    },
];
const BASELINE: &str = "hello_lambda";

type BoxError = Box<dyn std::error::Error>;

#[derive(Debug, Clone)]
struct Stats {
    n: usize,
    median: Duration,
    p95: Duration,
    min: Duration,
    max: Duration,
}

impl Stats {
    fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort();
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2
        };
        let p95 = s[((n as f64 * 0.95).ceil() as usize).clamp(1, n) - 1];
        Some(Self {
            n,
            median,
            p95,
            min: s[0],
            max: s[n - 1],
        })
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn verdict(r: f64, budget: f64) -> &'static str {
    if r <= budget {
        "ok"
    } else {
        "OVER"
    }
}

fn size_mib(path: &PathBuf) -> String {
    std::fs::metadata(path).map_or_else(
        |_| "?".into(),
        |m| format!("{:.1} MiB", m.len() as f64 / (1 << 20) as f64),
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    let strict = std::env::args().any(|a| a == "--strict");
    match run().await {
        Ok(over) if over && strict => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(2)
        }
    }
}

/// Returns whether a budget was exceeded.
async fn run() -> Result<bool, BoxError> {
    let started = Instant::now();
    let dir = artifact_dir();
    if dir.file_name().is_some_and(|n| n != "release") {
        eprintln!(
            "bench: WARNING: running from {} (not a release build); numbers are not representative",
            dir.display()
        );
    }
    let mut binaries: Vec<(&str, PathBuf)> = Vec::new();
    for f in &FUNCTIONS {
        binaries.push((f.name, built_binary(f.name, f.package_dir)?));
    }
    let hello = built_binary(BASELINE, "tests")?;

    // The function configuration: a fresh table and bucket on the local stack.
    let uid = || uuid::Uuid::now_v7().simple().to_string();
    let env: Vec<(String, String)> = vec![
        ("TABLE_NAME".into(), format!("t-bench-{}", uid())),
        ("BUCKET_NAME".into(), format!("b-bench-{}", uid())),
        (
            "JWT_SECRET".into(),
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
        ),
        ("S3_FORCE_PATH_STYLE".into(), "true".into()),
        // Request logs stay on (as deployed); they go to a pipe we drain.
    ];
    let overrides: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config = TestApp::config(&overrides);
    let sdk = userhub::app::load_sdk_config().await;
    let state = userhub::Ctx::new(config, &sdk);
    TestApp::provision(&state).await;

    println!(
        "userhub bench: {} ({} CPUs), binaries from {}",
        if cfg!(debug_assertions) {
            "debug bench binary"
        } else {
            "release"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        dir.display()
    );
    println!();

    // ------------------------------------------------------------------ cold starts
    let mut cold: Vec<(String, PathBuf, Vec<Duration>)> =
        std::iter::once((BASELINE.to_owned(), hello.clone(), vec![]))
            .chain(
                binaries
                    .iter()
                    .map(|(n, p)| (n.to_string(), p.clone(), vec![])),
            )
            .collect();
    let mut cold_runs = 0;
    'runs: for _ in 0..COLD_RUNS {
        for (name, path, samples) in cold.iter_mut() {
            if started.elapsed() > TIME_LIMIT / 2 {
                eprintln!("bench: cold starts cut short by the time limit");
                break 'runs;
            }
            let mut p = LambdaProcess::spawn(path, name, &env).await?;
            let d = p
                .wait_ready(TIMEOUT)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            samples.push(d);
            drop(p);
        }
        cold_runs += 1;
    }
    let base = Stats::of(&cold[0].2).ok_or("no baseline samples")?;
    let mut over = false;
    println!("Cold start: exec to first /invocation/next, {cold_runs} interleaved runs each (budget: <= {COLD_BUDGET}x {BASELINE})");
    println!(
        "  {:<17} {:>10} {:>11} {:>11} {:>11} {:>8}  budget",
        "binary", "size", "median", "min", "max", "ratio"
    );
    for (name, path, samples) in &cold {
        let s = Stats::of(samples).ok_or("no samples")?;
        let r = ratio(s.median, base.median);
        let v = if name == BASELINE {
            "(baseline)"
        } else {
            over |= r > COLD_BUDGET;
            verdict(r, COLD_BUDGET)
        };
        println!(
            "  {:<17} {:>10} {:>11} {:>11} {:>11} {:>7.2}x  {}",
            name,
            size_mib(path),
            ms(s.median),
            ms(s.min),
            ms(s.max),
            r,
            v
        );
    }
    println!();

    // ------------------------------------------------------------------ warm /health
    // The emulator's own round trip: the baseline answering a warm event.
    let mut hello_p = LambdaProcess::spawn(&hello, BASELINE, &env).await?;
    hello_p.wait_ready(TIMEOUT).await?;
    let event = json!({"ping": true});
    let mut emu = Vec::with_capacity(WARM_RUNS);
    for i in 0..WARM_UP + WARM_RUNS {
        let t = Instant::now();
        let out = hello_p.invoke(&event, TIMEOUT).await?;
        if i >= WARM_UP {
            emu.push(t.elapsed());
        }
        if let Outcome::Error { .. } = out {
            return Err(format!("{BASELINE} failed: {out:?}").into());
        }
    }
    drop(hello_p);
    let emu = Stats::of(&emu).ok_or("no emulator samples")?;

    // The raw calls /health makes, from this process with the same SDK configuration.
    let ddb = state.store.client().clone();
    let s3 = state.s3.clone();
    let table = state.config.table_name.clone();
    let bucket = state.config.bucket_name.clone();
    // The same key Store::ping reads.
    let get_item = || {
        ddb.get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("HEALTH".into()))
            .key("sk", AttributeValue::S("HEALTH".into()))
            .send()
    };
    let head_bucket = || s3.head_bucket().bucket(&bucket).send();
    let (mut raw_both, mut raw_ddb, mut raw_s3) = (vec![], vec![], vec![]);
    for i in 0..WARM_UP + WARM_RUNS {
        let t = Instant::now();
        let (a, b) = tokio::join!(get_item(), head_bucket());
        let both = t.elapsed();
        a?;
        b?;
        let t = Instant::now();
        get_item().await?;
        let one_ddb = t.elapsed();
        let t = Instant::now();
        head_bucket().await?;
        let one_s3 = t.elapsed();
        if i >= WARM_UP {
            raw_both.push(both);
            raw_ddb.push(one_ddb);
            raw_s3.push(one_s3);
        }
    }
    let raw = Stats::of(&raw_both).ok_or("no raw samples")?;
    let raw_ddb = Stats::of(&raw_ddb).ok_or("no raw samples")?;
    let raw_s3 = Stats::of(&raw_s3).ok_or("no raw samples")?;

    // Each function's invocations alternate with the raw calls, so that both see the same
    // load on the machine (and on DynamoDB Local and the S3 emulator).
    let mut warm: Vec<(&str, Stats, Stats)> = vec![];
    for f in FUNCTIONS.iter().filter(|f| f.http) {
        if started.elapsed() > TIME_LIMIT {
            eprintln!("bench: warm runs cut short by the time limit");
            break;
        }
        let path = &binaries
            .iter()
            .find(|(n, _)| *n == f.name)
            .expect("located")
            .1;
        let mut p = LambdaProcess::spawn(path, f.name, &env).await?;
        p.wait_ready(TIMEOUT).await?;
        let (mut samples, mut raw_samples) =
            (Vec::with_capacity(WARM_RUNS), Vec::with_capacity(WARM_RUNS));
        for i in 0..WARM_UP + WARM_RUNS {
            let event = apigw_v2_get("/health", &format!("bench-{i}"));
            let t = Instant::now();
            let out = p.invoke(&event, TIMEOUT).await?;
            let d = t.elapsed();
            let res = HttpResponse::parse(&out)?;
            if res.status != 200 {
                return Err(format!(
                    "{}: GET /health answered {}: {}",
                    f.name, res.status, res.body
                )
                .into());
            }
            let t = Instant::now();
            let (a, b) = tokio::join!(get_item(), head_bucket());
            let raw_d = t.elapsed();
            a?;
            b?;
            if i >= WARM_UP {
                samples.push(d);
                raw_samples.push(raw_d);
            }
        }
        warm.push((
            f.name,
            Stats::of(&samples).ok_or("no samples")?,
            Stats::of(&raw_samples).ok_or("no samples")?,
        ));
    }

    println!(
        "Warm GET /health: {WARM_RUNS} invocations per function through the emulator, each followed by the raw \
         calls, after {WARM_UP} warm-up (budget: median <= {WARM_BUDGET}x raw)"
    );
    println!(
        "  {:<34} {:>11} {:>11} {:>11} {:>11} {:>8}  budget",
        "", "median", "p95", "raw median", "raw p95", "ratio"
    );
    for (name, s, r) in &warm {
        let x = ratio(s.median, r.median);
        over |= x > WARM_BUDGET;
        println!(
            "  {:<34} {:>11} {:>11} {:>11} {:>11} {:>7.2}x  {}",
            name,
            ms(s.median),
            ms(s.p95),
            ms(r.median),
            ms(r.p95),
            x,
            verdict(x, WARM_BUDGET)
        );
    }
    println!("  reference, measured on their own:");
    println!(
        "  {:<34} {:>11} {:>11}",
        "  raw GetItem + HeadBucket (joined)",
        ms(raw.median),
        ms(raw.p95)
    );
    println!(
        "  {:<34} {:>11} {:>11}",
        "  raw GetItem alone",
        ms(raw_ddb.median),
        ms(raw_ddb.p95)
    );
    println!(
        "  {:<34} {:>11} {:>11}",
        "  raw HeadBucket alone",
        ms(raw_s3.median),
        ms(raw_s3.p95)
    );
    println!(
        "  {:<34} {:>11} {:>11}",
        format!("  emulator round trip ({BASELINE})"),
        ms(emu.median),
        ms(emu.p95)
    );
    println!();
    println!(
        "{} samples per warm row; total {:.1} s",
        warm.first().map_or(0, |(_, s, _)| s.n),
        started.elapsed().as_secs_f64()
    );
    Ok(over)
}
