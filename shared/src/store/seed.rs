//! Bulk writes of user profiles for tests and benchmarks that need a large table quickly.

use std::time::Duration;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use super::profiles::user_item;
use super::{Call, Store, StoreError};
use crate::domain::User;

const CALL: Call = Call::new("BatchWriteItem", "profile");

/// BatchWriteItem's limit.
const BATCH: usize = 25;

impl Store {
    /// Writes `users` as profile items exactly as `create_user` shapes them, but without
    /// reservations, counters or audit events: the table then breaks the invariants real
    /// writes keep, so this is for seeding test and benchmark tables only.
    pub async fn seed_users(&self, users: &[User]) -> Result<(), StoreError> {
        for chunk in users.chunks(BATCH) {
            let mut requests = chunk
                .iter()
                .map(|u| {
                    let put = PutRequest::builder()
                        .set_item(Some(user_item(u)))
                        .build()
                        .map_err(|e| StoreError::failed(CALL, e))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            // DynamoDB may leave part of a batch unprocessed under load; resend that part
            // after a pause that grows while it keeps doing so.
            let mut pause = Duration::from_millis(20);
            loop {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(StoreError::sdk(CALL))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
        Ok(())
    }
}
