//! TransactWriteItems with the retry every caller needs: DynamoDB cancels a transaction
//! that collides with another on the same item (the counters are such items), and a
//! retry after a short jittered pause is the documented remedy.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use rand::Rng;

use super::item::Attrs;
use super::{Call, Store, StoreError};

const ATTEMPTS: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// A condition failed; the reasons are per item, in request order
    /// (`Some("ConditionalCheckFailed")`, or `None` where the item was fine).
    #[error("transaction cancelled: {0:?}")]
    Cancelled(Vec<Option<String>>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TxError {
    /// Whether item `index` of the transaction failed its condition.
    pub fn failed_at(&self, index: usize) -> bool {
        matches!(self, TxError::Cancelled(reasons)
            if reasons.get(index).and_then(Option::as_deref) == Some("ConditionalCheckFailed"))
    }
}

/// One write of a transaction, built with its condition.
pub(super) struct Write(pub TransactWriteItem);

impl Write {
    pub fn put(table: &str, item: Attrs, condition: Option<&str>, values: Attrs) -> Self {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(Some(values).filter(|v| !v.is_empty()))
            .build()
            .expect("put has table and item");
        Self(TransactWriteItem::builder().put(put).build())
    }

    pub fn update(
        table: &str,
        key: Attrs,
        expression: &str,
        condition: Option<&str>,
        names: Names,
        values: Attrs,
    ) -> Self {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(Some(names).filter(|n| !n.is_empty()))
            .set_expression_attribute_values(Some(values).filter(|v| !v.is_empty()))
            .build()
            .expect("update has table, key and expression");
        Self(TransactWriteItem::builder().update(update).build())
    }

    pub fn delete(table: &str, key: Attrs, condition: Option<&str>, values: Attrs) -> Self {
        let delete = Delete::builder()
            .table_name(table)
            .set_key(Some(key))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(Some(values).filter(|v| !v.is_empty()))
            .build()
            .expect("delete has table and key");
        Self(TransactWriteItem::builder().delete(delete).build())
    }
}

/// Expression attribute names: `#alias` to the attribute it stands for.
pub(super) type Names = HashMap<String, String>;

impl Store {
    /// Runs the writes as one transaction about `item` (the kind its failure is reported
    /// as), retrying collisions with other transactions.
    #[tracing::instrument(skip(self, writes), fields(writes = writes.len()))]
    pub(super) async fn transact(
        &self,
        item: &'static str,
        writes: Vec<Write>,
    ) -> Result<(), TxError> {
        let call = Call::new("TransactWriteItems", item);
        let items: Vec<TransactWriteItem> = writes.into_iter().map(|w| w.0).collect();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let conflict = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                    let reasons: Vec<Option<String>> = e
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().map(str::to_owned).filter(|c| c != "None"))
                        .collect();
                    if reasons
                        .iter()
                        .flatten()
                        .any(|c| c == "ConditionalCheckFailed")
                    {
                        return Err(TxError::Cancelled(reasons));
                    }
                    true
                }
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => true,
                _ => false,
            };
            if !conflict {
                return Err(StoreError::sdk(call)(err).into());
            }
            if attempt >= ATTEMPTS {
                // Contention that outlasted every retry passes, like throttling: try later.
                return Err(StoreError::Unavailable {
                    call,
                    source: err.into(),
                }
                .into());
            }
            let base = 5u64 << attempt.min(6);
            let pause = rand::rng().random_range(base / 2..=base);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;
    use crate::store::keys;

    /// DynamoDB as an HTTP client that answers every request with one error document.
    #[derive(Debug, Clone)]
    struct Answers(&'static str);

    impl HttpConnector for Answers {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            let status = StatusCode::try_from(400).expect("status");
            HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(self.0))))
        }
    }

    impl HttpClient for Answers {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    fn store_answering(body: &'static str) -> Store {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(1)))
            .http_client(Answers(body))
            .build();
        Store::new(aws_sdk_dynamodb::Client::from_conf(config), "t")
    }

    fn one_write() -> Vec<Write> {
        vec![Write::delete("t", keys::health(), None, Attrs::new())]
    }

    const CONFLICT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"cancelled","CancellationReasons":[{"Code":"TransactionConflict"}]}"#;
    const CONDITION: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"cancelled","CancellationReasons":[{"Code":"ConditionalCheckFailed"}]}"#;
    const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#;

    #[tokio::test]
    async fn conflicts_that_outlast_the_retries_are_unavailable() {
        let err = store_answering(CONFLICT)
            .transact("test", one_write())
            .await;
        assert!(
            matches!(err, Err(TxError::Store(StoreError::Unavailable { .. }))),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn throttling_is_unavailable() {
        let err = store_answering(THROTTLED)
            .transact("test", one_write())
            .await;
        assert!(
            matches!(err, Err(TxError::Store(StoreError::Unavailable { .. }))),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_failed_condition_is_an_answer_not_a_fault() {
        let err = store_answering(CONDITION)
            .transact("test", one_write())
            .await;
        assert!(matches!(&err, Err(e) if e.failed_at(0)), "{err:?}");
    }
}
