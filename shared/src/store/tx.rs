//! TransactWriteItems with the retry every caller needs: DynamoDB cancels a transaction
//! that collides with another on the same item (the counters are such items), and a
//! retry after a short jittered pause is the documented remedy.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use rand::Rng;

use super::{Store, StoreError};

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

pub(super) type Attrs = HashMap<String, AttributeValue>;

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
        names: Attrs2,
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

pub(super) type Attrs2 = HashMap<String, String>;

impl Store {
    pub(super) async fn transact(&self, writes: Vec<Write>) -> Result<(), TxError> {
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
                return Err(StoreError::aws(err).into());
            }
            if attempt >= ATTEMPTS {
                // Contention that outlasted every retry passes, like throttling: try later.
                return Err(StoreError::Unavailable(crate::faults::describe(&err)).into());
            }
            let base = 5u64 << attempt.min(6);
            let pause = rand::rng().random_range(base / 2..=base);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }
}
