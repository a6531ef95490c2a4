//! `make bench`: the performance budgets, measured as ratios within one run against
//! the local stack, with the real release binaries under our Lambda runtime API emulator
//! (`userhub_tests::lambda_emulator`). Each step is a module:
//!
//! - [`calls`]: DynamoDB round trips per operation, counted by an SDK interceptor.
//! - [`cold`]: cold start per binary next to a bare `lambda_runtime` hello world and a
//!   Python/boto3 peer ([`peer`]), with size and memory after the first invocation.
//! - [`warm`]: warm latency per endpoint through the binaries next to its raw work.
//! - [`load`]: a closed-loop generator at several concurrencies against the local API.
//! - [`sizing`]: argon2id time against the CPU share of each Lambda memory size.
//! - [`report`] and [`charts`]: the tables (terminal and docs/BENCHMARKS.md) and SVGs.
//!
//! Needs the release binaries (`make bench` builds exactly those it runs) and the local
//! stack's environment (`python3 infra/stack.py run`). Exits with 1 when a budget is
//! missed under `--strict`, 2 on an error. `--quick` takes fewer samples and writes its
//! report under target/bench-quick instead of docs/.

mod calls;
mod charts;
mod cold;
mod endpoints;
mod fixture;
mod load;
mod peer;
mod recorder;
mod report;
mod sizing;
mod stats;
mod summary;
mod warm;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use report::Table;
use userhub_tests::lambda_emulator::{artifact_dir, built_binary, workspace_root};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Something the runtime emulator runs.
#[derive(Debug, Clone)]
pub struct Program {
    pub name: String,
    pub path: PathBuf,
    pub args: Vec<String>,
    /// Answers API Gateway events.
    pub http: bool,
    /// One of userhub's functions (held to the cold-start budget).
    pub function: bool,
    /// The Python peer.
    pub peer: bool,
}

/// userhub's function binaries and the package each is built from.
const FUNCTIONS: [(&str, &str, bool); 5] = [
    ("userhub-auth", "functions/auth", true),
    ("userhub-users", "functions/users", true),
    ("userhub-exports", "functions/exports", true),
    ("userhub-imports", "functions/imports", true),
    ("userhub-jobs", "functions/jobs", false),
];
const BASELINE: &str = "hello_lambda";

/// How many samples each step takes.
struct Effort {
    cold_runs: usize,
    cold_time: Duration,
    warm: (usize, usize),
    load_time: Duration,
    load_max: usize,
    hashes: usize,
}

const FULL: Effort = Effort {
    cold_runs: 15,
    cold_time: Duration::from_secs(90),
    warm: (10, 200),
    load_time: Duration::from_secs(3),
    load_max: 20_000,
    hashes: 10,
};

const QUICK: Effort = Effort {
    cold_runs: 5,
    cold_time: Duration::from_secs(30),
    warm: (5, 30),
    load_time: Duration::from_secs(1),
    load_max: 2_000,
    hashes: 3,
};

fn programs() -> Result<Vec<Program>, BoxError> {
    let program =
        |name: &str, package: &str, http: bool, function: bool| -> Result<Program, BoxError> {
            Ok(Program {
                name: name.to_owned(),
                path: built_binary(name, package)?,
                args: vec![],
                http,
                function,
                peer: false,
            })
        };
    let mut all = vec![program(BASELINE, "tests", false, false)?];
    for (name, package, http) in FUNCTIONS {
        all.push(program(name, package, http, true)?);
    }
    match peer::Peer::locate() {
        Some(p) => all.push(p.program()),
        None => eprintln!(
            "bench: no .local/venv (python3 infra/stack.py install): the Python peer is skipped"
        ),
    }
    Ok(all)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // The sizing step's child process: hashes under a CPU quota, outside any runtime.
    if let Some(i) = args.iter().position(|a| a == sizing::PROBE_FLAG) {
        let n = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(1);
        return match sizing::probe(n) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("argon2 probe: {e}");
                ExitCode::from(2)
            }
        };
    }
    // The in-process API's request logs would bury the tables (the function binaries
    // still log as deployed, into the emulator's pipes).
    let _ = tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default());
    let quick = args.iter().any(|a| a == "--quick");
    let strict = args.iter().any(|a| a == "--strict");
    let result = tokio::runtime::Runtime::new()
        .map_err(BoxError::from)
        .and_then(|rt| rt.block_on(run(quick)));
    match result {
        Ok(over) if over && strict => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(2)
        }
    }
}

