//! User lifecycle operations shared by the functions: the store calls and the rules
//! around them, with errors in the API's terms.

use crate::auth::passwords;
use crate::domain::input::{Changes, NewUser};
use crate::domain::{Actor, AuditEvent, Email, Status, Timestamp, User, UserId, Username};
use crate::store::WriteError;
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
        authority: 1,
    };
    let audit = AuditEvent::new(user.id, actor, action, request_id);
    ctx.store.create_user(&user, &audit).await?;
    Ok(user)
}

/// How many times a write without `If-Match` re-reads and re-applies after losing a race.
const UPDATE_ATTEMPTS: usize = 3;

/// What a change makes of a user: its new state (`None` erases it) and the names of the
/// fields that changed (empty: nothing to write).
pub struct Outcome {
    pub after: Option<User>,
    pub fields: Vec<&'static str>,
}

/// Reads the user, applies `change`, and writes the result conditionally on the version
/// read. With `if_match`, a version mismatch is a 412; without, a lost race re-reads and
/// re-applies, so no concurrent update is ever lost. Returns the user as it is afterwards
/// (`None` once erased).
pub async fn change(
    ctx: &Ctx,
    id: UserId,
    if_match: Option<u64>,
    actor: &Actor,
    action: &str,
    request_id: &str,
    change: impl Fn(&User) -> Result<Outcome, Error>,
) -> Result<Option<User>, Error> {
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
        let Outcome { after, fields } = change(&user)?;
        if fields.is_empty() {
            return Ok(Some(user));
        }
        let after = after.map(|mut a| {
            a.version = user.version + 1;
            a.updated_at = Timestamp::now();
            a
        });
        let audit = AuditEvent::new(id, actor.clone(), action, request_id).with_fields(fields);
        match ctx
            .store
            .save_user(&user, after.as_ref(), &audit, None)
            .await
        {
            Ok(()) => {
                // A change of authority (or an erasure) has already ended every session, by
                // the version the write bumped; their items can go.
                if after.as_ref().is_none_or(|a| user.changes_authority(a)) {
                    crate::auth::service::sweep_sessions(ctx, id, &sessions).await;
                }
                return Ok(after);
            }
            Err(WriteError::VersionMismatch) if if_match.is_none() && attempt < UPDATE_ATTEMPTS => {
                continue
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Applies a PATCH.
pub async fn update(
    ctx: &Ctx,
    id: UserId,
    changes: &Changes,
    if_match: Option<u64>,
    actor: Actor,
    request_id: &str,
) -> Result<User, Error> {
    let updated = change(ctx, id, if_match, &actor, "updated", request_id, |user| {
        let (after, fields) = changes.apply(user);
        Ok(Outcome {
            after: Some(after),
            fields,
        })
    })
    .await?;
    updated.ok_or(Error::NotFound)
}

/// The lifecycle moves an admin can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Activate,
    Deactivate,
    SoftDelete,
    Restore,
    Anonymize,
    HardDelete,
}

impl Transition {
    pub fn action(self) -> &'static str {
        match self {
            Transition::Activate => "activated",
            Transition::Deactivate => "deactivated",
            Transition::SoftDelete => "deleted",
            Transition::Restore => "restored",
            Transition::Anonymize => "anonymized",
            Transition::HardDelete => "erased",
        }
    }

    /// The user after the move, or why the move is not possible from its current state.
    pub fn apply(self, user: &User) -> Result<Outcome, Error> {
        let anonymized = user.email == Email::anonymised(user.id);
        let refuse = |detail: &str| Err(Error::conflict("conflict", detail));
        let with_status = |status: Status| {
            let mut after = user.clone();
            after.status = status;
            let fields = if user.status == status {
                vec![]
            } else {
                vec!["status"]
            };
            Ok(Outcome {
                after: Some(after),
                fields,
            })
        };
        match (self, user.status) {
            (Transition::Activate | Transition::Deactivate, Status::Deleted) => {
                refuse("the user is deleted; restore it first")
            }
            (Transition::Activate, _) => with_status(Status::Active),
            (Transition::Deactivate, _) => with_status(Status::Inactive),
            (Transition::SoftDelete, _) => with_status(Status::Deleted),
            (Transition::Restore, _) if anonymized => {
                refuse("an anonymized user cannot be restored")
            }
            (Transition::Restore, Status::Deleted) => with_status(Status::Active),
            (Transition::Restore, _) => refuse("only a deleted user can be restored"),
            (Transition::Anonymize, _) => {
                let mut after = user.clone();
                after.email = Email::anonymised(user.id);
                after.username = Username::anonymised(user.id);
                after.display_name = None;
                after.profile_picture_url = None;
                after.password_hash = None;
                after.last_login_at = None;
                after.status = Status::Deleted;
                let fields = vec![
                    "email",
                    "username",
                    "display_name",
                    "profile_picture_url",
                    "password",
                    "last_login_at",
                    "status",
                ];
                Ok(Outcome {
                    after: Some(after),
                    fields,
                })
            }
            (Transition::HardDelete, _) => Ok(Outcome {
                after: None,
                fields: vec!["*"],
            }),
        }
    }
}

/// Moves the user through its lifecycle; `None` once it is erased.
pub async fn transition(
    ctx: &Ctx,
    id: UserId,
    transition: Transition,
    if_match: Option<u64>,
    actor: Actor,
    request_id: &str,
) -> Result<Option<User>, Error> {
    change(
        ctx,
        id,
        if_match,
        &actor,
        transition.action(),
        request_id,
        |user| transition.apply(user),
    )
    .await
}
