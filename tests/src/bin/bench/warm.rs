//! Warm latency per endpoint through the real function binaries under the runtime emulator,
//! each invocation followed by the raw work it needs, made from this process: the recorded
//! DynamoDB calls replayed through the SDK, plus the argon2 hash or verify for the endpoints
//! that take a password. Alternating the two keeps the machine's load the same for both.

use std::time::{Duration, Instant};

use serde_json::Value;
use userhub::auth::passwords;
use userhub_tests::lambda_emulator::{HttpResponse, LambdaProcess};
use userhub_tests::PASSWORD;

use crate::calls::Recorded;
use crate::endpoints::{endpoint, Endpoint, Op, ENDPOINTS};
use crate::fixture::Fixture;
use crate::report::Table;
use crate::stats::{ms, ratio, verdict, Stats};
use crate::{BoxError, Program, TIMEOUT};

pub const BUDGET: f64 = 1.3;

pub struct Row {
    pub name: String,
    pub stats: Stats,
    pub raw: Stats,
    /// Replayed calls DynamoDB refused (conditional writes that no longer hold).
    pub refused: usize,
    /// Served by the Python peer, not by userhub (no budget).
    pub peer: bool,
}

impl Row {
    pub fn ratio(&self) -> f64 {
        ratio(self.stats.p50, self.raw.p50)
    }
}

pub struct Warm {
    pub rows: Vec<Row>,
    pub table: Table,
}

/// The raw work of one request of `e`: its password hashing, then its recorded calls.
pub async fn raw(
    fx: &Fixture,
    e: &Endpoint,
    recorded: &Recorded,
    hash: &str,
) -> Result<usize, BoxError> {
    match e.op {
        Op::Register => {
            passwords::hash(PASSWORD.into()).await?;
        }
        Op::Login => {
            passwords::verify(PASSWORD.into(), Some(hash.to_owned())).await?;
        }
        _ => {}
    }
    let calls = recorded.get(&e.op).ok_or("operation not recorded")?;
    Ok(fx.replayer.replay(calls).await?)
}

async fn invoke(
    process: &mut LambdaProcess,
    fx: &Fixture,
    e: &Endpoint,
    i: usize,
) -> Result<Duration, BoxError> {
    let event = e.request(fx, i).event(&format!("bench-{i}"));
    let t = Instant::now();
    let out = process.invoke(&event, TIMEOUT).await?;
    let d = t.elapsed();
    let res = HttpResponse::parse(&out)?;
    let body: Value = serde_json::from_str(&res.body).unwrap_or(Value::Null);
    e.observe(fx, res.status, &body)?;
    Ok(d)
}

/// One endpoint against one running program.
async fn sample(
    process: &mut LambdaProcess,
    fx: &Fixture,
    e: &Endpoint,
    recorded: &Recorded,
    hash: &str,
    (warm_up, runs): (usize, usize),
) -> Result<(Stats, Stats, usize), BoxError> {
    let (mut served, mut raws, mut refused) = (vec![], vec![], 0);
    for i in 0..warm_up + runs {
        let d = invoke(process, fx, e, 1000 + i).await?;
        let t = Instant::now();
        let r = raw(fx, e, recorded, hash).await?;
        let raw_d = t.elapsed();
        if i >= warm_up {
            served.push(d);
            raws.push(raw_d);
            refused = refused.max(r);
        }
    }
    Ok((
        Stats::of(&served).ok_or("no samples")?,
        Stats::of(&raws).ok_or("no samples")?,
        refused,
    ))
}

pub async fn measure(
    fx: &Fixture,
    programs: &[Program],
    recorded: &Recorded,
    counts: (usize, usize),
) -> Result<Warm, BoxError> {
    let hash = passwords::hash(PASSWORD.into()).await?;
    let mut rows = vec![];
    for p in programs.iter().filter(|p| p.http) {
        let served: Vec<&Endpoint> = if p.peer {
            vec![endpoint(Op::GetUser)]
        } else {
            ENDPOINTS.iter().filter(|e| e.function == p.name).collect()
        };
        if served.is_empty() {
            continue;
        }
        let args: Vec<&str> = p.args.iter().map(String::as_str).collect();
        let mut process = LambdaProcess::spawn_with_args(&p.path, &args, &p.name, &fx.env).await?;
        process.wait_ready(TIMEOUT).await?;
        for e in served {
            let (stats, raw, refused) = sample(&mut process, fx, e, recorded, &hash, counts)
                .await
                .map_err(|err| format!("{} via {}: {err}", e.name, p.name))?;
            let name = if p.peer {
                format!("{} ({})", e.name, p.name)
            } else {
                e.name.to_owned()
            };
            rows.push(Row {
                name,
                stats,
                raw,
                refused,
                peer: p.peer,
            });
        }
    }
    let table = table(&rows, counts);
    Ok(Warm { rows, table })
}

fn table(rows: &[Row], (warm_up, runs): (usize, usize)) -> Table {
    let mut table = Table::new(
        "Warm latency per endpoint (function binaries under the runtime emulator)",
        format!(
            "{runs} invocations per endpoint after {warm_up} warm-up, each followed by its raw \
             work from the bench process: the DynamoDB calls it made (recorded, replayed \
             through the SDK, overlapping calls together) plus the argon2id verify (login) or \
             hash (register). Budget: median within {BUDGET}x raw. The emulator's own round \
             trip is in the function's time, not in raw."
        ),
        &[
            "endpoint", "p50", "p99", "raw p50", "raw p99", "ratio", "budget",
        ],
    );
    for r in rows {
        let x = r.ratio();
        let budget = if r.peer {
            "(peer: no budget)".to_owned()
        } else if r.refused > 0 {
            // The raw side is not the same work when DynamoDB refuses the replayed writes.
            format!("n/a ({} replayed writes refused)", r.refused)
        } else {
            let over = x > BUDGET;
            table.over |= over;
            verdict(over).to_owned()
        };
        table.row(vec![
            r.name.clone(),
            ms(r.stats.p50),
            ms(r.stats.p99),
            ms(r.raw.p50),
            ms(r.raw.p99),
            format!("{x:.2}x"),
            budget,
        ]);
    }
    table
}
