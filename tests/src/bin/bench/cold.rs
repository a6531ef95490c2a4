//! Cold starts: exec to the first `GET /runtime/invocation/next` (on Lambda, init is over
//! once the runtime polls), interleaved runs of every binary, the bare `lambda_runtime`
//! hello world and the Python peer; then each one's size and its memory after its first
//! invocation.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use userhub_tests::lambda_emulator::{apigw_v2_get, LambdaProcess};

use crate::peer::Peer;
use crate::report::Table;
use crate::stats::{mib, ms, ratio, verdict, Stats};
use crate::{BoxError, Program, TIMEOUT};

pub const BUDGET: f64 = 1.5;
/// The Python peer should take at least this many times longer to start than a function.
pub const PEER_FACTOR: f64 = 5.0;

pub struct ColdStarts {
    /// Per program (baseline first): its samples.
    pub samples: Vec<(String, Stats)>,
    pub table: Table,
}

/// The event a program gets for its first invocation: `/health` for an HTTP function.
fn first_event(p: &Program) -> Value {
    if p.http {
        apigw_v2_get("/health", "bench-first")
    } else {
        json!({"bench": "first invocation"})
    }
}

/// Resident and peak memory of a process, from /proc (Linux).
fn memory(pid: u32) -> (Option<u64>, Option<u64>) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn spawn(p: &Program, env: &[(String, String)]) -> Result<LambdaProcess, BoxError> {
    let args: Vec<&str> = p.args.iter().map(String::as_str).collect();
    Ok(LambdaProcess::spawn_with_args(&p.path, &args, &p.name, env).await?)
}

pub async fn measure(
    programs: &[Program],
    env: &[(String, String)],
    runs: usize,
    time_limit: Duration,
) -> Result<ColdStarts, BoxError> {
    let started = Instant::now();
    let mut samples: Vec<Vec<Duration>> = vec![vec![]; programs.len()];
    let mut memory_after_first: Vec<(Option<u64>, Option<u64>)> =
        vec![(None, None); programs.len()];
    'runs: for run in 0..runs {
        for (i, p) in programs.iter().enumerate() {
            if started.elapsed() > time_limit && run > 0 {
                eprintln!("bench: cold starts cut short by the time limit after {run} runs");
                break 'runs;
            }
            let mut process = spawn(p, env).await?;
            let d = process
                .wait_ready(TIMEOUT)
                .await
                .map_err(|e| format!("{}: {e}", p.name))?;
            samples[i].push(d);
            if run == 0 {
                // Any answer will do (the jobs worker refuses an unknown event): the
                // process has served one invocation.
                process.invoke(&first_event(p), TIMEOUT).await?;
                memory_after_first[i] = memory(process.pid());
            }
        }
    }
    let stats: Vec<(String, Stats)> = programs
        .iter()
        .zip(&samples)
        .map(|(p, s)| Ok((p.name.clone(), Stats::of(s).ok_or("no samples")?)))
        .collect::<Result<_, BoxError>>()?;
    let base = stats[0].1.p50;
    let mut table = Table::new(
        "Cold start",
        format!(
            "Exec to the first `/invocation/next` under the runtime emulator, median of {} \
             interleaved starts each; memory read from /proc after the first invocation \
             (`/health` for the HTTP functions). Budget: within {BUDGET}x `{}`; the Python \
             peer at least {PEER_FACTOR}x slower than every function.",
            stats[0].1.n, programs[0].name
        ),
        &[
            "program",
            "size",
            "median",
            "min",
            "max",
            "ratio",
            "budget",
            "RSS after 1st",
            "peak RSS",
        ],
    );
    let slowest_function = programs
        .iter()
        .zip(&stats)
        .filter(|(p, _)| p.function)
        .map(|(_, (_, s))| s.p50)
        .max()
        .unwrap_or_default();
    for ((p, (name, s)), (rss, hwm)) in programs.iter().zip(&stats).zip(&memory_after_first) {
        let r = ratio(s.p50, base);
        let budget = if p.function {
            let over = r > BUDGET;
            table.over |= over;
            verdict(over).to_owned()
        } else if p.peer {
            let factor = ratio(s.p50, slowest_function);
            let over = factor < PEER_FACTOR;
            table.over |= over;
            format!("{} ({factor:.1}x slowest fn)", verdict(over))
        } else {
            "(baseline)".to_owned()
        };
        table.row(vec![
            name.clone(),
            size(p),
            ms(s.p50),
            ms(s.min),
            ms(s.max),
            format!("{r:.2}x"),
            budget,
            rss.map_or_else(|| "?".into(), mib),
            hwm.map_or_else(|| "?".into(), mib),
        ]);
    }
    Ok(ColdStarts {
        samples: stats,
        table,
    })
}

fn size(p: &Program) -> String {
    if p.peer {
        return "(script)".into();
    }
    std::fs::metadata(&p.path).map_or_else(|_| "?".into(), |m| mib(m.len()))
}

impl Peer {
    /// The peer as a program the cold-start step runs.
    pub fn program(&self) -> Program {
        Program {
            name: "python-boto3-peer".into(),
            path: self.python.clone(),
            args: vec![self.script.display().to_string()],
            http: true,
            function: false,
            peer: true,
        }
    }
}
