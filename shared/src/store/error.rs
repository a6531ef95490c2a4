//! What a store call reports when it fails: which call (the DynamoDB operation and the kind
//! of item it was about) and why, with the SDK error kept as the source so that a log line
//! (`telemetry::error_chain`) carries the service's own message. Also the one judgement of
//! which SDK errors mean "unavailable, try again" (a 503 with `Retry-After`) rather than a
//! bug (a 500), which the S3 calls of the exports share.

use std::fmt;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// An error kept as the cause of a store error.
type Source = Box<dyn std::error::Error + Send + Sync>;

/// A store call: the DynamoDB operation and the kind of item it reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub operation: &'static str,
    pub item: &'static str,
}

impl Call {
    pub const fn new(operation: &'static str, item: &'static str) -> Self {
        Self { operation, item }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {}", self.operation, self.item)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A stored item does not have the shape this code writes: a bug or a foreign writer.
    #[error("corrupt item: {0}")]
    Corrupt(String),
    /// The table is slow, unreachable or throttling (see `is_unavailable`): worth trying
    /// again later, not a bug.
    #[error("{call}: dynamodb unavailable")]
    Unavailable {
        call: Call,
        #[source]
        source: Source,
    },
    /// Anything else: a request DynamoDB refused, or an answer this code did not expect.
    #[error("{call} failed")]
    Failed {
        call: Call,
        #[source]
        source: Source,
    },
}

impl StoreError {
    /// The error of `call` for an SDK failure, judged unavailable or not.
    pub(crate) fn sdk<E>(call: Call) -> impl FnOnce(SdkError<E>) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    {
        move |err| {
            if is_unavailable(&err) {
                StoreError::Unavailable {
                    call,
                    source: err.into(),
                }
            } else {
                StoreError::Failed {
                    call,
                    source: err.into(),
                }
            }
        }
    }

    /// `call` failed in a way that is neither the table's fault nor a refusal by it.
    pub(crate) fn failed(call: Call, source: impl Into<Source>) -> Self {
        StoreError::Failed {
            call,
            source: source.into(),
        }
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// Whether a conditional write was refused because its condition did not hold: an answer
/// the caller expects, not a failure.
pub(super) fn is_condition_failed<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

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

    #[test]
    fn an_error_names_its_call_and_keeps_the_cause() {
        let err = StoreError::sdk(Call::new("GetItem", "session"))(service_error("Throttling"));
        assert!(err.is_unavailable());
        assert_eq!(err.to_string(), "GetItem of session: dynamodb unavailable");
        assert!(std::error::Error::source(&err).is_some());
    }
}
