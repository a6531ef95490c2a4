//! The whole table as typed records, for the consistency checker (`crate::check`), and the
//! guarded writes that repair what it finds. Every repair re-checks its premise inside
//! the write (a condition), so a repair raced by a live request does nothing rather than
//! harm: running it twice, or against a busy table, is safe.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};

use super::counters::signups_from;
use super::item::{n, s, Attrs, Item};
use super::jobs::job_from;
use super::keys::{self, Key, ReservationKind};
use super::profiles::{reservation_item, user_from};
use super::sessions::SessionRecord;
use super::tx::{TxError, Write};
use super::{Call, StatusCounts, Store, StoreError};
use crate::domain::export::ExportJob;
use crate::domain::{Timestamp, User, UserId};

/// A uniqueness reservation: `value` is held by `user_id` (`None` when the item lacks it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameReservation {
    pub kind: ReservationKind,
    pub value: String,
    pub user_id: Option<UserId>,
}

/// One item of the table, as far as the checker cares.
#[derive(Debug, Clone)]
pub enum Record {
    User(Box<User>),
    /// A session item, whether or not it has expired (`SessionRecord::is_live`).
    Session(SessionRecord),
    NameReservation(NameReservation),
    StatusCounts(StatusCounts),
    /// Signups per month (index 0 is January) of a year.
    Signups(i32, [i64; 12]),
    ExportJob(Box<ExportJob>),
    /// An audit event: whose, what, when.
    Audit {
        user_id: UserId,
        action: String,
        at: Timestamp,
    },
    /// Anything else (rate-limit windows, API keys, the health item, kinds added later).
    Other,
}

fn record_of(item: &Item) -> Result<Record, StoreError> {
    let (pk, sk) = (item.s("pk")?, item.s("sk")?);
    if let Some((kind, value)) = keys::reservation_of(pk, sk) {
        return Ok(Record::NameReservation(NameReservation {
            kind,
            value: value.to_owned(),
            user_id: item.opt_s("user_id").and_then(UserId::parse),
        }));
    }
    if pk.starts_with(keys::USER_PREFIX) {
        return Ok(match sk {
            keys::PROFILE => Record::User(Box::new(user_from(item)?)),
            // A session item from before slotted ids is no session any token can name.
            sk if sk.starts_with(keys::SESSION_PREFIX) => {
                SessionRecord::from_item(item)?.map_or(Record::Other, Record::Session)
            }
            _ => Record::Other,
        });
    }
    if pk.starts_with(keys::AUDIT_PREFIX) {
        let user_id = keys::user_of(pk).ok_or_else(|| StoreError::Corrupt("audit pk".into()))?;
        let at = Timestamp::parse(item.s("at")?)
            .ok_or_else(|| StoreError::Corrupt("audit at".into()))?;
        return Ok(Record::Audit {
            user_id,
            action: item.s("action")?.to_owned(),
            at,
        });
    }
    if pk == keys::COUNTERS {
        if sk == keys::STATUS_COUNTS {
            return Ok(Record::StatusCounts(StatusCounts::from_item(item)));
        }
        if let Some(year) = keys::signups_year(sk) {
            return Ok(Record::Signups(year, signups_from(item)));
        }
    }
    if pk == keys::EXPORTS {
        return Ok(Record::ExportJob(Box::new(job_from(item)?)));
    }
    Ok(Record::Other)
}

/// `#a = :a`, or for zero also an absent attribute (counters are created by `ADD`).
fn unchanged(name: &str, value: i64, values: &mut Attrs) -> String {
    values.insert(format!(":old_{name}"), n(value));
    if value == 0 {
        format!("(attribute_not_exists({name}) OR {name} = :old_{name})")
    } else {
        format!("{name} = :old_{name}")
    }
}

/// `SET` every counter to its new value, on condition that none moved since `old`.
fn counter_update(table: &str, key: Key, changes: &[(String, i64, i64)]) -> Write {
    let mut values = Attrs::new();
    let mut conditions = Vec::new();
    let mut sets = Vec::new();
    for (name, old, new) in changes {
        conditions.push(unchanged(name, *old, &mut values));
        values.insert(format!(":new_{name}"), n(new));
        sets.push(format!("{name} = :new_{name}"));
    }
    Write::update(
        table,
        key,
        &format!("SET {}", sets.join(", ")),
        Some(&conditions.join(" AND ")),
        HashMap::new(),
        values,
    )
}

