//! Audit events: their own partition per user (`AUDIT#<user>`), so a hard delete of the
//! user keeps the trail, sorted newest first by their time-ordered ids.

use std::collections::HashMap;

use super::item::s;
use super::keys;
use super::tx::Attrs;
use crate::domain::AuditEvent;

pub(super) fn audit_item(e: &AuditEvent) -> Attrs {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(keys::audit_pk(e.user_id))),
        ("sk".to_owned(), s(&e.id)),
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
            aws_sdk_dynamodb::types::AttributeValue::L(e.fields.iter().map(s).collect()),
        );
    }
    item
}

impl super::Store {
    /// Records an event that goes with no other write (a failed login).
    pub async fn append_audit(&self, event: &AuditEvent) -> Result<(), super::StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(event)))
            .send()
            .await
            .map_err(super::StoreError::aws)?;
        Ok(())
    }
}
