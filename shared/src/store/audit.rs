//! Audit events: their own partition per user (`AUDIT#<user>`), so a hard delete of the
//! user keeps the trail, sorted newest first by their time-ordered ids.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::{s, Attrs, Item};
use super::keys;
use super::tx::Write;
use super::{Call, Page, Position, Store, StoreError};
use crate::domain::{AuditEvent, Timestamp, UserId};

fn audit_item(e: &AuditEvent) -> Attrs {
    let mut item = keys::audit(e.user_id, &e.id);
    item.extend([
        ("id".to_owned(), s(&e.id)),
        ("user_id".to_owned(), s(e.user_id.to_string())),
        ("actor".to_owned(), s(&e.actor)),
        ("action".to_owned(), s(&e.action)),
        ("at".to_owned(), s(e.at.to_string())),
        ("request_id".to_owned(), s(&e.request_id)),
    ]);
    if !e.fields.is_empty() {
        item.insert(
            "fields".to_owned(),
            AttributeValue::L(e.fields.iter().map(s).collect()),
        );
    }
    item
}

fn audit_from(item: &Item) -> Result<AuditEvent, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("audit {what}"));
    let fields = match item.0.get("fields") {
        Some(AttributeValue::L(list)) => {
            list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
        }
        _ => Vec::new(),
    };
    Ok(AuditEvent {
        id: item.s("id")?.to_owned(),
        user_id: UserId::parse(item.s("user_id")?).ok_or_else(|| corrupt("user_id"))?,
        actor: item.s("actor")?.to_owned(),
        action: item.s("action")?.to_owned(),
        fields,
        at: Timestamp::parse(item.s("at")?).ok_or_else(|| corrupt("at"))?,
        request_id: item.s("request_id")?.to_owned(),
    })
}

impl Store {
    /// The write that records `event` inside the transaction of the change it describes.
    pub(super) fn audit_write(&self, event: &AuditEvent) -> Write {
        Write::put(&self.table, audit_item(event), None, HashMap::new())
    }

    /// Records an event that goes with no other write (a login attempt, recorded as failed
    /// until its success overwrites it).
    #[tracing::instrument(skip_all, fields(action = %event.action), err)]
    pub async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(event)))
            .send()
            .await
            .map_err(StoreError::sdk(Call::new("PutItem", "audit event")))?;
        Ok(())
    }

    /// One page of a user's audit trail, newest first.
    pub async fn audit_page(
        &self,
        user: UserId,
        limit: u32,
        after: Option<Position>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let partition = keys::audit_partition(user);
        self.partition_page("audit event", &partition, limit, after, audit_from)
            .await
    }
}