impl Store {
    /// Every item of the table as a record, page by page, with consistent reads. Not a
    /// snapshot: items written while it runs may or may not be seen.
    #[tracing::instrument(skip(self, visit), fields(table = %self.table))]
    pub async fn scan_records(&self, mut visit: impl FnMut(Record)) -> Result<(), StoreError> {
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk(Call::new("Scan", "any item")))?;
            for raw in out.items.unwrap_or_default() {
                visit(record_of(&Item(raw))?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(());
            }
        }
    }

    /// A condition on an attribute of `user`'s profile, inside a transaction: that it
    /// equals `value`, or (`equal` false) that it differs or the profile is gone.
    fn profile_check(&self, user: UserId, attribute: &str, equal: bool, value: &str) -> Write {
        let condition = if equal {
            "#a = :value"
        } else {
            "attribute_not_exists(pk) OR #a <> :value"
        };
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(keys::profile(user)))
            .condition_expression(condition)
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":value", s(value))
            .build()
            .expect("condition check has table, key and condition");
        Write(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Runs a repair transaction: `Ok(false)` when its premise no longer held.
    async fn repair(&self, writes: Vec<Write>) -> Result<bool, StoreError> {
        match self.transact("repair", writes).await {
            Ok(()) => Ok(true),
            Err(TxError::Cancelled(_)) => Ok(false),
            Err(TxError::Store(e)) => Err(e),
        }
    }

    /// Deletes a reservation whose user does not exist or no longer holds its value.
    #[tracing::instrument(skip(self, r), fields(kind = r.kind.name()))]
    pub async fn remove_stray_reservation(&self, r: &NameReservation) -> Result<bool, StoreError> {
        let Some(owner) = r.user_id else {
            let delete = Write::delete(
                &self.table,
                keys::reservation(r.kind, &r.value),
                Some("attribute_not_exists(user_id)"),
                Attrs::new(),
            );
            return self.repair(vec![delete]).await;
        };
        let writes = vec![
            self.profile_check(owner, r.kind.name(), false, &r.value),
            Write::delete(
                &self.table,
                keys::reservation(r.kind, &r.value),
                Some("user_id = :id"),
                HashMap::from([(":id".to_owned(), s(owner.to_string()))]),
            ),
        ];
        self.repair(writes).await
    }

    /// Writes the missing reservation of a user that still holds the value.
    #[tracing::instrument(skip(self, user), fields(user = %user.id, kind = kind.name()))]
    pub async fn restore_reservation(
        &self,
        user: &User,
        kind: ReservationKind,
    ) -> Result<bool, StoreError> {
        let value = kind.value_of(user);
        let item = reservation_item(keys::reservation(kind, value), user.id);
        let writes = vec![
            self.profile_check(user.id, kind.name(), true, value),
            Write::put(
                &self.table,
                item,
                Some("attribute_not_exists(pk)"),
                Attrs::new(),
            ),
        ];
        self.repair(writes).await
    }

    /// Sets the status counters to `new`, unless they moved away from `old` meanwhile.
    #[tracing::instrument(skip(self))]
    pub async fn reset_status_counts(
        &self,
        old: StatusCounts,
        new: StatusCounts,
    ) -> Result<bool, StoreError> {
        let changes: Vec<(String, i64, i64)> = [
            ("active", old.active, new.active),
            ("inactive", old.inactive, new.inactive),
            ("deleted", old.deleted, new.deleted),
            ("active_admins", old.active_admins, new.active_admins),
            ("email_verified", old.email_verified, new.email_verified),
        ]
        .into_iter()
        .map(|(name, o, n)| (name.to_owned(), o, n))
        .collect();
        let write = counter_update(&self.table, keys::status_counts(), &changes);
        self.repair(vec![write]).await
    }

    /// Sets a year's signup counters to `new`, unless they moved away from `old` meanwhile.
    #[tracing::instrument(skip(self))]
    pub async fn reset_signups(
        &self,
        year: i32,
        old: [i64; 12],
        new: [i64; 12],
    ) -> Result<bool, StoreError> {
        let changes: Vec<(String, i64, i64)> = (0..12)
            .map(|m| (format!("m{}", m + 1), old[m], new[m]))
            .collect();
        let write = counter_update(&self.table, keys::signups(year), &changes);
        self.repair(vec![write]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    #[test]
    fn zero_counters_may_be_absent() {
        let mut values = Attrs::new();
        assert_eq!(
            unchanged("m1", 0, &mut values),
            "(attribute_not_exists(m1) OR m1 = :old_m1)"
        );
        assert_eq!(unchanged("m2", 3, &mut values), "m2 = :old_m2");
        assert_eq!(values[":old_m2"], AttributeValue::N("3".into()));
    }
}
