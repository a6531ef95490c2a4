//! Load: a closed-loop generator (each of `c` workers sends its next request when the last
//! one is answered), bounded in count and time, on loopback only, against the local API
//! served over HTTP from this process; next to the same loop over the raw work (the
//! recorded DynamoDB calls, replayed, plus the argon2 verify of a login) against the same
//! DynamoDB Local.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use userhub::auth::passwords;
use userhub_tests::PASSWORD;

use crate::calls::Recorded;
use crate::endpoints::{endpoint, Endpoint, Op};
use crate::fixture::Fixture;
use crate::report::Table;
use crate::stats::{ms, Stats};
use crate::BoxError;

pub const CONCURRENCY: [usize; 3] = [1, 8, 32];
pub const OPS: [Op; 3] = [Op::GetUser, Op::Login, Op::ListPage];

pub struct Cell {
    pub op: Op,
    pub raw: bool,
    pub concurrency: usize,
    pub per_sec: f64,
    pub stats: Stats,
    pub errors: usize,
}

pub struct Load {
    pub cells: Vec<Cell>,
    pub table: Table,
}

/// Runs `one` in a closed loop at `concurrency` until `max` requests or `limit` elapsed.
async fn closed_loop<F>(
    concurrency: usize,
    max: usize,
    limit: Duration,
    one: F,
) -> (f64, Vec<Duration>, usize)
where
    F: Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
{
    let one = Arc::new(one);
    let issued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (one, issued) = (one.clone(), issued.clone());
            tokio::spawn(async move {
                let (mut samples, mut errors) = (vec![], 0);
                while started.elapsed() < limit && issued.fetch_add(1, Ordering::Relaxed) < max {
                    let t = Instant::now();
                    match one().await {
                        Ok(()) => samples.push(t.elapsed()),
                        Err(_) => errors += 1,
                    }
                }
                (samples, errors)
            })
        })
        .collect();
    let (mut samples, mut errors) = (vec![], 0);
    for w in workers {
        let (s, e) = w.await.expect("worker panicked");
        samples.extend(s);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    (samples.len() as f64 / elapsed, samples, errors)
}

/// The local API on a loopback port, served as `make dev` serves it.
async fn serve(fx: &Fixture) -> Result<String, BoxError> {
    let sdk = userhub::app::load_sdk_config().await;
    // A state of its own: no round-trip recorder on the hot path.
    let state = userhub::Ctx::new(fx.app.state.config.clone(), &sdk);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let app = userhub_local_api::app(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

fn api_request(
    client: &reqwest::Client,
    base: &str,
    fx: &Fixture,
    e: &'static Endpoint,
) -> impl Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static {
    let req = e.request(fx, 0);
    let mut builder = client.request(req.method.clone(), format!("{base}{}", req.uri()));
    if let Some(t) = &req.bearer {
        builder = builder.bearer_auth(t);
    }
    if let Some(body) = &req.body {
        builder = builder
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let builder = Arc::new(builder);
    move || {
        let b = builder.try_clone().expect("a body of bytes clones");
        Box::pin(async move {
            let res = b.send().await.map_err(|e| e.to_string())?;
            let status = res.status();
            res.bytes().await.map_err(|e| e.to_string())?;
            if status.as_u16() == e.status {
                Ok(())
            } else {
                Err(format!("{}: {status}", e.name))
            }
        })
    }
}

fn raw_request(
    fx: &Fixture,
    e: &'static Endpoint,
    recorded: &Recorded,
    hash: &str,
) -> Result<impl Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static, BoxError> {
    let calls = Arc::new(recorded.get(&e.op).ok_or("operation not recorded")?.clone());
    let replayer = fx.replayer.clone();
    let hash = hash.to_owned();
    Ok(move || {
        let (calls, replayer, hash) = (calls.clone(), replayer.clone(), hash.clone());
        Box::pin(async move {
            if e.op == Op::Login {
                passwords::verify(PASSWORD.into(), Some(hash))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            replayer.replay(&calls).await.map(drop)
        }) as BoxFuture<'static, Result<(), String>>
    })
}

pub async fn measure(
    fx: &Fixture,
    recorded: &Recorded,
    limit: Duration,
    max: usize,
) -> Result<Load, BoxError> {
    let base = serve(fx).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let hash = passwords::hash(PASSWORD.into()).await?;
    let mut cells = vec![];
    for op in OPS {
        let e = endpoint(op);
        for c in CONCURRENCY {
            let (per_sec, samples, errors) =
                closed_loop(c, max, limit, api_request(&client, &base, fx, e)).await;
            push(&mut cells, op, false, c, per_sec, &samples, errors)?;
            let (per_sec, samples, errors) =
                closed_loop(c, max, limit, raw_request(fx, e, recorded, &hash)?).await;
            push(&mut cells, op, true, c, per_sec, &samples, errors)?;
        }
    }
    let table = table(&cells, limit, max);
    Ok(Load { cells, table })
}

fn push(
    cells: &mut Vec<Cell>,
    op: Op,
    raw: bool,
    concurrency: usize,
    per_sec: f64,
    samples: &[Duration],
    errors: usize,
) -> Result<(), BoxError> {
    let stats = Stats::of(samples).ok_or_else(|| {
        format!(
            "{}: no successful request ({errors} errors)",
            endpoint(op).name
        )
    })?;
    cells.push(Cell {
        op,
        raw,
        concurrency,
        per_sec,
        stats,
        errors,
    });
    Ok(())
}

fn table(cells: &[Cell], limit: Duration, max: usize) -> Table {
    let mut table = Table::new(
        "Load: throughput and p99 against concurrency (local API over loopback HTTP)",
        format!(
            "Closed loop, each cell at most {max} requests or {:.0} s. `raw` runs the same loop \
             over the endpoint's raw work (its recorded DynamoDB calls, plus an argon2id verify \
             for login) against the same DynamoDB Local. The API, the generator and DynamoDB \
             Local share this machine's CPUs.",
            limit.as_secs_f64()
        ),
        &[
            "operation",
            "concurrency",
            "req/s",
            "raw req/s",
            "share of raw",
            "p50",
            "p99",
            "raw p99",
            "errors",
        ],
    );
    for api in cells.iter().filter(|c| !c.raw) {
        let raw = cells
            .iter()
            .find(|c| c.raw && c.op == api.op && c.concurrency == api.concurrency)
            .expect("every api cell has a raw one");
        table.row(vec![
            endpoint(api.op).name.to_owned(),
            api.concurrency.to_string(),
            format!("{:.0}", api.per_sec),
            format!("{:.0}", raw.per_sec),
            format!("{:.2}", api.per_sec / raw.per_sec.max(1e-9)),
            ms(api.stats.p50),
            ms(api.stats.p99),
            ms(raw.stats.p99),
            format!("{} / {}", api.errors, raw.errors),
        ]);
    }
    table
}
