//! The parallel Scan behind exports: one task per segment, each paging through its part of
//! the table and handing user profiles, one at a time, to a bounded channel. The bound is
//! what keeps an export's memory flat: a slow reader stops the scans instead of buffering.

use std::collections::HashMap;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::item::{s, Item};
use super::keys;
use super::profiles::user_from;
use super::{Call, Store, StoreError};
use crate::domain::export::ExportFilters;
use crate::domain::{Status, User};

/// Rows in flight between the scans and the reader.
const CHANNEL_ROWS: usize = 1024;

/// The attributes a scanned user is read with: the profile, never the password hash.
const PROFILE_ATTRIBUTES: [&str; 12] = [
    "id",
    "email",
    "username",
    "display_name",
    "profile_picture_url",
    "status",
    "is_admin",
    "email_verified",
    "created_at",
    "updated_at",
    "last_login_at",
    "version",
];

/// A Scan's filter (only user profiles, narrowed by the export's filters) and projection.
#[derive(Debug, Clone)]
struct ScanFilter {
    expression: String,
    projection: String,
    names: HashMap<String, String>,
    values: HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
}

impl ScanFilter {
    fn of(filters: &ExportFilters) -> Self {
        let mut names: HashMap<String, String> = PROFILE_ATTRIBUTES
            .iter()
            .map(|a| (format!("#{a}"), (*a).to_owned()))
            .collect();
        names.insert("#pk".into(), "pk".into());
        names.insert("#sk".into(), "sk".into());
        let mut values = HashMap::from([
            (":profile".to_owned(), s(keys::PROFILE)),
            (":user".to_owned(), s(keys::USER_PREFIX)),
        ]);
        let mut terms = vec!["#sk = :profile", "begins_with(#pk, :user)"];
        match filters.status {
            Some(status) => {
                terms.push("#status = :status");
                values.insert(":status".into(), s(status.as_str()));
            }
            None => {
                terms.push("#status <> :status");
                values.insert(":status".into(), s(Status::Deleted.as_str()));
            }
        }
        if let Some(t) = filters.created_after {
            // Stored timestamps share one fixed-width UTC format, so strings order as times.
            terms.push("#created_at >= :after");
            values.insert(":after".into(), s(t.to_string()));
        }
        if let Some(t) = filters.created_before {
            terms.push("#created_at < :before");
            values.insert(":before".into(), s(t.to_string()));
        }
        if let Some(prefix) = &filters.email {
            terms.push("begins_with(#email, :email)");
            values.insert(":email".into(), s(prefix));
        }
        let projection = PROFILE_ATTRIBUTES
            .iter()
            .map(|a| format!("#{a}"))
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            expression: terms.join(" AND "),
            projection,
            names,
            values,
        }
    }
}

/// The users of a running parallel Scan, in no particular order. Dropping it stops the scans.
pub struct UserScan {
    rows: mpsc::Receiver<Result<User, StoreError>>,
    segments: JoinSet<()>,
}

impl UserScan {
    /// The next user; `None` once every segment has been read to its end.
    pub async fn next(&mut self) -> Option<Result<User, StoreError>> {
        if let Some(row) = self.rows.recv().await {
            return Some(row);
        }
        // Every segment has dropped its sender. One that panicked did so without
        // reporting, and its missing rows must not pass for a complete scan.
        while let Some(joined) = self.segments.join_next().await {
            if let Err(e) = joined {
                return Some(Err(StoreError::failed(Call::new("Scan", "profile"), e)));
            }
        }
        None
    }
}

impl Store {
    /// Starts a parallel Scan of the user profiles that match `filters`, in `segments`
    /// segments (at least one).
    pub fn scan_users(&self, filters: &ExportFilters, segments: u32) -> UserScan {
        let segments = segments.max(1);
        let filter = ScanFilter::of(filters);
        let (tx, rows) = mpsc::channel(CHANNEL_ROWS);
        let mut tasks = JoinSet::new();
        for segment in 0..segments {
            let store = self.clone();
            let filter = filter.clone();
            let tx = tx.clone();
            tasks.spawn(async move { store.scan_segment(filter, segment, segments, tx).await });
        }
        UserScan {
            rows,
            segments: tasks,
        }
    }

    /// Reads one segment to its end, or until the reader goes away.
    async fn scan_segment(
        self,
        filter: ScanFilter,
        segment: u32,
        total: u32,
        tx: mpsc::Sender<Result<User, StoreError>>,
    ) {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment as i32)
            .total_segments(total as i32)
            .filter_expression(filter.expression)
            .projection_expression(filter.projection)
            .set_expression_attribute_names(Some(filter.names))
            .set_expression_attribute_values(Some(filter.values))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let items = match page {
                Ok(out) => out.items.unwrap_or_default(),
                Err(e) => {
                    let call = Call::new("Scan", "profile");
                    let _ = tx.send(Err(StoreError::sdk(call)(e))).await;
                    return;
                }
            };
            for raw in items {
                if tx.send(user_from(&Item(raw))).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    /// DynamoDB refuses a request with a name or value its expressions do not use.
    fn assert_all_used(f: &ScanFilter) {
        for name in f.names.keys() {
            assert!(
                f.expression.contains(name.as_str()) || f.projection.contains(name.as_str()),
                "{name} unused"
            );
        }
        for value in f.values.keys() {
            assert!(f.expression.contains(value.as_str()), "{value} unused");
        }
    }

    #[test]
    fn no_status_means_everything_but_deleted() {
        let f = ScanFilter::of(&ExportFilters::default());
        assert_eq!(
            f.expression,
            "#sk = :profile AND begins_with(#pk, :user) AND #status <> :status"
        );
        assert_eq!(f.values[":status"], s("deleted"));
        assert!(!f.projection.contains("password_hash"));
        assert_all_used(&f);
    }

    #[test]
    fn every_filter_narrows_the_scan() {
        let f = ScanFilter::of(&ExportFilters {
            status: Some(Status::Deleted),
            created_after: Timestamp::parse("2026-01-01T00:00:00Z"),
            created_before: Timestamp::parse("2026-02-01T00:00:00Z"),
            email: Some("ann".into()),
        });
        for term in [
            "#status = :status",
            "#created_at >= :after",
            "#created_at < :before",
            "begins_with(#email, :email)",
        ] {
            assert!(f.expression.contains(term), "{term} in {}", f.expression);
        }
        assert_eq!(f.values[":after"], s("2026-01-01T00:00:00.000Z"));
        assert_all_used(&f);
    }
}
