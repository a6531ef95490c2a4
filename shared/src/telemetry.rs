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

/// An error and its sources on one line, for logs: the AWS SDK's `Display` is terse and the
/// source chain carries the service's message.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
