//! The counter items: users by status (and active admins, and verified emails), signups per
//! month of a year.

use super::item::Item;
use super::keys;
use super::{Store, StoreError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatusCounts {
    pub total: i64,
    pub active: i64,
    pub inactive: i64,
    pub deleted: i64,
    /// Users (of `total`) whose email is verified.
    pub email_verified: i64,
    #[serde(skip)]
    pub active_admins: i64,
}

impl StatusCounts {
    /// The counts the status counters item holds (zeros for an absent one).
    pub(super) fn from_item(item: &Item) -> Self {
        let get = |name: &str| item.opt_n::<i64>(name).unwrap_or(0);
        let (active, inactive, deleted) = (get("active"), get("inactive"), get("deleted"));
        Self {
            total: active + inactive + deleted,
            active,
            inactive,
            deleted,
            email_verified: get("email_verified"),
            active_admins: get("active_admins"),
        }
    }
}

/// The monthly counts a signup counter item holds (index 0 is January; zeros where absent).
pub(super) fn signups_from(item: &Item) -> [i64; 12] {
    std::array::from_fn(|m| item.opt_n::<i64>(&format!("m{}", m + 1)).unwrap_or(0))
}

impl Store {
    /// One consistent read: the counters move in the same transactions as the users.
    pub async fn status_counts(&self) -> Result<StatusCounts, StoreError> {
        let item = self
            .read("status counters", keys::status_counts())
            .await?
            .unwrap_or_default();
        Ok(StatusCounts::from_item(&item))
    }

    /// Signups per month (index 0 is January) of `year`; zeros for a year with none.
    pub async fn signups(&self, year: i32) -> Result<[i64; 12], StoreError> {
        let item = self
            .read("signup counters", keys::signups(year))
            .await?
            .unwrap_or_default();
        Ok(signups_from(&item))
    }
}
