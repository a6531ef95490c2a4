//! User lifecycle operations shared by the functions: the store calls and the rules
//! around them, with errors in the API's terms.

use std::time::{Duration, Instant};

use rand::Rng;

use crate::auth::passwords;
use crate::domain::input::{Changes, NewUser, Rejected};
use crate::domain::lifecycle::{Moved, Refused};
use crate::domain::tokens::TokenRecord;
use crate::domain::{Actor, AuditEvent, Principal, Timestamp, User, UserId};
use crate::store::{SessionRecord, WriteError};
use crate::{Ctx, Error};

pub use crate::domain::lifecycle::Transition;

impl From<WriteError> for Error {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::EmailTaken => Error::conflict("email_taken", "email is already registered"),
            WriteError::UsernameTaken => {
                Error::conflict("username_taken", "username is already taken")
            }
            WriteError::IdTaken => {
                Error::conflict("id_taken", "a user with this id exists already")
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
    let user = new_user(new).await?;
    insert(ctx, &user, actor, action, request_id, None).await?;
    Ok(user)
}

/// The user `new` describes, with its password hashed, for `insert`.
pub async fn new_user(new: NewUser) -> Result<User, Error> {
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
        email_verified: new.email_verified,
        created_at: now,
        updated_at: now,
        last_login_at: None,
        version: 1,
        password_hash,
        authority: 1,
    };
    Ok(user)
}

/// Writes a new user with its reservations, counters and audit event and, in the same
/// transaction, the one-time link its first mail will carry.
pub async fn insert(
    ctx: &Ctx,
    user: &User,
    actor: Actor,
    action: &str,
    request_id: &str,
    link: Option<&TokenRecord>,
) -> Result<(), Error> {
    let audit = AuditEvent::new(user.id, actor, action, request_id);
    ctx.store.create_user(user, &audit, link).await?;
    Ok(())
}

/// How long a write without `If-Match` keeps re-reading and re-applying after losing races.
/// Each loss means another write landed, so a writer among N concurrent ones loses at most
/// N - 1 times. A round is a read and a transaction (tens of milliseconds), so only a
/// pathological pile-up on one user reaches this bound, well inside the functions' 29 s;
/// then the answer is a 503 to retry, never a 412.
const CONTENDED_FOR: Duration = Duration::from_secs(20);

/// What a change makes of a user: its new state (`None` erases it) and the names of the
/// fields that changed (empty: nothing to write).
pub struct Outcome {
    pub after: Option<User>,
    pub fields: Vec<&'static str>,
}

impl From<Moved> for Outcome {
    fn from(moved: Moved) -> Self {
        Self {
            after: moved.after,
            fields: moved.fields,
        }
    }
}

impl From<Refused> for Error {
    fn from(refused: Refused) -> Self {
        Error::conflict("conflict", refused.to_string())
    }
}

impl From<Rejected> for Error {
    fn from(rejected: Rejected) -> Self {
        match rejected {
            Rejected::Lifecycle(refused) => refused.into(),
            Rejected::Invalid(errors) => Error::Validation(errors),
        }
    }
}

/// Reads the user, applies `change`, and writes the result conditionally on the version
/// read. With `if_match` (the versions an `If-Match` names; empty: none can match), a
/// version mismatch is a 412; without, a lost race re-reads and re-applies, so the last
/// write wins and no concurrent update is lost. Returns the user as it is afterwards
/// (`None` once erased) and whether it changed.
pub async fn change(
    ctx: &Ctx,
    id: UserId,
    if_match: Option<&[u64]>,
    actor: &Actor,
    action: &str,
    request_id: &str,
    change: impl Fn(&User) -> Result<Outcome, Error>,
) -> Result<(Option<User>, bool), Error> {
    let started = Instant::now();
    let mut lost = 0u32;
    loop {
        let round = Instant::now();
        let (user, sessions) = ctx
            .store
            .user_with_sessions(id)
            .await?
            .ok_or(Error::NotFound)?;
        if if_match.is_some_and(|versions| !versions.contains(&user.version)) {
            return Err(Error::PreconditionFailed);
        }
        let Outcome { after, fields } = change(&user)?;
        if fields.is_empty() {
            return Ok((Some(user), false));
        }
        if user.is_self_lockout(actor, after.as_ref()) {
            return Err(Error::conflict(
                "self_action",
                "an admin cannot deactivate, delete, anonymize or demote its own account; \
                 another admin can",
            ));
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
                    sweep_sessions(ctx, id, &sessions).await;
                }
                return Ok((after, true));
            }
            Err(WriteError::VersionMismatch) if if_match.is_none() => {
                if started.elapsed() > CONTENDED_FOR {
                    tracing::warn!(%id, lost, "user write kept losing races; giving up");
                    return Err(Error::unavailable(
                        "concurrent writes to one user kept winning",
                    ));
                }
                lost += 1;
                // Exponential, fully jittered backoff in units of what a round costs right
                // now (capped at a second) spreads the writers that collided, so each round
                // wastes few transactions instead of one per contender.
                let unit = round.elapsed().as_millis().clamp(5, 1_000) as u64;
                let pause = rand::rng().random_range(0..=(unit << lost.min(4)).min(1_000));
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// A PATCH's result: the user as it is now, and whether the PATCH changed it.
#[derive(Debug)]
pub struct Updated {
    pub user: User,
    pub changed: bool,
}

/// Applies a PATCH by `principal`, whose right to each change is checked before any I/O
/// (`Principal::may_request`) and against the user as read (`Principal::may_change`). A new
/// password is hashed once, up front; like any change of authority, writing it ends every
/// session of the user (`change` bumps the authority version).
#[tracing::instrument(skip_all, fields(%id))]
pub async fn update(
    ctx: &Ctx,
    id: UserId,
    changes: &Changes,
    if_match: Option<&[u64]>,
    principal: &Principal,
    request_id: &str,
) -> Result<Updated, Error> {
    principal.may_request(id, changes)?;
    let password_hash = match &changes.password {
        Some(p) => Some(passwords::hash(p.expose().to_owned()).await?),
        None => None,
    };
    let actor = Actor::of(principal);
    let (user, changed) = change(ctx, id, if_match, &actor, "updated", request_id, |user| {
        principal.may_change(user, changes)?;
        let (after, fields) = changes.apply(user, password_hash.as_deref())?;
        Ok(Outcome {
            after: Some(after),
            fields,
        })
    })
    .await?;
    Ok(Updated {
        user: user.ok_or(Error::NotFound)?,
        changed,
    })
}

/// Moves the user through its lifecycle; `None` once it is erased.
pub async fn transition(
    ctx: &Ctx,
    id: UserId,
    transition: Transition,
    if_match: Option<&[u64]>,
    actor: Actor,
    request_id: &str,
) -> Result<Option<User>, Error> {
    let (user, _) = change(
        ctx,
        id,
        if_match,
        &actor,
        transition.action(),
        request_id,
        |user| Ok(transition.apply(user)?.into()),
    )
    .await?;
    Ok(user)
}

/// Deletes sessions that a change of the user's authority has already made dead, so that
/// they do not linger until their TTL. They are refused either way, so a failure here is
/// only logged.
#[tracing::instrument(skip(ctx, sessions), fields(count = sessions.len()))]
pub async fn sweep_sessions(ctx: &Ctx, user: UserId, sessions: &[SessionRecord]) {
    if let Err(error) = ctx.store.end_sessions(user, sessions).await {
        tracing::warn!(%error, %user, "dead sessions left to their TTL");
    }
}
