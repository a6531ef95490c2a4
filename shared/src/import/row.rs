//! What one valid row does to the table: create a user, update the one its email names
//! (upsert), or, in a dry run, find out which it would do. Row-level problems (an email
//! taken, a username taken) fail the row alone; store failures fail the batch.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::report::RowResult;
use crate::auth::passwords::{self, Verified};
use crate::domain::import::{
    apply_row, derive_username, Credential, ImportJob, ImportMode, ImportRow, Outcome, RowError,
};
use crate::domain::{Actor, AuditEvent, LoginName, Status, Timestamp, User, UserId};
use crate::store::{Created, ImportTally, StoreError, WriteError};
use crate::users::{self, Outcome as Change};
use crate::{Ctx, Error};

/// Derived usernames tried before a row gives up (`ann`, `ann-1`, ...).
const USERNAME_ATTEMPTS: u32 = 50;

/// Why a batch could not be applied; the job continues from its last checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("updating a user failed: {0}")]
    Update(Error),
}

/// The unique values (email, username, id) of the file's valid rows so far, with the row
/// that had each first: a later row repeating one is a duplicate.
#[derive(Debug, Default)]
pub struct Seen(HashMap<u64, u64>);

impl Seen {
    fn key(kind: &str, value: &str) -> u64 {
        let mut h = DefaultHasher::new();
        (kind, value).hash(&mut h);
        h.finish()
    }

    /// Records the row's values, or names the earlier row it duplicates.
    pub fn check(&mut self, row: &ImportRow) -> Result<(), RowError> {
        let mut keys = vec![("email", Self::key("email", row.email.as_str()))];
        if let Some(u) = &row.username {
            keys.push(("username", Self::key("username", u.as_str())));
        }
        if let Some(id) = row.id {
            keys.push(("id", Self::key("id", &id.to_string())));
        }
        for (field, key) in &keys {
            if let Some(first) = self.0.get(key) {
                return Err(RowError::new(
                    field,
                    "duplicate",
                    format!("repeats the {field} of row {first}"),
                ));
            }
        }
        for (_, key) in keys {
            self.0.insert(key, row.number);
        }
        Ok(())
    }
}

/// What every row of a run shares.
pub struct Context<'a> {
    pub ctx: &'a Ctx,
    pub job: &'a ImportJob,
    pub actor: Actor,
    pub request_id: String,
}

/// How a row ended, and the user it created (for the batch's counters).
pub struct Applied {
    pub result: RowResult,
    pub created: Option<User>,
}

fn failed(row: &ImportRow, error: RowError) -> Applied {
    Applied {
        result: RowResult::failed(row.number, row.source_id.clone(), vec![error]),
        created: None,
    }
}

fn done(row: &ImportRow, outcome: Outcome, id: UserId, created: Option<User>) -> Applied {
    Applied {
        result: RowResult {
            number: row.number,
            outcome,
            user_id: Some(id),
            source_id: row.source_id.clone(),
            errors: vec![],
        },
        created,
    }
}

/// The email or username belongs to another user.
fn taken(field: &str) -> RowError {
    let code = if field == "email" {
        "email_taken"
    } else {
        "username_taken"
    };
    RowError::new(field, code, format!("{field} is already taken"))
}

