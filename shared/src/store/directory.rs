//! User listings: one Query on the directory index that matches the sort, with prefix and
//! date filters as key conditions where the index allows and filter expressions elsewhere.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::{s, Item};
use super::keys;
use super::page::{key_to_position, position_to_key};
use super::profiles::user_from;
use super::{Call, Page, Position, Store, StoreError};
use crate::domain::listing::{ListQuery, Order, SortKey};
use crate::domain::{Status, User};

/// How many items one page may read before it returns what it has (with a cursor): a
/// bound on the cost of selective filters such as `q`.
pub const READ_BUDGET: usize = 1_000;

fn index(sort: SortKey) -> (&'static str, &'static str) {
    match sort {
        SortKey::CreatedAt => ("dir-created", "created_sk"),
        SortKey::Email => ("dir-email", "email"),
        SortKey::Username => ("dir-username", "username"),
        SortKey::DisplayName => ("dir-name", "name_sk"),
    }
}

/// Key condition, filter expression and values for a query.
struct Plan {
    key_condition: String,
    filters: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

fn plan(q: &ListQuery) -> Plan {
    let mut p = Plan {
        key_condition: "dir = :dir".into(),
        filters: Vec::new(),
        names: HashMap::new(),
        values: HashMap::from([(":dir".to_owned(), s(keys::DIRECTORY))]),
    };
    let value = |p: &mut Plan, name: &str, v: String| {
        p.values.insert(name.to_owned(), s(v));
    };
    // The prefix that matches the sort becomes a key condition; the others filter.
    let prefixes = [
        (SortKey::Email, "email", "email", &q.email),
        (SortKey::Username, "username", "username", &q.username),
        (SortKey::DisplayName, "name_lc", "name_sk", &q.name),
    ];
    for (sort, filter_attr, key_attr, prefix) in prefixes {
        if let Some(prefix) = prefix {
            let placeholder = format!(":{filter_attr}_prefix");
            value(&mut p, &placeholder, prefix.clone());
            if q.sort == sort {
                p.key_condition
                    .push_str(&format!(" AND begins_with({key_attr}, {placeholder})"));
            } else {
                p.filters
                    .push(format!("begins_with({filter_attr}, {placeholder})"));
            }
        }
    }
    // created_sk is `<created_at>#<id>`: comparing with the bare timestamp makes
    // created_after inclusive and created_before exclusive.
    let (after, before) = (
        q.created_after.map(|t| t.to_string()),
        q.created_before.map(|t| t.to_string()),
    );
    if q.sort == SortKey::CreatedAt {
        match (after, before) {
            (Some(a), Some(b)) => {
                value(&mut p, ":after", a);
                value(&mut p, ":before", b);
                p.key_condition
                    .push_str(" AND created_sk BETWEEN :after AND :before");
            }
            (Some(a), None) => {
                value(&mut p, ":after", a);
                p.key_condition.push_str(" AND created_sk >= :after");
            }
            (None, Some(b)) => {
                value(&mut p, ":before", b);
                p.key_condition.push_str(" AND created_sk < :before");
            }
            (None, None) => {}
        }
    } else {
        if let Some(a) = after {
            value(&mut p, ":after", a);
            p.filters.push("created_at >= :after".into());
        }
        if let Some(b) = before {
            value(&mut p, ":before", b);
            p.filters.push("created_at < :before".into());
        }
    }
    if let Some(status) = q.status {
        p.names.insert("#status".into(), "status".into());
        value(&mut p, ":status", status.as_str().to_owned());
        p.filters.push("#status = :status".into());
    } else if !q.include_deleted {
        p.names.insert("#status".into(), "status".into());
        value(&mut p, ":deleted", Status::Deleted.as_str().to_owned());
        p.filters.push("#status <> :deleted".into());
    }
    if let Some(verified) = q.email_verified {
        // Profiles written before email verification existed lack the attribute: unverified.
        p.values
            .insert(":verified".into(), AttributeValue::Bool(true));
        p.filters.push(if verified {
            "email_verified = :verified".into()
        } else {
            "NOT (email_verified = :verified)".into()
        });
    }
    if let Some(text) = &q.q {
        value(&mut p, ":q", text.clone());
        p.filters.push("contains(search_text, :q)".into());
    }
    p
}

impl Store {
    /// One page of users. Reads about as many items as it returns when only the index's own
    /// key conditions apply; filters (status, `q`, other prefixes) read more, up to
    /// `READ_BUDGET`, after which the page may come back short with a cursor.
    pub async fn list_users(
        &self,
        q: &ListQuery,
        limit: usize,
        after: Option<Position>,
    ) -> Result<Page<User>, StoreError> {
        let (index_name, sort_attr) = index(q.sort);
        let plan = plan(q);
        let filter = (!plan.filters.is_empty()).then(|| plan.filters.join(" AND "));
        let mut users = Vec::with_capacity(limit);
        let mut start = after;
        let mut read = 0usize;
        loop {
            let want = limit - users.len();
            // Without filters every item read is returned; with them, read a little ahead.
            let batch = if filter.is_some() {
                want + want / 2 + 1
            } else {
                want
            };
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index_name)
                .key_condition_expression(&plan.key_condition)
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names(Some(plan.names.clone()).filter(|n| !n.is_empty()))
                .set_expression_attribute_values(Some(plan.values.clone()))
                .scan_index_forward(q.order == Order::Asc)
                .limit(batch as i32)
                .set_exclusive_start_key(start.take().map(position_to_key))
                .send()
                .await
                .map_err(StoreError::sdk(Call::new("Query directory", "profile")))?;
            read += out.scanned_count.max(0) as usize;
            for raw in out.items.unwrap_or_default() {
                if users.len() == limit {
                    break;
                }
                let item = Item(raw);
                let position = item_position(&item, sort_attr)?;
                users.push((user_from(&item)?, position));
            }
            let next = out.last_evaluated_key.map(key_to_position);
            if users.len() == limit {
                // The page ends at its last item, not where DynamoDB stopped reading.
                let last = users.last().map(|(_, p)| p.clone());
                return Ok(Page {
                    items: users.into_iter().map(|(u, _)| u).collect(),
                    next: last,
                    read,
                });
            }
            match next {
                Some(position) if read < READ_BUDGET => start = Some(position),
                next => {
                    return Ok(Page {
                        items: users.into_iter().map(|(u, _)| u).collect(),
                        next,
                        read,
                    })
                }
            }
        }
    }
}

/// The index key of an item: where a page that ends with it resumes.
fn item_position(item: &Item, sort_attr: &str) -> Result<Position, StoreError> {
    let mut p = Position::new();
    for name in ["pk", "sk", "dir", sort_attr] {
        p.insert(name.to_owned(), item.s(name)?.to_owned());
    }
    Ok(p)
}
