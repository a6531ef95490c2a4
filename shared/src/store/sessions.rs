//! Session items: one per login, in the user's partition, keyed by the slot it holds (see
//! `domain::session`), holding only the hash of the current refresh token and the
//! authority version of the user it was created under.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};

use super::error::is_condition_failed;
use super::item::{n, s, Attrs, Item};
use super::keys;
use super::profiles::user_from;
use super::rate_limits::Reservation;
use super::tx::{TxError, Write};
use super::{Call, Store, StoreError};
use crate::domain::{AuditEvent, SessionId, Status, Timestamp, User, UserId};

/// A login gives back at most this many sessions left in slots past the cap (from a larger
/// MAX_SESSIONS_PER_USER), so its transaction stays far below DynamoDB's 100 actions; the
/// rest go with later logins, or with their TTL.
const EVICTIONS_PER_LOGIN: usize = 50;

/// How many session deletes a sweep keeps in flight.
const SWEEP_CONCURRENCY: usize = 16;

/// A session; its `Debug` leaves the refresh token's hash out.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub refresh_hash: String,
    pub created_at: Timestamp,
    /// Unix seconds; the absolute end of the session, never extended by rotation.
    pub expires_at: i64,
    /// The user's authority version when the session was created (or carried over).
    pub authority: u64,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

impl SessionRecord {
    pub fn is_live(&self, now: Timestamp) -> bool {
        // DynamoDB deletes expired items lazily (within days), so reads check for themselves.
        self.expires_at > now.unix_secs()
    }

    /// Whether this session still speaks for `user`: not expired, and made under the user's
    /// current authority by an active account. A change of admin rights, status or password
    /// bumps the authority, so every session made before it is refused from then on.
    pub fn admits(&self, user: &User, now: Timestamp) -> bool {
        self.is_live(now)
            && self.user_id == user.id
            && self.authority == user.authority
            && user.status == Status::Active
    }

    /// `None` for a session item from before slotted ids, which no token can name any more.
    pub(super) fn from_item(item: &Item) -> Result<Option<Self>, StoreError> {
        let Some(id) = SessionId::parse(item.s("session_id")?) else {
            return Ok(None);
        };
        Ok(Some(Self {
            id,
            user_id: UserId::parse(item.s("user_id")?)
                .ok_or_else(|| StoreError::Corrupt("session user_id".into()))?,
            refresh_hash: item.s("refresh_hash")?.to_owned(),
            created_at: Timestamp::parse(item.s("created_at")?)
                .ok_or_else(|| StoreError::Corrupt("session created_at".into()))?,
            expires_at: item.n("ttl")?,
            authority: item.opt_n("authority").unwrap_or(0),
        }))
    }

    fn to_item(&self) -> Attrs {
        let mut item = keys::session(self.user_id, &self.id);
        item.extend([
            ("session_id".to_owned(), s(self.id.to_string())),
            ("user_id".to_owned(), s(self.user_id.to_string())),
            ("refresh_hash".to_owned(), s(&self.refresh_hash)),
            ("created_at".to_owned(), s(self.created_at.to_string())),
            ("ttl".to_owned(), n(self.expires_at)),
            ("authority".to_owned(), n(self.authority)),
        ]);
        item
    }
}

/// The condition and values that hold only while the slot still holds `session` (another
/// login may have taken the slot since it was read).
fn holds(session: &SessionId) -> (&'static str, Attrs) {
    (
        "session_id = :sid",
        HashMap::from([(":sid".to_owned(), s(session.to_string()))]),
    )
}

/// What a rotation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// The presented token was not the current one: a replay, or a race with another use.
    Stale,
}

impl Store {
    /// Moves the session to the user's new authority, while it still holds its slot.
    pub(super) fn session_carry(&self, user: UserId, session: &SessionId, authority: u64) -> Write {
        let (condition, mut values) = holds(session);
        values.insert(":authority".into(), n(authority));
        Write::update(
            &self.table,
            keys::session(user, session),
            "SET authority = :authority",
            Some(condition),
            HashMap::new(),
            values,
        )
    }

    /// The session if its slot still holds it and it has not expired, read consistently so
    /// that a revoked session is refused on its very next use.
    #[tracing::instrument(skip(self), err)]
    pub async fn session(
        &self,
        user: UserId,
        session: &SessionId,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let now = Timestamp::now();
        let found = self
            .read_as(
                "session",
                keys::session(user, session),
                SessionRecord::from_item,
            )
            .await?;
        Ok(found
            .flatten()
            .filter(|r| r.id == *session && r.is_live(now)))
    }

