//! Session items: one per login, in the user's partition, holding only the hash of the
//! current refresh token.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

use super::item::{n, s, Item};
use super::keys;
use super::tx::{Attrs, Write};
use super::{Store, StoreError};
use crate::domain::{Timestamp, UserId};

/// A session; its `Debug` leaves the refresh token's hash out.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: UserId,
    pub refresh_hash: String,
    pub created_at: Timestamp,
    /// Unix seconds; the absolute end of the session, never extended by rotation.
    pub expires_at: i64,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl SessionRecord {
    pub fn is_live(&self, now: Timestamp) -> bool {
        // DynamoDB deletes expired items lazily (within days), so reads check for themselves.
        self.expires_at > now.unix_secs()
    }

    pub(super) fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            id: item.s("session_id")?.to_owned(),
            user_id: UserId::parse(item.s("user_id")?)
                .ok_or_else(|| StoreError::Corrupt("session user_id".into()))?,
            refresh_hash: item.s("refresh_hash")?.to_owned(),
            created_at: Timestamp::parse(item.s("created_at")?)
                .ok_or_else(|| StoreError::Corrupt("session created_at".into()))?,
            expires_at: item.n("ttl")?,
        })
    }

    fn to_item(&self) -> Attrs {
        HashMap::from([
            ("pk".to_owned(), s(keys::user_pk(self.user_id))),
            ("sk".to_owned(), s(keys::session_sk(&self.id))),
            ("session_id".to_owned(), s(&self.id)),
            ("user_id".to_owned(), s(self.user_id.to_string())),
            ("refresh_hash".to_owned(), s(&self.refresh_hash)),
            ("created_at".to_owned(), s(self.created_at.to_string())),
            ("ttl".to_owned(), n(self.expires_at)),
        ])
    }
}

fn session_key(user: UserId, session_id: &str) -> Attrs {
    HashMap::from([
        ("pk".to_owned(), s(keys::user_pk(user))),
        ("sk".to_owned(), s(keys::session_sk(session_id))),
    ])
}

/// What a rotation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// The presented token was not the current one: a replay, or a race with another use.
    Stale,
}

impl Store {
    pub(super) fn session_delete(&self, user: UserId, session_id: &str) -> Write {
        Write::delete(
            &self.table,
            session_key(user, session_id),
            None,
            HashMap::new(),
        )
    }

    pub(super) fn session_put(&self, session: &SessionRecord) -> Write {
        Write::put(
            &self.table,
            session.to_item(),
            Some("attribute_not_exists(pk)"),
            HashMap::new(),
        )
    }

    /// The session if it exists and has not expired, read consistently so that a revoked
    /// session is refused on its very next use.
    pub async fn session(
        &self,
        user: UserId,
        session_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let now = Timestamp::now();
        Ok(self
            .read(session_key(user, session_id))
            .await?
            .map(|i| SessionRecord::from_item(&i))
            .transpose()?
            .filter(|s| s.is_live(now)))
    }

    /// Swaps the refresh hash, but only if `old_hash` is still the current one.
    pub async fn rotate_refresh(
        &self,
        user: UserId,
        session_id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<Rotation, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(session_key(user, session_id)))
            .update_expression("SET refresh_hash = :new")
            .condition_expression("refresh_hash = :old")
            .expression_attribute_values(":new", s(new_hash))
            .expression_attribute_values(":old", s(old_hash))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Rotation::Rotated),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(Rotation::Stale)
            }
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    pub async fn end_session(&self, user: UserId, session_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(session_key(user, session_id)))
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(())
    }

    /// Ends the given sessions of one user in a single transaction.
    pub async fn end_sessions(
        &self,
        user: UserId,
        sessions: &[SessionRecord],
    ) -> Result<(), StoreError> {
        // MAX_SESSIONS_PER_USER is at most 100, the transaction size limit.
        for chunk in sessions.chunks(100) {
            let writes = chunk
                .iter()
                .map(|s| self.session_delete(user, &s.id))
                .collect();
            self.transact(writes)
                .await
                .map_err(|e| StoreError::Aws(e.to_string()))?;
        }
        Ok(())
    }

    /// Starts a session: the session item, the login stamp (and an upgraded password hash)
    /// on the user, the eviction of sessions over the cap, and the audit event, at once.
    /// Fails if the user was deactivated or changed its password since it was read.
    pub async fn start_session(
        &self,
        session: &SessionRecord,
        login_at: Timestamp,
        expected_hash: &str,
        rehash: Option<&str>,
        evict: &[SessionRecord],
        audit: &crate::domain::AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut values = HashMap::from([
            (":now".to_owned(), s(login_at.to_string())),
            (":active".to_owned(), s("active")),
            (":expected".to_owned(), s(expected_hash)),
        ]);
        let expression = match rehash {
            Some(h) => {
                values.insert(":hash".into(), s(h));
                "SET last_login_at = :now, password_hash = :hash"
            }
            None => "SET last_login_at = :now",
        };
        let mut writes = vec![
            self.session_put(session),
            Write::update(
                &self.table,
                super::users::profile_key(session.user_id),
                expression,
                Some("#status = :active AND password_hash = :expected"),
                HashMap::from([("#status".to_owned(), "status".to_owned())]),
                values,
            ),
        ];
        writes.extend(
            evict
                .iter()
                .map(|e| self.session_delete(session.user_id, &e.id)),
        );
        writes.push(self.audit_write(audit));
        match self.transact(writes).await {
            Ok(()) => Ok(true),
            Err(super::tx::TxError::Cancelled(_)) => Ok(false),
            Err(super::tx::TxError::Store(e)) => Err(e),
        }
    }
}

impl Store {
    /// A session and a user profile in one consistent BatchGetItem: an authenticated read of
    /// one user costs a single round trip, session check included.
    pub async fn session_and_user(
        &self,
        user: UserId,
        session_id: &str,
        target: UserId,
    ) -> Result<(Option<SessionRecord>, Option<crate::domain::User>), StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let keys = KeysAndAttributes::builder()
            .keys(session_key(user, session_id))
            .keys(super::users::profile_key(target))
            .consistent_read(true)
            .build()
            .expect("keys are set");
        let mut request = Some(HashMap::from([(self.table.clone(), keys)]));
        let (mut session, mut profile) = (None, None);
        // BatchGetItem may return some keys as unprocessed; ask again for those.
        while let Some(items) = request.take().filter(|r| !r.is_empty()) {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(items))
                .send()
                .await
                .map_err(StoreError::aws)?;
            for raw in out
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default()
            {
                let item = Item(raw);
                if item.s("sk")? == keys::PROFILE {
                    profile = Some(super::users::user_from(&item)?);
                } else {
                    session = Some(SessionRecord::from_item(&item)?);
                }
            }
            request = out.unprocessed_keys;
        }
        let now = Timestamp::now();
        Ok((session.filter(|s| s.is_live(now)), profile))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let session = SessionRecord {
            id: "s".into(),
            user_id: UserId::new(),
            refresh_hash: "cafe0123deadbeef".into(),
            created_at: Timestamp::now(),
            expires_at: 0,
        };
        assert!(!format!("{session:?}").contains("cafe0123deadbeef"));
    }
}
