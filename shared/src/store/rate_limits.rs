//! Rate-limit windows: one item per (action, subject, window), counted with a single
//! conditional `UpdateItem`, and expired by TTL.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValue;

use super::item::{n, s};
use super::keys;
use super::{key, Store, StoreError};
use crate::auth::rate_limit::{Action, Window};
use crate::config::Limit;
use crate::error::RateLimited;

/// Window items outlive their window a little, then TTL removes them.
const TTL_SLACK_SECS: u64 = 60;

/// What a full window tells the client.
fn refusal(limit: Limit, window: Window, now: u64) -> RateLimited {
    RateLimited {
        limit: limit.count,
        remaining: 0,
        reset_secs: window.reset_secs(now),
    }
}

impl Store {
    /// The `UpdateItem` that adds one hit to a window item, creating it with its TTL.
    fn count_hit(
        &self,
        action: Action,
        subject: &str,
        window: Window,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let (pk, sk) = keys::rate_limit(action.as_str(), subject, window.start);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("ADD hits :one SET #ttl = if_not_exists(#ttl, :ttl)")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(window.end + TTL_SLACK_SECS))
    }

    /// Counts one hit; refuses it (without counting) once the window is full.
    pub async fn hit(
        &self,
        action: Action,
        subject: &str,
        limit: Limit,
        now: u64,
    ) -> Result<Result<(), RateLimited>, StoreError> {
        let window = Window::at(limit, now);
        let result = self
            .count_hit(action, subject, window)
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .expression_attribute_values(":limit", n(limit.count))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(Err(refusal(limit, window, now)))
            }
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Whether the window is already full, without counting (the lockout check before a
    /// login attempt).
    pub async fn is_limited(
        &self,
        action: Action,
        subject: &str,
        limit: Limit,
        now: u64,
    ) -> Result<Result<(), RateLimited>, StoreError> {
        let window = Window::at(limit, now);
        let (pk, sk) = keys::rate_limit(action.as_str(), subject, window.start);
        let hits: u32 = self
            .read(key(pk, sk))
            .await?
            .and_then(|i| i.opt_n("hits"))
            .unwrap_or(0);
        if hits >= limit.count {
            return Ok(Err(refusal(limit, window, now)));
        }
        Ok(Ok(()))
    }

    /// Counts one hit whatever the count (a failed login always counts).
    pub async fn record_hit(
        &self,
        action: Action,
        subject: &str,
        limit: Limit,
        now: u64,
    ) -> Result<(), StoreError> {
        self.count_hit(action, subject, Window::at(limit, now))
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(())
    }
}
