//! JSON logs to stdout, one object per line, carrying the fields of every open span: the
//! request's (its request id) as well as those of instrumented functions inside it.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // try_init: tests and the local API may call this more than once per process.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        // The whole list: an instrumented function's span would otherwise hide the
        // request span, and with it the request id.
        .with_span_list(true)
        .flatten_event(true)
        .with_target(false)
        .try_init();
}
