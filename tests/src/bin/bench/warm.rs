//! Warm latency per endpoint through the real function binaries under the runtime emulator,
//! each invocation followed by the raw work it needs, made from this process: the recorded
//! DynamoDB calls replayed through the SDK, plus the argon2 hash or verify for the endpoints
//! that take a password. Alternating the two keeps the machine's load the same for both.

use std::time::{Duration, Instant};

use serde_json::Value;
use userhub::auth::passwords;
use userhub::domain::Email;
use userhub::mail::templates;
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
    /// The emulator's own median round trip, measured with the bare baseline function.
    pub floor: Duration,
    /// CPU time the serving process spent per measured invocation (its own, not DynamoDB
    /// Local's or the bench's), when /proc tells.
    pub cpu_per_request: Option<Duration>,
}

impl Row {
    /// The function's own time over its raw work: the median less the emulator's round
    /// trip, which in AWS is the Lambda service's and not in the function's duration.
    pub fn ratio(&self) -> f64 {
        ratio(self.stats.p50.saturating_sub(self.floor), self.raw.p50)
    }

    /// The median as measured, emulator included, over the raw work.
    pub fn measured_ratio(&self) -> f64 {
        ratio(self.stats.p50, self.raw.p50)
    }
}

pub struct Warm {
    pub rows: Vec<Row>,
    pub table: Table,
}

/// The emulator's round trip: the bare baseline function answering the same events, so
/// that only the transport and the runtime's own loop are in it.
async fn emulator_floor(
    fx: &Fixture,
    baseline: &Program,
    (warm_up, runs): (usize, usize),
) -> Result<Stats, BoxError> {
    let mut process =
        LambdaProcess::spawn_with_args(&baseline.path, &[], &baseline.name, &fx.env).await?;
    process.wait_ready(TIMEOUT).await?;
    let e = endpoint(Op::GetUser);
    let mut samples = vec![];
    for i in 0..warm_up + runs {
        let event = e.request(fx, i).event(&format!("floor-{i}"));
        let t = Instant::now();
        process.invoke(&event, TIMEOUT).await?;
        if i >= warm_up {
            samples.push(t.elapsed());
        }
    }
    Ok(Stats::of(&samples).ok_or("no samples")?)
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
            verification_mail(fx).await?;
        }
        Op::Login => {
            passwords::verify(PASSWORD.into(), Some(hash.to_owned())).await?;
        }
        _ => {}
    }
    let calls = recorded.get(&e.op).ok_or("operation not recorded")?;
    Ok(fx.replayer.replay(calls).await?)
}

/// The mail a registration sends: the same template and size, through the same SES client.
async fn verification_mail(fx: &Fixture) -> Result<(), BoxError> {
    let to = Email::parse("raw-register@example.com").map_err(|e| format!("{e:?}"))?;
    let link = format!("http://127.0.0.1/verify-email?token={}", "x".repeat(43));
    let message = templates::verification(&link, Duration::from_secs(86_400));
    fx.app.state.mailer.send(&to, &message).await;
    Ok(())
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

/// User plus system CPU time a process has used so far, from /proc (Linux).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_sec > 0).then(|| Duration::from_secs_f64(ticks as f64 / per_sec as f64))
}

/// What one endpoint measured against one running program.
struct Sampled {
    served: Stats,
    raw: Stats,
    refused: usize,
    cpu_per_request: Option<Duration>,
}

/// One endpoint against one running program.
async fn sample(
    process: &mut LambdaProcess,
    fx: &Fixture,
    e: &Endpoint,
    recorded: &Recorded,
    hash: &str,
    (warm_up, runs): (usize, usize),
) -> Result<Sampled, BoxError> {
    let (mut served, mut raws, mut refused) = (vec![], vec![], 0);
    let mut cpu_from = None;
    for i in 0..warm_up + runs {
        if i == warm_up {
            cpu_from = cpu_time(process.pid());
        }
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
    let cpu = cpu_from
        .zip(cpu_time(process.pid()))
        .map(|(a, b)| b.saturating_sub(a));
    Ok(Sampled {
        served: Stats::of(&served).ok_or("no samples")?,
        raw: Stats::of(&raws).ok_or("no samples")?,
        refused,
        cpu_per_request: cpu.map(|c| c / runs.max(1) as u32),
    })
}

pub async fn measure(
    fx: &Fixture,
    programs: &[Program],
    recorded: &Recorded,
    counts: (usize, usize),
) -> Result<Warm, BoxError> {
    let hash = passwords::hash(PASSWORD.into()).await?;
    let baseline = programs
        .iter()
        .find(|p| p.name == crate::BASELINE)
        .ok_or("no baseline program")?;
    let floor = emulator_floor(fx, baseline, counts).await?;
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
            let sampled = sample(&mut process, fx, e, recorded, &hash, counts)
                .await
                .map_err(|err| format!("{} via {}: {err}", e.name, p.name))?;
            let name = if p.peer {
                format!("{} ({})", e.name, p.name)
            } else {
                e.name.to_owned()
            };
            rows.push(Row {
                name,
                stats: sampled.served,
                raw: sampled.raw,
                refused: sampled.refused,
                peer: p.peer,
                floor: floor.p50,
                cpu_per_request: sampled.cpu_per_request,
            });
        }
    }
    let table = table(&rows, &floor, counts);
    Ok(Warm { rows, table })
}

fn table(rows: &[Row], floor: &Stats, (warm_up, runs): (usize, usize)) -> Table {
    let mut table = Table::new(
        "Warm latency per endpoint (function binaries under the runtime emulator)",
        format!(
            "{runs} invocations per endpoint after {warm_up} warm-up, each followed by its raw \
             work from the bench process: the DynamoDB calls it made (recorded, replayed \
             through the SDK, overlapping calls together) plus the argon2id verify (login) or \
             hash (register), or the verification mail (register, through the same SES). \
             A replayed conditional write whose condition no longer holds (a session that \
             exists now, a version that moved on) is refused after the same reads and checks \
             but writes nothing, so its raw side is a little short of the work; each \
             transaction is replayed with a fresh idempotency token, as the SDK would send it. \
             `measured` is the median over raw's; `own` first takes off the emulator's round \
             trip (the bare `{}` answering the same events: p50 {}, p99 {}), which in AWS is the \
             Lambda service's and outside the function's duration. Budget: `own` within \
             {BUDGET}x.",
            crate::BASELINE,
            ms(floor.p50),
            ms(floor.p99),
        ),
        &[
            "endpoint", "p50", "p99", "raw p50", "raw p99", "measured", "own", "budget",
        ],
    );
    for r in rows {
        let x = r.ratio();
        let budget = if r.peer {
            "(peer: no budget)".to_owned()
        } else {
            let over = x > BUDGET;
            table.over |= over;
            match r.refused {
                0 => verdict(over).to_owned(),
                // DynamoDB still read and checked the same items, but wrote nothing.
                n => format!("{} ({n} replayed write refused)", verdict(over)),
            }
        };
        table.row(vec![
            r.name.clone(),
            ms(r.stats.p50),
            ms(r.stats.p99),
            ms(r.raw.p50),
            ms(r.raw.p99),
            format!("{:.2}x", r.measured_ratio()),
            format!("{x:.2}x"),
            budget,
        ]);
    }
    table
}