/// Where a run's report goes, and the command it names.
struct Output {
    dir: PathBuf,
    command: &'static str,
}

impl Output {
    fn of(quick: bool) -> Self {
        let (dir, command) = if quick {
            ("target/bench-quick", "make bench-quick")
        } else {
            ("docs", "make bench")
        };
        Self {
            dir: workspace_root().join(dir),
            command,
        }
    }
}

/// Every step's results: the report's tables in order, and the steps the charts draw.
struct Measured {
    tables: Vec<Table>,
    cold: cold::ColdStarts,
    warm: warm::Warm,
    load: load::Load,
}

/// Returns whether a budget was missed.
async fn run(quick: bool) -> Result<bool, BoxError> {
    let started = Instant::now();
    let effort = if quick { QUICK } else { FULL };
    let programs = programs()?;
    announce(quick);
    let fx = fixture::Fixture::new().await?;
    let measured = measure(&fx, &programs, &effort).await?;
    let path = write_report(&Output::of(quick), &measured, started)?;
    println!(
        "report: {} ({:.0} s)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(budgets_missed(&measured.tables))
}

/// Names where the binaries come from, warning when that is a debug build.
fn announce(quick: bool) {
    let dir = artifact_dir();
    if dir.file_name().is_some_and(|n| n == "debug") {
        eprintln!(
            "bench: WARNING: binaries from {} (a debug build); numbers are not representative",
            dir.display()
        );
    }
    println!(
        "userhub bench{}: binaries from {}\n",
        if quick { " (quick)" } else { "" },
        dir.display()
    );
}

/// Runs every step in turn, printing each table as it is done.
async fn measure(
    fx: &fixture::Fixture,
    programs: &[Program],
    effort: &Effort,
) -> Result<Measured, BoxError> {
    let (calls, recorded) = calls::measure(fx).await?;
    println!("{}", calls.text());
    let cold = cold::measure(programs, &fx.env, effort.cold_runs, effort.cold_time).await?;
    println!("{}", cold.table.text());
    let warm = warm::measure(fx, programs, &recorded, effort.warm).await?;
    println!("{}", warm.table.text());
    let load = load::measure(fx, &recorded, effort.load_time, effort.load_max).await?;
    println!("{}", load.table.text());
    let sizing = sizing::measure(effort.hashes);
    println!("{}", sizing.table.text());
    let peer = summary::peer(&cold, &warm);
    println!("{}", peer.text());
    let logins = summary::logins(&warm, &load, &sizing);
    println!("{}", logins.text());
    let tables = vec![
        calls,
        cold.table.clone(),
        warm.table.clone(),
        peer,
        load.table.clone(),
        logins,
        sizing.table,
    ];
    Ok(Measured {
        tables,
        cold,
        warm,
        load,
    })
}

/// Draws the charts and writes BENCHMARKS.md beside them; returns its path.
fn write_report(out: &Output, m: &Measured, started: Instant) -> Result<PathBuf, BoxError> {
    let charts = summary::charts(&out.dir, &m.cold, &m.warm, &m.load);
    let header = report::Header::collect(out.command, started.elapsed().as_secs_f64());
    let path = out.dir.join("BENCHMARKS.md");
    report::write_markdown(&path, &header, &m.tables, &charts)?;
    Ok(path)
}

/// Names the tables whose budget was missed; returns whether there was one.
fn budgets_missed(tables: &[Table]) -> bool {
    let over: Vec<&str> = tables
        .iter()
        .filter(|t| t.over)
        .map(|t| t.title.as_str())
        .collect();
    if !over.is_empty() {
        println!("budgets MISSED in: {}", over.join("; "));
    }
    !over.is_empty()
}
