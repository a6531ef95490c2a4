//! DynamoDB round trips per operation, counted by the [`Recorder`](crate::recorder::Recorder)
//! on the in-process API's client, against each operation's budget.

use std::collections::HashMap;

use crate::endpoints::{endpoint, Endpoint, Op, ENDPOINTS};
use crate::fixture::Fixture;
use crate::recorder::Call;
use crate::report::Table;
use crate::BoxError;

/// Each operation's recorded calls, which the warm and load steps replay as its raw work.
pub type Recorded = HashMap<Op, Vec<Call>>;

/// Sends the `i`th request of `e` and returns the calls it made.
async fn record(fx: &Fixture, e: &Endpoint, i: usize) -> Result<Vec<Call>, BoxError> {
    fx.recorder.take();
    let req = e.request(fx, i);
    let (status, body) = req.send_in_process(fx).await;
    e.observe(fx, status, &body)?;
    Ok(fx.recorder.take())
}

fn summary(calls: &[Call]) -> String {
    let mut out: Vec<String> = Vec::new();
    for c in calls {
        let name = if c.concurrent {
            format!("‖{}", c.op)
        } else {
            c.op.clone()
        };
        out.push(name);
    }
    out.join(", ")
}

pub async fn measure(fx: &Fixture) -> Result<(Table, Recorded), BoxError> {
    let mut table = Table::new(
        "DynamoDB round trips per operation",
        "Every attempt the SDK sends, counted by an interceptor on the in-process API's \
         DynamoDB client (deterministic: no clocks). Each operation runs once to warm up, \
         then twice recorded; the two must agree. `‖` marks a call made concurrently with \
         the one before it. `round trips` counts the waits a request makes one after another \
         (concurrent calls share one); the budget holds them.",
        &["operation", "calls", "round trips", "budget", "", "sent"],
    );
    let mut recorded = Recorded::new();
    for e in &ENDPOINTS {
        record(fx, e, 0).await?;
        let first = record(fx, e, 1).await?;
        let second = record(fx, e, 2).await?;
        if first.len() != second.len() {
            table.note(format!(
                "{}: {} then {} round trips in two runs",
                e.name,
                first.len(),
                second.len()
            ));
        }
        push_row(&mut table, e.name, e.budget, &second);
        recorded.insert(e.op, second);
    }
    // Logging in at the session cap also evicts the oldest session.
    let login = endpoint(Op::Login);
    let cap = fx.app.state.config.max_sessions_per_user;
    for i in 0..cap {
        record(fx, login, i).await?;
    }
    let at_cap = record(fx, login, cap).await?;
    push_row(
        &mut table,
        &format!("{} (at the {cap}-session cap)", login.name),
        login.budget,
        &at_cap,
    );
    table.note(
        "Budgets: GET /users/{id} one round trip with its session check and login one argon2 \
         verify plus at most four; the others are what each flow needs as designed \
         (registration: the rate limit, the user's creation, then the verification link \
         that the mail carries).",
    );
    Ok((table, recorded))
}

/// A latency budget: what a request waits for is its sequential round trips, whatever
/// runs alongside them.
fn push_row(table: &mut Table, name: &str, budget: usize, calls: &[Call]) {
    let round_trips = crate::recorder::groups(calls).len();
    let over = round_trips > budget;
    table.over |= over;
    table.row(vec![
        name.to_owned(),
        calls.len().to_string(),
        round_trips.to_string(),
        budget.to_string(),
        crate::stats::verdict(over).to_owned(),
        summary(calls),
    ]);
}
