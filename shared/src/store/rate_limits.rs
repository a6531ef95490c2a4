//! Rate-limit windows: one item per (action, subject, window), counted with a single
//! conditional `UpdateItem`, and expired by TTL.

use std::collections::HashMap;

use super::error::is_condition_failed;
use super::item::{n, s};
use super::keys;
use super::tx::Write;
use super::{Call, Store, StoreError};
use crate::domain::rate_limit::{Action, Limit, RateLimited, Window};

/// Window items outlive their window a little, then TTL removes them.
const TTL_SLACK_SECS: u64 = 60;

/// One hit counted in a window, which a successful login gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    action: Action,
    subject: String,
    window: Window,
}

impl Reservation {
    fn key(&self) -> keys::Key {
        keys::rate_limit(self.action.as_str(), &self.subject, self.window.start)
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
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::rate_limit(
                action.as_str(),
                subject,
                window.start,
            )))
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
        Ok(self.reserve(action, subject, limit, now).await?.map(drop))
    }

    /// Counts one hit like `hit`, and returns it as a reservation that a write can give back
    /// (`release_write`): a login takes its attempt before checking the password, so that
    /// parallel guesses cannot outrun the count, and a success returns it.
    #[tracing::instrument(skip(self, subject), err)]
    pub async fn reserve(
        &self,
        action: Action,
        subject: &str,
        limit: Limit,
        now: u64,
    ) -> Result<Result<Reservation, RateLimited>, StoreError> {
        let window = Window::at(limit, now);
        let result = self
            .count_hit(action, subject, window)
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .expression_attribute_values(":limit", n(limit.count))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(Reservation {
                action,
                subject: subject.to_owned(),
                window,
            })),
            Err(e) if is_condition_failed(&e) => Ok(Err(RateLimited::full(limit, window, now))),
            Err(e) => Err(StoreError::sdk(Call::new(
                "UpdateItem",
                "rate-limit window",
            ))(e)),
        }
    }

    /// Notes on a reservation's window item the request that made it: an unknown login
    /// name's only record of its attempt. It is written while the dummy hash runs, as a
    /// known account's audit event is, so both outcomes make one write alongside the hash.
    #[tracing::instrument(skip_all, err)]
    pub async fn note_attempt(
        &self,
        reservation: &Reservation,
        request_id: &str,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(reservation.key()))
            // The window item exists already; should TTL have taken it, it comes back
            // with its TTL rather than for good.
            .update_expression("SET last_request_id = :request, #ttl = if_not_exists(#ttl, :ttl)")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":request", s(request_id))
            .expression_attribute_values(":ttl", n(reservation.window.end + TTL_SLACK_SECS))
            .send()
            .await
            .map_err(StoreError::sdk(Call::new(
                "UpdateItem",
                "rate-limit window",
            )))?;
        Ok(())
    }

    /// The transaction write that gives a reservation back to its window.
    pub(super) fn release_write(&self, reservation: &Reservation) -> Write {
        Write::update(
            &self.table,
            reservation.key(),
            "ADD hits :minus_one",
            None,
            HashMap::new(),
            HashMap::from([(":minus_one".to_owned(), n(-1))]),
        )
    }
}
