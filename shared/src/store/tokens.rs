//! One-time tokens: an item per token (`TOKEN#<hash>`), and per user and purpose a pointer
//! to the newest one (`TOKENS#<user>` / `<purpose>`). A token works while its item exists,
//! has not expired and is still the one its pointer names; redeeming deletes both in one
//! conditional transaction, so it succeeds exactly once.

use std::collections::HashMap;

use super::item::{n, s, Attrs, Item};
use super::keys;
use super::tx::{TxError, Write};
use super::{Call, Store, StoreError};
use crate::domain::tokens::{TokenKind, TokenRecord};
use crate::domain::{Timestamp, UserId};

fn token_item(t: &TokenRecord) -> Attrs {
    let mut item = keys::token(&t.hash);
    item.extend([
        ("kind".to_owned(), s(t.kind.as_str())),
        ("user_id".to_owned(), s(t.user_id.to_string())),
        ("email_digest".to_owned(), s(&t.email_digest)),
        ("created_at".to_owned(), s(t.created_at.to_string())),
        ("ttl".to_owned(), n(t.expires_at)),
    ]);
    item
}

fn token_from(hash: &str, item: &Item) -> Result<TokenRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("token item has an invalid {what}"));
    Ok(TokenRecord {
        hash: hash.to_owned(),
        kind: TokenKind::parse(item.s("kind")?).ok_or_else(|| corrupt("kind"))?,
        user_id: UserId::parse(item.s("user_id")?).ok_or_else(|| corrupt("user_id"))?,
        email_digest: item.s("email_digest")?.to_owned(),
        created_at: Timestamp::parse(item.s("created_at")?).ok_or_else(|| corrupt("created_at"))?,
        expires_at: item.n("ttl")?,
    })
}

impl Store {
    /// Stores a new token and makes it the user's newest for its purpose, which voids the
    /// older ones.
    #[tracing::instrument(skip_all, fields(kind = t.kind.as_str()))]
    pub async fn put_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        let call = Call::new("TransactWriteItems", "token");
        self.transact(call.item, Vec::from(self.token_writes(t)))
            .await
            .map_err(|e| match e {
                TxError::Store(e) => e,
                // 256 random bits do not collide; a failed condition here is a bug.
                cancelled => StoreError::failed(call, cancelled),
            })
    }

    /// The writes that store a token and point the user's newest of its purpose at it, for
    /// a transaction of their own or of a user's creation.
    pub(super) fn token_writes(&self, t: &TokenRecord) -> [Write; 2] {
        let mut current = keys::current_token(t.user_id, t.kind.purpose().as_str());
        current.insert("token_hash".into(), s(&t.hash));
        current.insert("ttl".into(), n(t.expires_at));
        [
            Write::put(
                &self.table,
                token_item(t),
                Some("attribute_not_exists(pk)"),
                HashMap::new(),
            ),
            Write::put(&self.table, current, None, HashMap::new()),
        ]
    }

    /// The token with this hash, read consistently, expired or not (the caller decides).
    #[tracing::instrument(skip_all)]
    pub async fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.read_as("token", keys::token(hash), |item| token_from(hash, item))
            .await
    }

    /// Uses the token up: deletes it and its pointer, provided it still exists and is still
    /// the newest of its purpose. Of any number of concurrent calls, exactly one gets `true`.
    #[tracing::instrument(skip_all, fields(kind = t.kind.as_str()))]
    pub async fn redeem_token(&self, t: &TokenRecord) -> Result<bool, StoreError> {
        let writes = vec![
            Write::delete(
                &self.table,
                keys::token(&t.hash),
                Some("attribute_exists(pk)"),
                HashMap::new(),
            ),
            Write::delete(
                &self.table,
                keys::current_token(t.user_id, t.kind.purpose().as_str()),
                Some("token_hash = :hash"),
                HashMap::from([(":hash".to_owned(), s(&t.hash))]),
            ),
        ];
        match self.transact("token", writes).await {
            Ok(()) => Ok(true),
            Err(TxError::Cancelled(_)) => Ok(false),
            Err(TxError::Store(e)) => Err(e),
        }
    }
}
