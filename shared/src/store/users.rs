//! User items, their uniqueness reservations and the counters that move with them.

use std::collections::HashMap;

use super::item::{n, s, Attrs, Item};
use super::keys::{self, Key};
use super::profiles::{reservation_item, user_from, user_item};
use super::sessions::SessionRecord;
use super::tx::{TxError, Write};
use super::{Call, Store, StoreError};
use crate::domain::tokens::TokenRecord;
use crate::domain::{AuditEvent, Email, LoginName, SessionId, Status, Timestamp, User, UserId};

/// Why a user write was refused.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("email is already registered")]
    EmailTaken,
    #[error("username is already taken")]
    UsernameTaken,
    #[error("a user with this id exists already")]
    IdTaken,
    #[error("the user changed since it was read")]
    VersionMismatch,
    #[error("the last active admin cannot be removed")]
    LastAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts by status (and of active admins) that a change of one user moves.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Deltas {
    active: i64,
    inactive: i64,
    deleted: i64,
    active_admins: i64,
    email_verified: i64,
}

impl Deltas {
    pub(super) fn between(before: Option<&User>, after: Option<&User>) -> Self {
        let mut d = Deltas::default();
        for (user, sign) in [(before, -1), (after, 1)] {
            if let Some(u) = user {
                match u.status {
                    Status::Active => d.active += sign,
                    Status::Inactive => d.inactive += sign,
                    Status::Deleted => d.deleted += sign,
                }
                if u.is_active_admin() {
                    d.active_admins += sign;
                }
                if u.email_verified {
                    d.email_verified += sign;
                }
            }
        }
        d
    }

    pub(super) fn is_zero(self) -> bool {
        self == Deltas::default()
    }

    pub(super) fn plus(self, other: Deltas) -> Self {
        Self {
            active: self.active + other.active,
            inactive: self.inactive + other.inactive,
            deleted: self.deleted + other.deleted,
            active_admins: self.active_admins + other.active_admins,
            email_verified: self.email_verified + other.email_verified,
        }
    }
}

impl Store {
    pub(super) fn counter_write(&self, d: Deltas) -> Write {
        let mut parts = Vec::new();
        let mut values = Attrs::new();
        for (name, v) in [
            ("active", d.active),
            ("inactive", d.inactive),
            ("deleted", d.deleted),
            ("active_admins", d.active_admins),
            ("email_verified", d.email_verified),
        ] {
            if v != 0 {
                parts.push(format!("{name} :{name}"));
                values.insert(format!(":{name}"), n(v));
            }
        }
        // Removing an active admin must leave one: the condition makes the check atomic
        // with the change, so two admins demoting each other cannot both succeed.
        let condition = (d.active_admins < 0).then(|| {
            values.insert(":min_admins".into(), n(1 - d.active_admins));
            "active_admins >= :min_admins"
        });
        Write::update(
            &self.table,
            keys::status_counts(),
            &format!("ADD {}", parts.join(", ")),
            condition,
            HashMap::new(),
            values,
        )
    }

    fn signup_write(&self, created_at: Timestamp) -> Write {
        let (year, month) = created_at.year_month();
        self.signups_write(year, &[(month, 1)])
    }

    /// Adds `count` signups to each `(month, count)` of `year`'s counter item.
    pub(super) fn signups_write(&self, year: i32, months: &[(u32, i64)]) -> Write {
        let adds: Vec<String> = months.iter().map(|(m, _)| format!("m{m} :m{m}")).collect();
        let values = months
            .iter()
            .map(|(m, count)| (format!(":m{m}"), n(count)))
            .collect();
        Write::update(
            &self.table,
            keys::signups(year),
            &format!("ADD {}", adds.join(", ")),
            None,
            HashMap::new(),
            values,
        )
    }

    /// The puts of a new user's `profile` item and its two reservations, in this order, each
    /// failing if its item exists.
    pub(super) fn new_user_writes(&self, profile: Attrs, user: &User) -> [Write; 3] {
        let not_exists = Some("attribute_not_exists(pk)");
        let put = |item| Write::put(&self.table, item, not_exists, HashMap::new());
        [
            put(profile),
            put(reservation_item(keys::email(&user.email), user.id)),
            put(reservation_item(keys::username(&user.username), user.id)),
        ]
    }