    /// A session and user profiles in one consistent BatchGetItem: a request's session
    /// check and the users it needs (its own, to decide its role; the one it reads) cost a
    /// single round trip.
    #[tracing::instrument(skip(self), err)]
    pub async fn session_and_users(
        &self,
        user: UserId,
        session: &SessionId,
        profiles: &[UserId],
    ) -> Result<(Option<SessionRecord>, Vec<User>), StoreError> {
        let mut wanted = vec![keys::session(user, session)];
        wanted.extend(keys::profiles(profiles));
        let (mut found, mut users) = (None, Vec::new());
        for item in self.read_many("session and profile", wanted).await? {
            if item.s("sk")? == keys::PROFILE {
                users.push(user_from(&item)?);
            } else {
                found = SessionRecord::from_item(&item)?;
            }
        }
        let now = Timestamp::now();
        Ok((found.filter(|r| r.id == *session && r.is_live(now)), users))
    }

    /// Swaps the refresh hash, but only if `old_hash` is still the current one.
    #[tracing::instrument(skip(self, old_hash, new_hash), err)]
    pub async fn rotate_refresh(
        &self,
        user: UserId,
        session: &SessionId,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<Rotation, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::session(user, session)))
            .update_expression("SET refresh_hash = :new")
            .condition_expression("refresh_hash = :old")
            .expression_attribute_values(":new", s(new_hash))
            .expression_attribute_values(":old", s(old_hash))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Rotation::Rotated),
            Err(e) if is_condition_failed(&e) => Ok(Rotation::Stale),
            Err(e) => Err(StoreError::sdk(Call::new("UpdateItem", "session"))(e)),
        }
    }

    /// Ends the session, unless its slot already holds another one.
    #[tracing::instrument(skip(self), err)]
    pub async fn end_session(&self, user: UserId, session: &SessionId) -> Result<(), StoreError> {
        let (condition, values) = holds(session);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::session(user, session)))
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Err(e) if !is_condition_failed(&e) => {
                Err(StoreError::sdk(Call::new("DeleteItem", "session"))(e))
            }
            _ => Ok(()),
        }
    }

    /// Ends the given sessions of one user, each with its own conditional delete (a slot
    /// taken by a newer login since it was read keeps it), a bounded number at a time.
    #[tracing::instrument(skip(self, sessions), fields(count = sessions.len()), err)]
    pub async fn end_sessions(
        &self,
        user: UserId,
        sessions: &[SessionRecord],
    ) -> Result<(), StoreError> {
        // The futures are made before they are streamed: a closure in the stream would make
        // the handlers' futures fail the higher-ranked `Send` check axum asks for.
        let ends: Vec<_> = sessions
            .iter()
            .map(|s| self.end_session(user, &s.id))
            .collect();
        futures::stream::iter(ends)
            .buffer_unordered(SWEEP_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Starts a session: the session item in its slot (overwriting whatever held it), the
    /// login stamp (and an upgraded password hash) on the user, the eviction of sessions in
    /// slots past the cap, the audit event, and the return of the login's reservation, at
    /// once. `false` if the user's authority or status changed since it was read: a session
    /// is never created under an authority that no longer holds.
    #[tracing::instrument(skip_all, fields(user = %session.user_id), err)]
    pub async fn start_session(
        &self,
        session: &SessionRecord,
        rehash: Option<&str>,
        evict: &[SessionRecord],
        audit: &AuditEvent,
        reservation: &Reservation,
    ) -> Result<bool, StoreError> {
        let mut values = HashMap::from([
            (":now".to_owned(), s(session.created_at.to_string())),
            (":active".to_owned(), s("active")),
            (":authority".to_owned(), n(session.authority)),
        ]);
        let expression = match rehash {
            Some(h) => {
                values.insert(":hash".into(), s(h));
                "SET last_login_at = :now, password_hash = :hash"
            }
            None => "SET last_login_at = :now",
        };
        // Users written before authority versions existed have none: version 0.
        let condition = if session.authority == 0 {
            "#status = :active AND (attribute_not_exists(authority) OR authority = :authority)"
        } else {
            "#status = :active AND authority = :authority"
        };
        let mut writes = vec![
            Write::put(&self.table, session.to_item(), None, HashMap::new()),
            Write::update(
                &self.table,
                keys::profile(session.user_id),
                expression,
                Some(condition),
                HashMap::from([("#status".to_owned(), "status".to_owned())]),
                values,
            ),
            self.audit_write(audit),
            self.release_write(reservation),
        ];
        writes.extend(evict.iter().take(EVICTIONS_PER_LOGIN).map(|e| {
            Write::delete(
                &self.table,
                keys::session(e.user_id, &e.id),
                None,
                HashMap::new(),
            )
        }));
        match self.transact("session", writes).await {
            Ok(()) => Ok(true),
            Err(TxError::Cancelled(_)) => Ok(false),
            Err(TxError::Store(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let session = SessionRecord {
            id: SessionId::new(0),
            user_id: UserId::new(),
            refresh_hash: "cafe0123deadbeef".into(),
            created_at: Timestamp::now(),
            expires_at: 0,
            authority: 1,
        };
        assert!(!format!("{session:?}").contains("cafe0123deadbeef"));
    }
}