impl Context<'_> {
    /// Applies one valid row.
    pub async fn apply(&self, row: ImportRow) -> Result<Applied, RowsError> {
        if row.anonymised {
            return self.match_anonymised(&row).await;
        }
        let intended = row
            .id
            .unwrap_or_else(|| self.job.user_id_for_row(row.number));
        let mode = self.job.mode;
        if mode == ImportMode::Create && !self.job.dry_run {
            // The create's own conditions find a taken email or id: no read first. A retry
            // finds its own earlier write by the row marker.
            return Ok(self
                .create(&row, intended)
                .await?
                .unwrap_or_else(|e| failed(&row, e)));
        }
        let owner = self
            .ctx
            .store
            .reserved_by(&LoginName::Email(row.email.clone()))
            .await?;
        match owner {
            // Ours from an earlier attempt at this row, or another user with this id.
            Some(owner) if owner == intended && !self.job.dry_run => {
                match self.create(&row, intended).await? {
                    Err(e) if e.code == "id_taken" => self.update(row, owner).await,
                    other => Ok(other.unwrap_or_else(|e| failed(&row, e))),
                }
            }
            None => Ok(self
                .create(&row, intended)
                .await?
                .unwrap_or_else(|e| failed(&row, e))),
            Some(owner) if mode == ImportMode::Upsert => self.update(row, owner).await,
            Some(_) => Ok(failed(&row, taken("email"))),
        }
    }

    /// An anonymised account's placeholder row: it matches that account unchanged, and can
    /// never create one.
    async fn match_anonymised(&self, row: &ImportRow) -> Result<Applied, RowsError> {
        let id = row.id.unwrap_or_default();
        let matches = match self.job.mode {
            ImportMode::Create => false,
            ImportMode::Upsert => self
                .ctx
                .store
                .user(id)
                .await?
                .is_some_and(|u| u.email == row.email),
        };
        Ok(if matches {
            done(row, Outcome::Unchanged, id, None)
        } else {
            failed(
                row,
                RowError::new(
                    "email",
                    "anonymised",
                    "names an anonymised account, which an import cannot create",
                ),
            )
        })
    }

    async fn hash(&self, credential: &Option<Credential>) -> Result<Option<String>, RowsError> {
        match credential {
            None => Ok(None),
            Some(Credential::Hash(h)) => Ok(Some(h.clone())),
            // passwords::hash bounds the hashes in flight to the cores there are.
            Some(Credential::Plain(p)) => passwords::hash(p.expose().to_owned())
                .await
                .map(Some)
                .map_err(|e| RowsError::Update(e.into())),
        }
    }

    /// Creates the row's user as `id` (`Ok(Err(..))`: the row fails); a dry run only checks
    /// that it could.
    async fn create(
        &self,
        row: &ImportRow,
        id: UserId,
    ) -> Result<Result<Applied, RowError>, RowsError> {
        let now = Timestamp::now();
        let created_at = row.created_at.unwrap_or(now);
        let mut user = User {
            id,
            email: row.email.clone(),
            username: row
                .username
                .clone()
                .unwrap_or_else(|| derive_username(&row.email, 0)),
            display_name: row.display_name.clone(),
            profile_picture_url: row.profile_picture_url.clone(),
            status: row.status.unwrap_or(Status::Active),
            is_admin: row.is_admin.unwrap_or(false),
            created_at,
            updated_at: row.updated_at.unwrap_or(now).max(created_at),
            last_login_at: row.last_login_at,
            version: 1,
            authority: 1,
            password_hash: None,
            email_verified: row.email_verified.unwrap_or(false),
        };
        if !self.job.dry_run {
            user.password_hash = self.hash(&row.credential).await?;
        }
        let audit = AuditEvent::new(id, self.actor.clone(), "imported", &self.request_id);
        let marker = self.job.row_marker(row.number);
        for attempt in 0..USERNAME_ATTEMPTS {
            if row.username.is_none() {
                user.username = derive_username(&row.email, attempt);
            }
            let result = if self.job.dry_run {
                self.could_create(&user).await?
            } else {
                self.ctx
                    .store
                    .create_imported_user(&user, &marker, &audit)
                    .await
                    .map(|_: Created| ())
            };
            match result {
                Ok(()) => {
                    let written = (!self.job.dry_run).then_some(user);
                    return Ok(Ok(done(row, Outcome::Created, id, written)));
                }
                Err(WriteError::UsernameTaken) if row.username.is_none() => continue,
                Err(WriteError::UsernameTaken) => return Ok(Err(taken("username"))),
                Err(WriteError::EmailTaken) => return Ok(Err(taken("email"))),
                Err(WriteError::IdTaken) => {
                    return Ok(Err(RowError::new(
                        "id",
                        "id_taken",
                        "a user with this id exists already",
                    )))
                }
                Err(WriteError::VersionMismatch | WriteError::LastAdmin) => {
                    return Ok(Err(RowError::new(
                        "row",
                        "conflict",
                        "the row could not be written; import it again",
                    )))
                }
                Err(WriteError::Store(e)) => return Err(e.into()),
            }
        }
        Ok(Err(RowError::new(
            "username",
            "username_taken",
            "no free username could be derived from the email; give one",
        )))
    }

    /// The checks a create would make, without writing.
    async fn could_create(&self, user: &User) -> Result<Result<(), WriteError>, RowsError> {
        let store = &self.ctx.store;
        if store
            .reserved_by(&LoginName::Email(user.email.clone()))
            .await?
            .is_some()
        {
            return Ok(Err(WriteError::EmailTaken));
        }
        if store
            .reserved_by(&LoginName::Username(user.username.clone()))
            .await?
            .is_some()
        {
            return Ok(Err(WriteError::UsernameTaken));
        }
        if store.user_exists(user.id).await? {
            return Ok(Err(WriteError::IdTaken));
        }
        Ok(Ok(()))
    }

    /// Upsert of an existing user: only the row's columns are compared; a change is one
    /// versioned write (counters and audit with it), and no change writes nothing.
    async fn update(&self, row: ImportRow, id: UserId) -> Result<Applied, RowsError> {
        let Some(before) = self.ctx.store.user(id).await? else {
            return Ok(failed(
                &row,
                RowError::new(
                    "email",
                    "conflict",
                    "the user changed during the import; import it again",
                ),
            ));
        };
        let hash = match &row.credential {
            Some(Credential::Plain(p)) if !self.job.dry_run => {
                let verified =
                    passwords::verify(p.expose().to_owned(), before.password_hash.clone())
                        .await
                        .map_err(|e| RowsError::Update(e.into()))?;
                match verified {
                    Verified::No => self.hash(&row.credential).await?,
                    Verified::Yes | Verified::YesRehashed(_) => None,
                }
            }
            Some(Credential::Plain(_)) => None,
            other => self.hash(other).await?,
        };
        let fields = match apply_row(&row, &before, hash.clone()) {
            Ok((_, fields)) => fields,
            Err(e) => return Ok(failed(&row, e)),
        };
        if fields.is_empty() {
            return Ok(done(&row, Outcome::Unchanged, id, None));
        }
        if self.job.dry_run {
            return Ok(done(&row, Outcome::Updated, id, None));
        }
        let changed = users::change(
            self.ctx,
            id,
            None,
            &self.actor,
            "imported",
            &self.request_id,
            |user| {
                let (after, fields) = apply_row(&row, user, hash.clone())
                    .map_err(|e| Error::conflict(e.code, e.message))?;
                Ok(Change {
                    after: Some(after),
                    fields,
                })
            },
        )
        .await;
        match changed {
            Ok((Some(_), true)) => Ok(done(&row, Outcome::Updated, id, None)),
            Ok(_) => Ok(done(&row, Outcome::Unchanged, id, None)),
            Err(Error::Conflict { code, detail }) => {
                let field = match code {
                    "email_taken" => "email",
                    "username_taken" => "username",
                    "last_admin" => "is_admin",
                    "status_transition" => "status",
                    _ => "row",
                };
                Ok(failed(&row, RowError::new(field, code, detail)))
            }
            Err(Error::PreconditionFailed | Error::NotFound) => Ok(failed(
                &row,
                RowError::new(
                    "row",
                    "conflict",
                    "the user changed during the import; import it again",
                ),
            )),
            Err(e) => Err(RowsError::Update(e)),
        }
    }
}

/// Adds what the batch's created users count to the tally.
pub fn tally(applied: &[Applied]) -> ImportTally {
    let mut tally = ImportTally::default();
    for user in applied.iter().filter_map(|a| a.created.as_ref()) {
        tally.add_created(user);
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::import::{validate_row, Column, RawRow};

    fn row(number: u64, email: &str, username: Option<&str>) -> ImportRow {
        let mut cells = vec![(Column::Email, email.to_owned())];
        if let Some(u) = username {
            cells.push((Column::Username, u.to_owned()));
        }
        validate_row(&RawRow { number, cells }, true).unwrap()
    }

    #[test]
    fn duplicates_name_the_first_row() {
        let mut seen = Seen::default();
        assert!(seen.check(&row(1, "a@example.com", Some("ann"))).is_ok());
        let dup = seen.check(&row(2, "A@example.com", None)).unwrap_err();
        assert_eq!((dup.field.as_str(), dup.code), ("email", "duplicate"));
        assert!(dup.message.contains("row 1"));
        let dup = seen
            .check(&row(3, "b@example.com", Some("ANN")))
            .unwrap_err();
        assert_eq!(dup.field, "username");
        assert!(seen.check(&row(4, "b@example.com", Some("bob"))).is_ok());
    }
}
