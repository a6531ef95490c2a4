//! User items, their uniqueness reservations and the counters that move with them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::{n, s, Item};
use super::keys;
use super::sessions::SessionRecord;
use super::tx::{Attrs, TxError, Write};
use super::{key, Store, StoreError};
use crate::domain::{
    AuditEvent, DisplayName, Email, LoginName, PictureUrl, SessionId, Status, Timestamp, User,
    UserId, Username,
};

/// Why a user write was refused.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("email is already registered")]
    EmailTaken,
    #[error("username is already taken")]
    UsernameTaken,
    #[error("the user changed since it was read")]
    VersionMismatch,
    #[error("the last active admin cannot be removed")]
    LastAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(super) fn profile_key(id: UserId) -> Attrs {
    key(keys::user_pk(id), keys::PROFILE)
}

/// The profile keys of `ids`, each once (BatchGetItem refuses a key named twice).
pub(super) fn profile_keys(ids: &[UserId]) -> Vec<Attrs> {
    let mut keys: Vec<Attrs> = Vec::with_capacity(ids.len());
    for key in ids.iter().map(|id| profile_key(*id)) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

pub(super) fn user_item(u: &User) -> Attrs {
    let mut item = profile_key(u.id);
    let mut put = |k: &str, v: AttributeValue| {
        item.insert(k.to_owned(), v);
    };
    put("id", s(u.id.to_string()));
    put("email", s(u.email.as_str()));
    put("username", s(u.username.as_str()));
    put("status", s(u.status.as_str()));
    put("is_admin", AttributeValue::Bool(u.is_admin));
    put("created_at", s(u.created_at.to_string()));
    put("updated_at", s(u.updated_at.to_string()));
    put("version", n(u.version));
    put("authority", n(u.authority));
    // Directory index keys: one partition, sort keys that make each sort order a Query.
    put("dir", s(keys::DIRECTORY));
    put("created_sk", s(format!("{}#{}", u.created_at, u.id)));
    // \u{1} sorts below every character a display name may hold (no control characters),
    // so the index orders by (name, id) exactly.
    let name = u
        .display_name
        .as_ref()
        .map_or(String::new(), |d| d.as_str().to_lowercase());
    put("name_sk", s(format!("{name}\u{1}{}", u.id)));
    // `q` searches one lowercased attribute: a filter may not name the index's own key
    // (email or username, when sorting by them), and one `contains` is cheaper than three.
    put(
        "search_text",
        s(format!("{}\u{1}{}\u{1}{name}", u.email, u.username)),
    );
    if let Some(d) = &u.display_name {
        put("display_name", s(d.as_str()));
        put("name_lc", s(name));
    }
    if let Some(p) = &u.profile_picture_url {
        put("profile_picture_url", s(p.as_str()));
    }
    if let Some(t) = u.last_login_at {
        put("last_login_at", s(t.to_string()));
    }
    if let Some(h) = &u.password_hash {
        put("password_hash", s(h));
    }
    item
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("user item has an invalid {what}"))
}

pub(super) fn user_from(item: &Item) -> Result<User, StoreError> {
    let ts = |name: &str| -> Result<Timestamp, StoreError> {
        Timestamp::parse(item.s(name)?).ok_or_else(|| corrupt(name))
    };
    let opt_ts = |name: &str| item.opt_s(name).and_then(Timestamp::parse);
    // Anonymised users hold placeholders that are not valid input, so stored values are
    // trusted as written rather than re-validated.
    Ok(User {
        id: UserId::parse(item.s("id")?).ok_or_else(|| corrupt("id"))?,
        email: Email::from_store(item.s("email")?),
        username: Username::from_store(item.s("username")?),
        display_name: item.opt_s("display_name").map(DisplayName::from_store),
        profile_picture_url: item
            .opt_s("profile_picture_url")
            .map(PictureUrl::from_store),
        status: item.s("status")?.parse().map_err(|_| corrupt("status"))?,
        is_admin: item.bool("is_admin"),
        created_at: ts("created_at")?,
        updated_at: ts("updated_at")?,
        last_login_at: opt_ts("last_login_at"),
        version: item.n("version")?,
        password_hash: item.opt_s("password_hash").map(str::to_owned),
        // Items written before authority versions existed hold none: version 0.
        authority: item.opt_n("authority").unwrap_or(0),
    })
}

fn reservation_item(pk_sk: (String, String), id: UserId) -> Attrs {
    let mut item = key(pk_sk.0, pk_sk.1);
    item.insert("user_id".into(), s(id.to_string()));
    item
}

/// Counts by status (and of active admins) that a change of one user moves.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Deltas {
    active: i64,
    inactive: i64,
    deleted: i64,
    active_admins: i64,
}

impl Deltas {
    fn between(before: Option<&User>, after: Option<&User>) -> Self {
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
            }
        }
        d
    }

    fn is_zero(self) -> bool {
        self == Deltas::default()
    }
}

impl Store {
    fn counter_write(&self, d: Deltas) -> Write {
        let mut parts = Vec::new();
        let mut values = Attrs::new();
        for (name, v) in [
            ("active", d.active),
            ("inactive", d.inactive),
            ("deleted", d.deleted),
            ("active_admins", d.active_admins),
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
            key(keys::COUNTERS, keys::STATUS_COUNTS),
            &format!("ADD {}", parts.join(", ")),
            condition,
            HashMap::new(),
            values,
        )
    }

