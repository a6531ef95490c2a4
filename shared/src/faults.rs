//! How userhub meets a slow or failing dependency (DynamoDB, S3): the SDK's timeouts and
//! retries for each kind of caller, and which SDK errors mean "unavailable, try again"
//! (a 503 with `Retry-After`) rather than a bug (a 500).
//!
//! This is the one place these numbers live. An interactive request must answer within
//! 5 s even when a dependency hangs, so its whole SDK call (every attempt and backoff) is
//! capped well below that; the jobs worker has minutes and may wait longer.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

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

/// Error codes of DynamoDB and S3 that say "not now" rather than "never": throttling,
/// capacity and the services' own transient failures.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
];

/// Whether an SDK call failed because the dependency is slow, unreachable, overloaded or
/// failing: a timeout, a connection that could not be made or broke, or a transient service
/// error left after the SDK's retries. A request it fails is a 503, never a 500.
pub fn is_unavailable<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(_) => err.code().is_some_and(|c| TRANSIENT_CODES.contains(&c)),
        // A request that could not even be built is a bug.
        _ => false,
    }
}

/// The SDK's error with its whole source chain: its `Display` alone is terse ("dispatch
/// failure"), and the chain carries the service's message. For logs only.
pub fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::{ConstructionFailure, ServiceError};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn service_error(code: &str) -> SdkError<GetItemError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).build();
        let raw = HttpResponse::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
        SdkError::ServiceError(
            ServiceError::builder()
                .source(GetItemError::generic(meta))
                .raw(raw)
                .build(),
        )
    }

    #[test]
    fn interactive_calls_fail_well_within_five_seconds() {
        let b = Caller::Interactive.budget();
        assert!(b.attempt <= b.operation);
        assert!(b.operation + Duration::from_secs(1) <= Duration::from_secs(5));
        assert!(Caller::Worker.budget().operation > b.operation);
    }

    #[test]
    fn throttling_and_timeouts_are_unavailable_but_bugs_are_not() {
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
        ] {
            assert!(is_unavailable(&service_error(code)), "{code}");
        }
        assert!(!is_unavailable(&service_error("ValidationException")));
        assert!(!is_unavailable(&service_error(
            "ConditionalCheckFailedException"
        )));
        let timeout: SdkError<GetItemError, HttpResponse> = SdkError::timeout_error("slow");
        assert!(is_unavailable(&timeout));
        let bug: SdkError<GetItemError, HttpResponse> =
            SdkError::ConstructionFailure(ConstructionFailure::builder().source("bad").build());
        assert!(!is_unavailable(&bug));
    }
}
