//! User lifecycle operations shared by the functions: the store calls and the rules
//! around them, with errors in the API's terms.

use crate::auth::passwords;
use crate::domain::input::{Changes, NewUser};
use crate::domain::{Actor, AuditEvent, Status, Timestamp, User, UserId};
use crate::store::{SessionRecord, WriteError};
use crate::{Ctx, Error};

impl From<WriteError> for Error {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::EmailTaken => Error::conflict("email_taken", "email is already registered"),
            WriteError::UsernameTaken => {
                Error::conflict("username_taken", "username is already taken")
            }
            WriteError::VersionMismatch => Error::PreconditionFailed,
            WriteError::LastAdmin => {
                Error::conflict("last_admin", "the last active admin cannot be removed")
            }
            WriteError::Store(e) => e.into(),
        }
    }
}

/// Creates a user (hashing its password, if any) with reservations, counters and audit.
pub async fn create(
    ctx: &Ctx,
    new: NewUser,
    actor: Actor,
    action: &str,
    request_id: &str,
) -> Result<User, Error> {
    let password_hash = match new.password {
        Some(p) => Some(passwords::hash(p.expose().to_owned()).await?),
        None => None,
    };
    let now = Timestamp::now();
    let user = User {
        id: UserId::new(),
        email: new.email,
        username: new.username,
        display_name: new.display_name,
        profile_picture_url: new.profile_picture_url,
        status: new.status,
        is_admin: new.is_admin,
        created_at: now,
        updated_at: now,
        last_login_at: None,
        version: 1,
        password_hash,
    };
    let audit = AuditEvent::new(user.id, actor, action, request_id);
    ctx.store.create_user(&user, &audit).await?;
    Ok(user)
}

/// How many times a write without `If-Match` re-reads and re-applies after losing a race.
const UPDATE_ATTEMPTS: usize = 3;

/// Applies `changes` to the user. With `if_match`, a version mismatch is a 412; without,
/// a lost race re-reads and re-applies, so no concurrent update is ever lost.
pub async fn update(
    ctx: &Ctx,
    id: UserId,
    changes: &Changes,
    if_match: Option<u64>,
    actor: Actor,
    request_id: &str,
) -> Result<User, Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (user, sessions) = ctx
            .store
            .user_with_sessions(id)
            .await?
            .ok_or(Error::NotFound)?;
        if if_match.is_some_and(|v| v != user.version) {
            return Err(Error::PreconditionFailed);
        }
        let (mut after, fields) = changes.apply(&user);
        if fields.is_empty() {
            return Ok(user);
        }
        after.version = user.version + 1;
        after.updated_at = Timestamp::now();
        // Losing access or privileges takes effect at once: the sessions (and the role
        // claims of their access tokens) end with the change.
        let ends_sessions = (user.status == Status::Active && after.status != Status::Active)
            || user.is_admin != after.is_admin;
        let end: &[SessionRecord] = if ends_sessions { &sessions } else { &[] };
        let audit = AuditEvent::new(id, actor.clone(), "updated", request_id).with_fields(fields);
        match ctx.store.save_user(&user, Some(&after), &audit, end).await {
            Ok(()) => return Ok(after),
            Err(WriteError::VersionMismatch) if if_match.is_none() && attempt < UPDATE_ATTEMPTS => {
                continue
            }
            Err(e) => return Err(e.into()),
        }
    }
}
