//! DynamoDB access. This module is the only place that knows key shapes, attribute
//! names and expressions; everything above it speaks in domain types.

mod api_keys;
mod audit;
mod counters;
mod directory;
mod imports;
mod inventory;
mod item;
mod jobs;
mod keys;
mod rate_limits;
mod scan;
// Test and benchmark seeding only: the `test-support` feature keeps it out of the Lambdas.
#[cfg(feature = "test-support")]
mod seed;
mod sessions;
mod tokens;
mod tx;
mod users;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

pub use api_keys::ApiKeyRecord;
pub use counters::StatusCounts;
pub use directory::READ_BUDGET;
pub use imports::{import_job_id, Advance, Created, ImportTally, JobMoveError};
pub use inventory::{NameReservation, Record, ReservationKind};
pub use item::Item;
pub use jobs::export_job_id;
pub use rate_limits::Reservation;
pub use scan::UserScan;
pub use sessions::{Rotation, SessionRecord};
pub use tx::TxError;
pub use users::WriteError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A stored item does not have the shape this code writes: a bug or a foreign writer.
    #[error("corrupt item: {0}")]
    Corrupt(String),
    /// The table is slow, unreachable or throttling (see `faults::is_unavailable`): worth
    /// trying again later, not a bug.
    #[error("dynamodb unavailable: {0}")]
    Unavailable(String),
    #[error("dynamodb: {0}")]
    Aws(String),
}

impl StoreError {
    pub(crate) fn aws<E>(err: aws_sdk_dynamodb::error::SdkError<E>) -> Self
    where
        E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    {
        let text = crate::telemetry::error_chain(&err);
        if crate::faults::is_unavailable(&err) {
            StoreError::Unavailable(text)
        } else {
            StoreError::Aws(text)
        }
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// The users table. Cheap to clone: the SDK client is reference-counted.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// A consistent read of one item: every point read of ours must see the latest write
    /// (a revoked session, a just-made reservation, a counter moved in a transaction).
    pub(crate) async fn read(
        &self,
        key: HashMap<String, AttributeValue>,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(out.item.map(Item))
    }

    /// One page of the items of partition `pk`, newest (highest sort key) first, each
    /// parsed by `parse`: the lists whose items share a partition (audit, jobs, API keys).
    pub(crate) async fn partition_page<T>(
        &self,
        pk: &str,
        limit: u32,
        after: Option<Position>,
        parse: impl Fn(&Item) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_exclusive_start_key(after.map(position_to_key))
            .send()
            .await
            .map_err(StoreError::aws)?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| parse(&Item(i)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            next: out.last_evaluated_key.map(key_to_position),
            read: out.scanned_count.max(0) as usize,
        })
    }

    /// Consistent reads of several items in one `BatchGetItem` (at most 100 keys), asking
    /// again for any keys DynamoDB leaves unprocessed. Missing items are simply absent.
    pub(crate) async fn read_many(
        &self,
        keys: Vec<HashMap<String, AttributeValue>>,
    ) -> Result<Vec<Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = Vec::with_capacity(keys.len());
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .expect("keys are set");
        let mut request = Some(HashMap::from([(self.table.clone(), keys)]));
        while let Some(items) = request.take().filter(|r| !r.is_empty()) {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(items))
                .send()
                .await
                .map_err(StoreError::aws)?;
            let responses = out.responses.and_then(|mut r| r.remove(&self.table));
            found.extend(responses.unwrap_or_default().into_iter().map(Item));
            request = out.unprocessed_keys;
        }
        Ok(found)
    }

    /// Proves the table is reachable and readable with the function's own permissions.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let (pk, sk) = keys::health();
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(())
    }
}

/// The table key of an item.
pub(crate) fn key(pk: impl Into<String>, sk: impl Into<String>) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.into())),
        ("sk".to_owned(), AttributeValue::S(sk.into())),
    ])
}

/// Where a Query stopped, as plain strings (every key attribute of ours is a string).
pub type Position = std::collections::BTreeMap<String, String>;

/// One page of a list and where the next one starts.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Position>,
    /// Items DynamoDB read to make the page (its ScannedCount): the page's cost.
    pub read: usize,
}

pub(crate) fn position_to_key(p: Position) -> std::collections::HashMap<String, AttributeValue> {
    p.into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect()
}

pub(crate) fn key_to_position(k: std::collections::HashMap<String, AttributeValue>) -> Position {
    k.into_iter()
        .filter_map(|(name, v)| v.as_s().ok().map(|s| (name, s.clone())))
        .collect()
}
