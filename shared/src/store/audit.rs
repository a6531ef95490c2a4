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
    /// Records an event that goes with no other write (a login attempt, recorded as failed
    /// until its success overwrites it).
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

fn audit_from(item: &super::Item) -> Result<AuditEvent, super::StoreError> {
    let corrupt = |what: &str| super::StoreError::Corrupt(format!("audit {what}"));
    let fields = match item.0.get("fields") {
        Some(aws_sdk_dynamodb::types::AttributeValue::L(list)) => {
            list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
        }
        _ => Vec::new(),
    };
    Ok(AuditEvent {
        id: item.s("id")?.to_owned(),
        user_id: crate::domain::UserId::parse(item.s("user_id")?)
            .ok_or_else(|| corrupt("user_id"))?,
        actor: item.s("actor")?.to_owned(),
        action: item.s("action")?.to_owned(),
        fields,
        at: crate::domain::Timestamp::parse(item.s("at")?).ok_or_else(|| corrupt("at"))?,
        request_id: item.s("request_id")?.to_owned(),
    })
}

impl super::Store {
    /// One page of a user's audit trail, newest first.
    pub async fn audit_page(
        &self,
        user: crate::domain::UserId,
        limit: u32,
        after: Option<super::Position>,
    ) -> Result<super::Page<AuditEvent>, super::StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::audit_pk(user)))
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_exclusive_start_key(after.map(super::position_to_key))
            .send()
            .await
            .map_err(super::StoreError::aws)?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| audit_from(&super::Item(i)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(super::Page {
            items,
            next: out.last_evaluated_key.map(super::key_to_position),
            read: out.scanned_count.max(0) as usize,
        })
    }
}