    /// Creates a user with its reservations, counters and audit event, and the one-time
    /// link its first mail carries (if any), all or nothing.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn create_user(
        &self,
        user: &User,
        audit: &AuditEvent,
        link: Option<&TokenRecord>,
    ) -> Result<(), WriteError> {
        let mut writes = Vec::from(self.new_user_writes(user_item(user), user));
        writes.extend([
            self.counter_write(Deltas::between(None, Some(user))),
            self.signup_write(user.created_at),
            self.audit_write(audit),
        ]);
        // Last, so that the positions the cancellation reasons are read at stay put.
        writes.extend(link.into_iter().flat_map(|t| self.token_writes(t)));
        self.transact("user", writes).await.map_err(|e| match e {
            e if e.failed_at(1) => WriteError::EmailTaken,
            e if e.failed_at(2) => WriteError::UsernameTaken,
            TxError::Cancelled(_) => WriteError::VersionMismatch,
            TxError::Store(e) => WriteError::Store(e),
        })
    }

    /// Replaces `before` with `after` (whose version must be `before.version + 1`), moving
    /// reservations and counters and recording `audit`; or, when `after` is `None`, erases
    /// the user and its reservations.
    ///
    /// Whatever `after.authority` says, the item is written with `before.authority_after`:
    /// every change of admin rights, status or password bumps it here, in the one write path
    /// of users, which ends every session at once without touching them (so the transaction
    /// stays small whatever the number of sessions). `keep` is a session that moves to the new
    /// authority in the same transaction (the one changing its own password).
    #[tracing::instrument(skip_all, fields(user = %before.id, erase = after.is_none()))]
    pub async fn save_user(
        &self,
        before: &User,
        after: Option<&User>,
        audit: &AuditEvent,
        keep: Option<&SessionId>,
    ) -> Result<(), WriteError> {
        let after = after.map(|a| User {
            authority: before.authority_after(a),
            ..a.clone()
        });
        let after = after.as_ref();
        let mut writes = vec![self.profile_write(before, after)];
        let email_at = self.move_reservation(
            &mut writes,
            before.id,
            keys::email(&before.email),
            after
                .map(|a| &a.email)
                .filter(|e| **e != before.email)
                .map(keys::email),
            after.is_none(),
        );
        let username_at = self.move_reservation(
            &mut writes,
            before.id,
            keys::username(&before.username),
            after
                .map(|a| &a.username)
                .filter(|u| **u != before.username)
                .map(keys::username),
            after.is_none(),
        );
        let deltas = Deltas::between(Some(before), after);
        let counter_at = (!deltas.is_zero()).then(|| {
            writes.push(self.counter_write(deltas));
            writes.len() - 1
        });
        if let (Some(session), Some(after)) = (keep, after) {
            writes.push(self.session_carry(before.id, session, after.authority));
        }
        writes.push(self.audit_write(audit));
        self.transact("user", writes).await.map_err(|e| match e {
            e if email_at.is_some_and(|i| e.failed_at(i)) => WriteError::EmailTaken,
            e if username_at.is_some_and(|i| e.failed_at(i)) => WriteError::UsernameTaken,
            e if counter_at.is_some_and(|i| e.failed_at(i)) => WriteError::LastAdmin,
            TxError::Cancelled(_) => WriteError::VersionMismatch,
            TxError::Store(e) => WriteError::Store(e),
        })
    }

    /// The profile's new state (or its deletion), on condition that it is still `before`.
    fn profile_write(&self, before: &User, after: Option<&User>) -> Write {
        let version = HashMap::from([(":v".to_owned(), n(before.version))]);
        let guard = Some("version = :v");
        match after {
            Some(after) => Write::put(&self.table, user_item(after), guard, version),
            None => Write::delete(&self.table, keys::profile(before.id), guard, version),
        }
    }

    /// Gives up the reservation `old` (when the value changes or the user is erased) and
    /// takes `new`. Returns the index of the write that fails when `new` is taken.
    fn move_reservation(
        &self,
        writes: &mut Vec<Write>,
        user: UserId,
        old: Key,
        new: Option<Key>,
        erase: bool,
    ) -> Option<usize> {
        if erase || new.is_some() {
            let owned = HashMap::from([(":id".to_owned(), s(user.to_string()))]);
            writes.push(Write::delete(
                &self.table,
                old,
                Some("user_id = :id"),
                owned,
            ));
        }
        let new = new?;
        writes.push(Write::put(
            &self.table,
            reservation_item(new, user),
            Some("attribute_not_exists(pk)"),
            HashMap::new(),
        ));
        Some(writes.len() - 1)
    }

    /// The user, read consistently.
    #[tracing::instrument(skip(self), err)]
    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.read_as("profile", keys::profile(id), user_from).await
    }

    /// The users of `ids` that exist, in one consistent BatchGetItem.
    #[tracing::instrument(skip(self), err)]
    pub async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let keys = keys::profiles(ids);
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.read_many("profile", keys)
            .await?
            .iter()
            .map(user_from)
            .collect()
    }

    /// The user and every session item it has (live or not), in one consistent Query of its
    /// partition (one page, unless old sessions pile up past 1 MB).
    #[tracing::instrument(skip(self), err)]
    pub async fn user_with_sessions(
        &self,
        id: UserId,
    ) -> Result<Option<(User, Vec<SessionRecord>)>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::user_partition(id)))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        let mut user = None;
        let mut sessions = Vec::new();
        for raw in items {
            let item = Item(raw.map_err(StoreError::sdk(Call::new("Query", "user partition")))?);
            match item.s("sk")? {
                keys::PROFILE => user = Some(user_from(&item)?),
                sk if sk.starts_with(keys::SESSION_PREFIX) => {
                    sessions.extend(SessionRecord::from_item(&item)?);
                }
                _ => {}
            }
        }
        Ok(user.map(|u| (u, sessions)))
    }

    /// The owner of a reserved email or username, read consistently (so a login right
    /// after registering sees it, which the eventually consistent GSI would not promise).
    #[tracing::instrument(skip_all, err)]
    pub async fn reserved_by(&self, identifier: &LoginName) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .read("reservation", keys::login_name(identifier))
            .await?
            .and_then(|i| i.opt_s("user_id").and_then(UserId::parse)))
    }
}

impl Store {
    /// The user holding `email`, through the `email-index` GSI (eventually consistent: for
    /// lookups, not for deciding uniqueness).
    #[tracing::instrument(skip_all, err)]
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("email-index")
            .key_condition_expression("email = :email")
            .expression_attribute_values(":email", s(email.as_str()))
            .limit(1)
            .send()
            .await
            .map_err(StoreError::sdk(Call::new("Query email-index", "profile")))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(|i| user_from(&Item(i)))
            .transpose()
    }
}
