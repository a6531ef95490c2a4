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
    p.prefixes(q);
    p.created(q);
    p.status(q);
    p.verified(q);
    if let Some(text) = &q.q {
        p.value(":q", text.clone());
        p.filters.push("contains(search_text, :q)".into());
    }
    p
}

impl Plan {
    fn value(&mut self, name: &str, v: String) {
        self.values.insert(name.to_owned(), s(v));
    }

    /// The prefix that matches the sort becomes a key condition; the others filter.
    fn prefixes(&mut self, q: &ListQuery) {
        let prefixes = [
            (SortKey::Email, "email", "email", &q.email),
            (SortKey::Username, "username", "username", &q.username),
            (SortKey::DisplayName, "name_lc", "name_sk", &q.name),
        ];
        for (sort, filter_attr, key_attr, prefix) in prefixes {
            let Some(prefix) = prefix else { continue };
            let placeholder = format!(":{filter_attr}_prefix");
            self.value(&placeholder, prefix.clone());
            if q.sort == sort {
                self.key_condition
                    .push_str(&format!(" AND begins_with({key_attr}, {placeholder})"));
            } else {
                self.filters
                    .push(format!("begins_with({filter_attr}, {placeholder})"));
            }
        }
    }

    /// The creation-date range: a key condition when sorting by it, filters otherwise.
    fn created(&mut self, q: &ListQuery) {
        let after = q.created_after.map(|t| t.to_string());
        let before = q.created_before.map(|t| t.to_string());
        if q.sort != SortKey::CreatedAt {
            if let Some(a) = after {
                self.value(":after", a);
                self.filters.push("created_at >= :after".into());
            }
            if let Some(b) = before {
                self.value(":before", b);
                self.filters.push("created_at < :before".into());
            }
            return;
        }
        // created_sk is `<created_at>#<id>`: comparing with the bare timestamp makes
        // created_after inclusive and created_before exclusive.
        let condition = match (after, before) {
            (Some(a), Some(b)) => {
                self.value(":after", a);
                self.value(":before", b);
                " AND created_sk BETWEEN :after AND :before"
            }
            (Some(a), None) => {
                self.value(":after", a);
                " AND created_sk >= :after"
            }
            (None, Some(b)) => {
                self.value(":before", b);
                " AND created_sk < :before"
            }
            (None, None) => "",
        };
        self.key_condition.push_str(condition);
    }

    /// One status, or every status but deleted unless deleted users are asked for.
    fn status(&mut self, q: &ListQuery) {
        let (placeholder, value, filter) = match q.status {
            Some(status) => (":status", status, "#status = :status"),
            None if !q.include_deleted => (":deleted", Status::Deleted, "#status <> :deleted"),
            None => return,
        };
        self.names.insert("#status".into(), "status".into());
        self.value(placeholder, value.as_str().to_owned());
        self.filters.push(filter.into());
    }

    fn verified(&mut self, q: &ListQuery) {
        let Some(verified) = q.email_verified else {
            return;
        };
        // Profiles written before email verification existed lack the attribute: unverified.
        self.values
            .insert(":verified".into(), AttributeValue::Bool(true));
        self.filters.push(if verified {
            "email_verified = :verified".into()
        } else {
            "NOT (email_verified = :verified)".into()
        });
    }
}

/// The users a listing has gathered so far, each with the index position it was read at.
struct Gathered {
    users: Vec<(User, Position)>,
    limit: usize,
    /// Items read (DynamoDB's ScannedCount) over every query so far.
    read: usize,
}

impl Gathered {
    fn is_full(&self) -> bool {
        self.users.len() == self.limit
    }

    /// Without filters every item read is returned; with them, read a little ahead.
    fn batch(&self, filtered: bool) -> usize {
        let want = self.limit - self.users.len();
        if filtered {
            want + want / 2 + 1
        } else {
            want
        }
    }

    fn page(self, next: Option<Position>) -> Page<User> {
        Page {
            items: self.users.into_iter().map(|(u, _)| u).collect(),
            next,
            read: self.read,
        }
    }
}

impl Store {
    /// One page of users. Reads about as many items as it returns when only the index's own
    /// key conditions apply; filters (status, `q`, other prefixes) read more, up to
    /// `READ_BUDGET`, after which the page may come back short with a cursor.
    #[tracing::instrument(skip(self, q, after), fields(sort = ?q.sort), err)]
    pub async fn list_users(
        &self,
        q: &ListQuery,
        limit: usize,
        after: Option<Position>,
    ) -> Result<Page<User>, StoreError> {
        let plan = plan(q);
        let mut gathered = Gathered {
            users: Vec::with_capacity(limit),
            limit,
            read: 0,
        };
        let mut start = after;
        loop {
            let next = self.query_directory(q, &plan, start, &mut gathered).await?;
            if gathered.is_full() {
                // The page ends at its last item, not where DynamoDB stopped reading.
                let last = gathered.users.last().map(|(_, p)| p.clone());
                return Ok(gathered.page(last));
            }
            match next {
                Some(position) if gathered.read < READ_BUDGET => start = Some(position),
                next => return Ok(gathered.page(next)),
            }
        }
    }

    /// One Query of the directory index from `start`, adding what it finds to `gathered`
    /// (up to its limit); returns where DynamoDB stopped reading.
    async fn query_directory(
        &self,
        q: &ListQuery,
        plan: &Plan,
        start: Option<Position>,
        gathered: &mut Gathered,
    ) -> Result<Option<Position>, StoreError> {
        let (index_name, sort_attr) = index(q.sort);
        let filter = (!plan.filters.is_empty()).then(|| plan.filters.join(" AND "));
        let batch = gathered.batch(filter.is_some());
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index_name)
            .key_condition_expression(&plan.key_condition)
            .set_filter_expression(filter)
            .set_expression_attribute_names(Some(plan.names.clone()).filter(|n| !n.is_empty()))
            .set_expression_attribute_values(Some(plan.values.clone()))
            .scan_index_forward(q.order == Order::Asc)
            .limit(batch as i32)
            .set_exclusive_start_key(start.map(position_to_key))
            .send()
            .await
            .map_err(StoreError::sdk(Call::new("Query directory", "profile")))?;
        gathered.read += out.scanned_count.max(0) as usize;
        for raw in out.items.unwrap_or_default() {
            if gathered.is_full() {
                break;
            }
            let item = Item(raw);
            let position = item_position(&item, sort_attr)?;
            gathered.users.push((user_from(&item)?, position));
        }
        Ok(out.last_evaluated_key.map(key_to_position))
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
