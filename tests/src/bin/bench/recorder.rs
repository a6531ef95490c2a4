//! DynamoDB round trips, counted and replayed.
//!
//! [`Recorder`] is an SDK interceptor on the bench's in-process DynamoDB client: every
//! attempt (so a retry counts too) is one round trip, recorded with its operation name,
//! its serialized request and whether another call of the same request was in flight
//! (a handler that joins two calls pays for one). Deterministic: it counts what the code
//! sends, not what a clock sees.
//!
//! [`Replayer`] sends recorded calls again through the SDK, exactly as recorded (the same
//! operation, with the recorded request body swapped in before signing), with calls that
//! overlapped replayed concurrently: the raw DynamoDB work an endpoint needs, without the
//! endpoint.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use bytes::Bytes;

/// One DynamoDB round trip.
#[derive(Debug, Clone)]
pub struct Call {
    pub op: String,
    pub body: Bytes,
    /// Started while an earlier call was still in flight.
    pub concurrent: bool,
}

#[derive(Debug, Default)]
struct Log {
    calls: Vec<Call>,
    in_flight: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Log>>);

impl Recorder {
    /// The calls recorded since the last `take`.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut self.0.lock().expect("not poisoned").calls)
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "bench round-trip recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map_or_else(|| "?".to_owned(), |m| m.name().to_owned());
        let body = context
            .request()
            .body()
            .bytes()
            .map(Bytes::copy_from_slice)
            .unwrap_or_default();
        let mut log = self.0.lock().expect("not poisoned");
        let concurrent = log.in_flight > 0;
        log.in_flight += 1;
        log.calls.push(Call {
            op,
            body,
            concurrent,
        });
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut log = self.0.lock().expect("not poisoned");
        log.in_flight = log.in_flight.saturating_sub(1);
        Ok(())
    }
}

/// Puts a recorded request body in place of the placeholder request's.
#[derive(Debug)]
struct SwapBody(Bytes);

impl Intercept for SwapBody {
    fn name(&self) -> &'static str {
        "bench replay"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        *request.body_mut() = SdkBody::from(self.0.clone());
        request
            .headers_mut()
            .insert("content-length", self.0.len().to_string());
        Ok(())
    }
}

/// The body with a new `ClientRequestToken` (TransactWriteItems' idempotency token), if it
/// has one. Sent again with the recorded token, DynamoDB (and DynamoDB Local) would answer
/// from its idempotency cache without evaluating the transaction, which is not the work.
fn fresh_request_token(body: &Bytes) -> Bytes {
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return body.clone();
    };
    match json.get_mut("ClientRequestToken") {
        Some(token) => {
            *token = serde_json::Value::String(uuid::Uuid::new_v4().to_string());
            Bytes::from(json.to_string())
        }
        None => body.clone(),
    }
}

/// Sends recorded calls again with a plain client (no recorder).
#[derive(Clone)]
pub struct Replayer {
    client: Client,
    table: String,
}

/// Splits calls into groups that ran together.
pub fn groups(calls: &[Call]) -> Vec<&[Call]> {
    let mut out: Vec<&[Call]> = Vec::new();
    let mut start = 0;
    for i in 1..=calls.len() {
        if i == calls.len() || !calls[i].concurrent {
            if i > start {
                out.push(&calls[start..i]);
            }
            start = i;
        }
    }
    out
}

impl Replayer {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Replays `calls`, overlapping ones together. Returns how many DynamoDB answered with
    /// an error (a replayed conditional write whose condition no longer holds: still one
    /// round trip of the same request). Transport errors fail.
    pub async fn replay(&self, calls: &[Call]) -> Result<usize, String> {
        let mut refused = 0;
        for group in groups(calls) {
            let results = futures::future::join_all(group.iter().map(|c| self.one(c))).await;
            for r in results {
                refused += usize::from(r?);
            }
        }
        Ok(refused)
    }

    /// One call; `Ok(true)` when DynamoDB refused it.
    async fn one(&self, call: &Call) -> Result<bool, String> {
        use aws_sdk_dynamodb::error::SdkError;
        let body = fresh_request_token(&call.body);
        let swap =
            || aws_sdk_dynamodb::config::Builder::default().interceptor(SwapBody(body.clone()));
        let c = &self.client;
        let t = self.table.as_str();
        // A placeholder request of the recorded operation; its body is replaced.
        macro_rules! send {
            ($builder:expr) => {
                match $builder.customize().config_override(swap()).send().await {
                    Ok(_) => Ok(false),
                    Err(SdkError::ServiceError(_)) => Ok(true),
                    Err(e) => Err(format!("{}: {e:?}", call.op)),
                }
            };
        }
        match call.op.as_str() {
            "GetItem" => send!(c.get_item().table_name(t)),
            "BatchGetItem" => send!(c.batch_get_item()),
            "Query" => send!(c.query().table_name(t)),
            "Scan" => send!(c.scan().table_name(t)),
            "PutItem" => send!(c.put_item().table_name(t)),
            "UpdateItem" => send!(c.update_item().table_name(t)),
            "DeleteItem" => send!(c.delete_item().table_name(t)),
            "TransactWriteItems" => send!(c.transact_write_items()),
            "TransactGetItems" => send!(c.transact_get_items()),
            "BatchWriteItem" => send!(c.batch_write_item()),
            other => Err(format!("the replayer does not know {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(concurrent: bool) -> Call {
        Call {
            op: "GetItem".into(),
            body: Bytes::new(),
            concurrent,
        }
    }

    #[test]
    fn overlapping_calls_form_one_group() {
        let calls = [
            call(false),
            call(true),
            call(false),
            call(false),
            call(true),
        ];
        let sizes: Vec<usize> = groups(&calls).iter().map(|g| g.len()).collect();
        assert_eq!(sizes, [2, 1, 2]);
        assert!(groups(&[]).is_empty());
    }
}
