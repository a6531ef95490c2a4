//! Tables drawn from several steps (the peer comparison, password logins per core) and the
//! charts.

use std::path::Path;

use crate::cold::{ColdStarts, PEER_FACTOR};
use crate::endpoints::{endpoint, Op};
use crate::load::Load;
use crate::report::Table;
use crate::sizing::Sizing;
use crate::stats::{ms, ratio, verdict};
use crate::warm::Warm;

/// The peer must serve GET /users/{id} at least this many times slower (warm, median).
pub const PEER_WARM_FACTOR: f64 = 1.5;
/// Password logins per second per vCPU.
pub const LOGINS_PER_CORE: f64 = 40.0;

/// userhub's users function next to the Python peer: init and warm GET /users/{id}.
pub fn peer(cold: &ColdStarts, warm: &Warm) -> Table {
    let mut table = Table::new(
        "userhub next to a Python 3 + boto3 peer (bench/peers/get_user.py)",
        "The same work (verify the token, one consistent BatchGetItem of session and user, \
         answer JSON) under the same runtime emulator, from the cold-start and warm steps. \
         Goals: init at least 5x faster, warm latency at least 1.5x lower.",
        &["", "userhub-users", "python peer", "peer / userhub", "goal"],
    );
    let find_cold = |name: &str| {
        cold.samples
            .iter()
            .find(|(n, _)| n.contains(name))
            .map(|(_, s)| *s)
    };
    let get_user = endpoint(Op::GetUser).name;
    let find_warm = |peer: bool| {
        warm.rows
            .iter()
            .find(|r| r.name.starts_with(get_user) && r.name.contains("python") == peer)
            .map(|r| r.stats)
    };
    let rows = [
        (
            "init (cold start median)",
            find_cold("userhub-users"),
            find_cold("python"),
            PEER_FACTOR,
        ),
        (
            "warm GET /users/{id} p50",
            find_warm(false),
            find_warm(true),
            PEER_WARM_FACTOR,
        ),
    ];
    for (what, ours, theirs, goal) in rows {
        let (Some(ours), Some(theirs)) = (ours, theirs) else {
            table.note(format!("{what}: not measured (no peer)"));
            continue;
        };
        let factor = ratio(theirs.p50, ours.p50);
        let over = factor < goal;
        table.over |= over;
        table.row(vec![
            what.to_owned(),
            ms(ours.p50),
            ms(theirs.p50),
            format!("{factor:.1}x"),
            format!(">= {goal}x {}", verdict(over)),
        ]);
    }
    table
}

/// Password logins per second per core: what the auth function's own CPU time per login
/// allows (the budget), the rate through the API on this shared machine, and what one
/// core's argon2 verify allows.
pub fn logins(warm: &Warm, load: &Load, sizing: &Sizing) -> Table {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mut table = Table::new(
        "Password logins per second per core",
        format!(
            "The budget holds the first row: the CPU time (user + system, from /proc) the \
             `userhub-auth` process spent per login in the warm step, as a rate per vCPU; in \
             AWS DynamoDB's work is not on the function's vCPU, and here it is DynamoDB \
             Local's. For reference: POST /auth/login through the local API (the load step's \
             best concurrency) divided by this machine's {cores} CPUs, which DynamoDB Local \
             and the generator share, and one full core's argon2id hash rate from the sizing \
             step. Budget: >= {LOGINS_PER_CORE} per vCPU (Keycloak's sizing guide plans 15)."
        ),
        &["measure", "logins/s", "per core", "budget"],
    );
    let login = endpoint(Op::Login).name;
    let own = warm
        .rows
        .iter()
        .find(|r| r.name == login && !r.peer)
        .and_then(|r| r.cpu_per_request);
    match own {
        Some(cpu) => {
            let per_core = 1.0 / cpu.as_secs_f64().max(1e-9);
            let over = per_core < LOGINS_PER_CORE;
            table.over |= over;
            table.row(vec![
                format!("userhub-auth's own CPU, {} per login", ms(cpu)),
                format!("{per_core:.0}"),
                format!("{per_core:.0}"),
                verdict(over).to_owned(),
            ]);
        }
        None => {
            table.over = true;
            table.note("the auth function's CPU time was not measured (no /proc)");
        }
    }
    let best = load
        .cells
        .iter()
        .filter(|c| c.op == Op::Login && !c.raw)
        .max_by(|a, b| a.per_sec.total_cmp(&b.per_sec));
    if let Some(c) = best {
        table.row(vec![
            format!("through the API, concurrency {}", c.concurrency),
            format!("{:.0}", c.per_sec),
            format!("{:.0}", c.per_sec / cores),
            "(shared machine)".into(),
        ]);
    }
    if let Some((_, s)) = sizing.per_size.iter().find(|(mb, _)| *mb >= 1769) {
        let rate = 1.0 / s.p50.as_secs_f64();
        table.row(vec![
            "argon2id alone, one core".into(),
            format!("{rate:.0}"),
            format!("{rate:.0}"),
            "(reference)".into(),
        ]);
    }
    table
}

/// Draws the three charts into `dir`; returns (title, file name) of each one drawn.
pub fn charts(dir: &Path, cold: &ColdStarts, warm: &Warm, load: &Load) -> Vec<(String, String)> {
    if let Err(e) = std::fs::create_dir_all(dir)
        .map_err(Into::into)
        .and_then(|()| crate::charts::register_font())
    {
        eprintln!("bench: no charts: {e}");
        return vec![];
    }
    let bars: Vec<(String, f64)> = cold
        .samples
        .iter()
        .map(|(n, s)| (n.clone(), s.p50.as_secs_f64() * 1e3))
        .collect();
    let drawn = [
        (
            "Cold start per program",
            "bench-cold-start.svg",
            crate::charts::cold_starts(&dir.join("bench-cold-start.svg"), &bars),
        ),
        (
            "Warm overhead per endpoint",
            "bench-overhead.svg",
            crate::charts::overhead(&dir.join("bench-overhead.svg"), &warm.rows),
        ),
        (
            "Throughput and p99 against concurrency",
            "bench-load.svg",
            crate::charts::load(&dir.join("bench-load.svg"), &load.cells),
        ),
    ];
    drawn
        .into_iter()
        .filter_map(|(title, file, r)| match r {
            Ok(()) => Some((title.to_owned(), file.to_owned())),
            Err(e) => {
                eprintln!("bench: chart {file}: {e}");
                None
            }
        })
        .collect()
}
