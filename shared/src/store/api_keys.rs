//! API key items, all in one partition (`APIKEY`, sorted by time-ordered id): few, admin-made.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;

use super::error::is_condition_failed;
use super::item::{s, Item};
use super::keys;
use super::{Call, Page, Position, Store, StoreError};
use crate::domain::{Scope, Timestamp};

/// An API key item; neither its JSON nor its `Debug` shows the key's hash.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub scopes: BTreeSet<Scope>,
    pub created_at: Timestamp,
    pub created_by: String,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    #[serde(skip)]
    pub hash: String,
}

impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("created_by", &self.created_by)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl ApiKeyRecord {
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }

    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let ts = |name: &str| item.opt_s(name).and_then(Timestamp::parse);
        Ok(Self {
            id: item.s("sk")?.to_owned(),
            name: item.s("name")?.to_owned(),
            scopes: item
                .string_set("scopes")
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect(),
            created_at: ts("created_at")
                .ok_or_else(|| StoreError::Corrupt("api key created_at".into()))?,
            created_by: item.s("created_by")?.to_owned(),
            expires_at: ts("expires_at"),
            last_used_at: ts("last_used_at"),
            hash: item.s("key_hash")?.to_owned(),
        })
    }
}

impl Store {
    #[tracing::instrument(skip_all, fields(id = %k.id), err)]
    pub async fn put_api_key(&self, k: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut item = keys::api_key(&k.id);
        item.insert("name".into(), s(&k.name));
        item.insert(
            "scopes".into(),
            AttributeValue::Ss(k.scopes.iter().map(|s| s.as_str().to_owned()).collect()),
        );
        item.insert("created_at".into(), s(k.created_at.to_string()));
        item.insert("created_by".into(), s(&k.created_by));
        item.insert("key_hash".into(), s(&k.hash));
        if let Some(t) = k.expires_at {
            item.insert("expires_at".into(), s(t.to_string()));
        }
        self.put_new("api key", item).await
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.read_as("api key", keys::api_key(id), ApiKeyRecord::from_item)
            .await
    }

    /// One page of keys, newest first.
    pub async fn api_keys_page(
        &self,
        limit: u32,
        after: Option<Position>,
    ) -> Result<Page<ApiKeyRecord>, StoreError> {
        self.partition_page(
            "api key",
            keys::API_KEYS,
            limit,
            after,
            ApiKeyRecord::from_item,
        )
        .await
    }

    /// Deletes the key; `false` if there was none.
    #[tracing::instrument(skip(self), err)]
    pub async fn delete_api_key(&self, id: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::api_key(id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(StoreError::sdk(Call::new("DeleteItem", "api key")))?;
        Ok(out.attributes.is_some())
    }

    /// Stamps `last_used_at`, at most once a minute per key (the condition makes
    /// concurrent requests write it once).
    #[tracing::instrument(skip(self), err)]
    pub async fn touch_api_key(&self, id: &str, now: Timestamp) -> Result<(), StoreError> {
        let minute_ago = Timestamp::from_millis(now.unix_millis() - 60_000).unwrap_or(now);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::api_key(id)))
            .update_expression("SET last_used_at = :now")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at < :minute_ago)")
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":minute_ago", s(minute_ago.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(StoreError::sdk(Call::new("UpdateItem", "api key"))(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let record = ApiKeyRecord {
            id: "k".into(),
            name: "service".into(),
            scopes: BTreeSet::new(),
            created_at: Timestamp::now(),
            created_by: "user:x".into(),
            expires_at: None,
            last_used_at: None,
            hash: "cafe0123deadbeef".into(),
        };
        assert!(!format!("{record:?}").contains("cafe0123deadbeef"));
    }
}
