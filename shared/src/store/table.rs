//! The reads every item kind shares: a consistent point read, a consistent batch read, one
//! page of a partition, and the health probe. Each names the kind of item it reads, so a
//! failure (and its span) says which.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::item::{Attrs, Item};
use super::keys::{self, Key};
use super::page::{key_to_position, position_to_key};
use super::{Call, Page, Position, Store, StoreError};

impl Store {
    /// A consistent read of one item: every point read of ours must see the latest write
    /// (a revoked session, a just-made reservation, a counter moved in a transaction).
    #[tracing::instrument(skip(self, key))]
    pub(super) async fn read(
        &self,
        item: &'static str,
        key: Key,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk(Call::new("GetItem", item)))?;
        Ok(out.item.map(Item))
    }

    /// A consistent read of one item, parsed by `parse`.
    pub(super) async fn read_as<T>(
        &self,
        item: &'static str,
        key: Key,
        parse: impl Fn(&Item) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.read(item, key).await?.map(|i| parse(&i)).transpose()
    }

    /// Writes a new item, failing if one with its key exists already.
    #[tracing::instrument(skip(self, attrs))]
    pub(super) async fn put_new(&self, item: &'static str, attrs: Attrs) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attrs))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(StoreError::sdk(Call::new("PutItem", item)))?;
        Ok(())
    }

    /// One page of the items of partition `pk`, newest (highest sort key) first, each
    /// parsed by `parse`: the lists whose items share a partition (audit, jobs, API keys).
    #[tracing::instrument(skip(self, after, parse))]
    pub(super) async fn partition_page<T>(
        &self,
        item: &'static str,
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
            .map_err(StoreError::sdk(Call::new("Query", item)))?;
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
    #[tracing::instrument(skip(self, keys), fields(keys = keys.len()))]
    pub(super) async fn read_many(
        &self,
        item: &'static str,
        keys: Vec<Key>,
    ) -> Result<Vec<Item>, StoreError> {
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
                .map_err(StoreError::sdk(Call::new("BatchGetItem", item)))?;
            let responses = out.responses.and_then(|mut r| r.remove(&self.table));
            found.extend(responses.unwrap_or_default().into_iter().map(Item));
            request = out.unprocessed_keys;
        }
        Ok(found)
    }

    /// Proves the table is reachable and readable with the function's own permissions.
    #[tracing::instrument(skip(self))]
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::health()))
            .send()
            .await
            .map_err(StoreError::sdk(Call::new("GetItem", "health probe")))?;
        Ok(())
    }
}