    fn signup_write(&self, created_at: Timestamp) -> Write {
        let (year, month) = created_at.year_month();
        Write::update(
            &self.table,
            key(keys::COUNTERS, keys::signups_sk(year)),
            &format!("ADD m{month} :one"),
            None,
            HashMap::new(),
            HashMap::from([(":one".to_owned(), n(1))]),
        )
    }

    pub(super) fn audit_write(&self, event: &AuditEvent) -> Write {
        Write::put(
            &self.table,
            super::audit::audit_item(event),
            None,
            HashMap::new(),
        )
    }

    /// Creates a user with its reservations, counters and audit event, all or nothing.
    pub async fn create_user(&self, user: &User, audit: &AuditEvent) -> Result<(), WriteError> {
        let not_exists = Some("attribute_not_exists(pk)");
        let writes = vec![
            Write::put(&self.table, user_item(user), not_exists, HashMap::new()),
            Write::put(
                &self.table,
                reservation_item(keys::email(&user.email), user.id),
                not_exists,
                HashMap::new(),
            ),
            Write::put(
                &self.table,
                reservation_item(keys::username(&user.username), user.id),
                not_exists,
                HashMap::new(),
            ),
            self.counter_write(Deltas::between(None, Some(user))),
            self.signup_write(user.created_at),
            self.audit_write(audit),
        ];
        self.transact(writes).await.map_err(|e| match e {
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
    pub async fn save_user(
        &self,
        before: &User,
        after: Option<&User>,
        audit: &AuditEvent,
        keep: Option<&SessionId>,
    ) -> Result<(), WriteError> {
        let version = HashMap::from([(":v".to_owned(), n(before.version))]);
        let guard = Some("version = :v");
        let after = after.map(|a| User {
            authority: before.authority_after(a),
            ..a.clone()
        });
        let after = after.as_ref();
        let mut writes = vec![match after {
            Some(after) => Write::put(&self.table, user_item(after), guard, version),
            None => Write::delete(&self.table, profile_key(before.id), guard, version),
        }];
        let mut email_at = None;
        let mut username_at = None;
        let owned = Some("user_id = :id");
        let id_value = || HashMap::from([(":id".to_owned(), s(before.id.to_string()))]);
        let new_email = after.map(|a| &a.email).filter(|e| **e != before.email);
        let new_username = after
            .map(|a| &a.username)
            .filter(|u| **u != before.username);
        if after.is_none() || new_email.is_some() {
            let (pk, sk) = keys::email(&before.email);
            writes.push(Write::delete(&self.table, key(pk, sk), owned, id_value()));
        }
        if let Some(email) = new_email {
            email_at = Some(writes.len());
            let item = reservation_item(keys::email(email), before.id);
            writes.push(Write::put(
                &self.table,
                item,
                Some("attribute_not_exists(pk)"),
                HashMap::new(),
            ));
        }
        if after.is_none() || new_username.is_some() {
            let (pk, sk) = keys::username(&before.username);
            writes.push(Write::delete(&self.table, key(pk, sk), owned, id_value()));
        }
        if let Some(username) = new_username {
            username_at = Some(writes.len());
            let item = reservation_item(keys::username(username), before.id);
            writes.push(Write::put(
                &self.table,
                item,
                Some("attribute_not_exists(pk)"),
                HashMap::new(),
            ));
        }
        let deltas = Deltas::between(Some(before), after);
        let mut counter_at = None;
        if !deltas.is_zero() {
            counter_at = Some(writes.len());
            writes.push(self.counter_write(deltas));
        }
        if let (Some(session), Some(after)) = (keep, after) {
            writes.push(self.session_carry(before.id, session, after.authority));
        }
        writes.push(self.audit_write(audit));
        self.transact(writes).await.map_err(|e| match e {
            e if email_at.is_some_and(|i| e.failed_at(i)) => WriteError::EmailTaken,
            e if username_at.is_some_and(|i| e.failed_at(i)) => WriteError::UsernameTaken,
            e if counter_at.is_some_and(|i| e.failed_at(i)) => WriteError::LastAdmin,
            TxError::Cancelled(_) => WriteError::VersionMismatch,
            TxError::Store(e) => WriteError::Store(e),
        })
    }

    /// The user, read consistently.
    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.read(profile_key(id))
            .await?
            .map(|i| user_from(&i))
            .transpose()
    }

    /// The users of `ids` that exist, in one consistent BatchGetItem.
    #[tracing::instrument(skip(self), err)]
    pub async fn users(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let keys = profile_keys(ids);
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.read_many(keys).await?.iter().map(user_from).collect()
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
            .expression_attribute_values(":pk", s(keys::user_pk(id)))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        let mut user = None;
        let mut sessions = Vec::new();
        for raw in items {
            let item = Item(raw.map_err(StoreError::aws)?);
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
    pub async fn reserved_by(&self, identifier: &LoginName) -> Result<Option<UserId>, StoreError> {
        let (pk, sk) = match identifier {
            LoginName::Email(e) => keys::email(e),
            LoginName::Username(u) => keys::username(u),
        };
        Ok(self
            .read(key(pk, sk))
            .await?
            .and_then(|i| i.opt_s("user_id").and_then(UserId::parse)))
    }
}

impl Store {
    /// The user holding `email`, through the `email-index` GSI (eventually consistent: for
    /// lookups, not for deciding uniqueness).
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
            .map_err(StoreError::aws)?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(|i| user_from(&Item(i)))
            .transpose()
    }
}
