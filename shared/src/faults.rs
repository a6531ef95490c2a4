//! How userhub meets a slow or failing dependency (DynamoDB, S3): the SDK's timeouts and
//! retries for each kind of caller. Which SDK errors mean "unavailable, try again" (a 503
//! with `Retry-After`) is `store::is_unavailable`.
//!
//! This is the one place these numbers live. An interactive request must answer within
//! 5 s even when a dependency hangs, so its whole SDK call (every attempt and backoff) is
//! capped well below that; the jobs worker has minutes and may wait longer.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Who is waiting for an SDK call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// An HTTP request: someone is waiting, and a 503 soon beats an answer late.
    Interactive,
    /// The jobs worker (900 s per invocation): a slow dependency is worth waiting out.
    Worker,
}

/// The time an SDK call may take, per caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub connect: Duration,
    /// One HTTP attempt.
    pub attempt: Duration,
    /// The whole call: every attempt and every backoff pause.
    pub operation: Duration,
    pub max_attempts: u32,
    /// The longest pause between attempts.
    pub max_backoff: Duration,
}

impl Caller {
    pub const fn budget(self) -> Budget {
        match self {
            // A handler's first call to a hung dependency fails after `operation`, so the
            // request answers 503 within about 3.5 s: inside the 5 s promise, with room
            // for the work around it. An attempt of 2.5 s is still generous for a healthy
            // DynamoDB (milliseconds), also when a busy laptop runs DynamoDB Local.
            Caller::Interactive => Budget {
                connect: Duration::from_secs(1),
                attempt: Duration::from_millis(2500),
                operation: Duration::from_millis(3500),
                max_attempts: 3,
                max_backoff: Duration::from_millis(500),
            },
            Caller::Worker => Budget {
                connect: Duration::from_secs(3),
                attempt: Duration::from_secs(20),
                operation: Duration::from_secs(60),
                max_attempts: 5,
                max_backoff: Duration::from_secs(5),
            },
        }
    }

    pub fn timeouts(self) -> TimeoutConfig {
        let b = self.budget();
        TimeoutConfig::builder()
            .connect_timeout(b.connect)
            .operation_attempt_timeout(b.attempt)
            .operation_timeout(b.operation)
            .build()
    }

    /// The SDK's standard retries (throttling and transient errors, with jittered
    /// exponential backoff), bounded by the caller's budget.
    pub fn retries(self) -> RetryConfig {
        let b = self.budget();
        RetryConfig::standard()
            .with_max_attempts(b.max_attempts)
            .with_initial_backoff(Duration::from_millis(50))
            .with_max_backoff(b.max_backoff)
    }
}

/// What a 503 tells the client to wait before trying again, in seconds.
pub const RETRY_AFTER_SECS: u64 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactive_calls_fail_well_within_five_seconds() {
        let b = Caller::Interactive.budget();
        assert!(b.attempt <= b.operation);
        assert!(b.operation + Duration::from_secs(1) <= Duration::from_secs(5));
        assert!(Caller::Worker.budget().operation > b.operation);
    }
}
