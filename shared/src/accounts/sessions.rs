//! Sessions: login, refresh, logout, password change, and turning credentials (an access
//! token or an API key) into a principal.

use serde::Serialize;

use super::limit;
use crate::auth::api_keys;
use crate::auth::passwords::{self, Verified};
use crate::auth::tokens::{hashes_equal, sha256_hex, AccessToken, RefreshToken};
use crate::domain::passwords::NewPassword;
use crate::domain::rate_limit::Action;
use crate::domain::session::{pick_slot, Occupant};
use crate::domain::{
    Actor, AuditEvent, LoginName, Principal, Role, SessionId, Timestamp, User, UserId,
};
use crate::store::{ApiKeyRecord, Reservation, Rotation, SessionRecord};
use crate::users::sweep_sessions;
use crate::{Ctx, Error};

/// The RFC 6749 token response. Its `Debug` shows neither token.
#[derive(Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub user: User,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

fn issue(ctx: &Ctx, user: User, session_id: &SessionId, refresh: &RefreshToken) -> Tokens {
    let access_token = ctx.tokens.issue(
        user.id,
        session_id,
        Role::of(user.is_admin),
        Timestamp::now(),
    );
    Tokens {
        access_token,
        token_type: "Bearer",
        expires_in: ctx.tokens.ttl().as_secs(),
        refresh_token: refresh.expose(),
        user,
    }
}

/// The lockout bucket a login counts against: the account's, whichever of its names was
/// used; for a name that is no account, the name's own. That one is keyed by a hash, so the
/// table keeps no identifier of an account that does not exist (or was anonymised since).
fn lockout_subject(name: &LoginName, owner: Option<UserId>) -> String {
    match owner {
        Some(id) => format!("user:{id}"),
        None => format!("name:{}", sha256_hex(name.normalised())),
    }
}

/// Logs in by email or username. Unknown account, wrong password, inactive or deleted
/// account all cost one argon2 verification and end in the same 401.
///
/// The attempt is reserved in the account's lockout bucket (a conditional increment)
/// *before* the hash is checked, so however many guesses run in parallel, at most the
/// limit's count of hashes is ever verified per window; a success gives its reservation
/// back. Round trips: the IP limit with the name's reservation read; the attempt's
/// reservation with the read of the user's partition; the attempt's record (a known
/// account's audit event, an unknown name's window) alongside the hash; then, on success,
/// the session transaction.
pub async fn login(
    ctx: &Ctx,
    name: LoginName,
    password: String,
    ip: &str,
    request_id: &str,
) -> Result<Tokens, Error> {
    let owner = name_owner(ctx, &name, ip).await?;
    let (reservation, found) = reserve_attempt(ctx, &name, owner).await?;
    let attempt = found
        .as_ref()
        .map(|(u, _)| AuditEvent::new(u.id, Actor::anonymous(), "login_failed", request_id));
    let user = found.as_ref().map(|(u, _)| u);
    let record = match &attempt {
        Some(event) => Record::Audit(event),
        None => Record::Window(&reservation, request_id),
    };
    let verified = verify_recording(ctx, password, user, record).await?;
    match (found, attempt) {
        (Some((user, sessions)), Some(attempt))
            if !matches!(verified, Verified::No) && user.can_log_in() =>
        {
            // Only someone who knows the password learns that the address is unverified.
            if ctx.config.mail.require_verified_email && !user.email_verified {
                return Err(Error::email_not_verified());
            }
            let started = Started {
                rehash: verified.rehashed(),
                reservation: &reservation,
                audit: AuditEvent {
                    actor: Actor::user(user.id).to_string(),
                    action: "login".into(),
                    ..attempt
                },
            };
            start_session(ctx, user, sessions, started).await
        }
        // The failure keeps its reservation: that is the count.
        _ => Err(Error::invalid_credentials()),
    }
}

/// Round trip 1: the IP's limit, alongside a consistent read of who owns the name.
async fn name_owner(ctx: &Ctx, name: &LoginName, ip: &str) -> Result<Option<UserId>, Error> {
    let (ip_allowed, owner) =
        tokio::join!(limit(ctx, Action::LoginIp, ip), ctx.store.reserved_by(name));
    ip_allowed?;
    Ok(owner?)
}

/// Round trip 2: the attempt's reservation in its lockout bucket (429 once the window is
/// full), alongside the read of the account's partition (profile and sessions). An unknown
/// name still reads a (fresh, empty) partition, so both paths make the same round trips as
/// well as the same one hash.
async fn reserve_attempt(
    ctx: &Ctx,
    name: &LoginName,
    owner: Option<UserId>,
) -> Result<(Reservation, Option<(User, Vec<SessionRecord>)>), Error> {
    let subject = lockout_subject(name, owner);
    let account_limit = ctx.config.rate_limits.login_account;
    let (reserved, found) = tokio::join!(
        ctx.store.reserve(
            Action::LoginAccount,
            &subject,
            account_limit,
            ctx.clock.now_secs()
        ),
        ctx.store.user_with_sessions(owner.unwrap_or_default()),
    );
    let reservation = reserved?.map_err(Error::RateLimited)?;
    Ok((reservation, found?))
}

/// Where round trip 3 records the attempt.
enum Record<'a> {
    /// A known account's audit trail, as failed; a success overwrites it with `login`.
    Audit(&'a AuditEvent),
    /// An unknown name's lockout window, which is all it has.
    Window(&'a Reservation, &'a str),
}

/// Round trip 3, while the hash is checked: the attempt is recorded, one write either way.
/// Neither outcome then adds a write after the hash, so known and unknown names take the
/// same time: one hash alongside one write. (With no write for an unknown name, the known
/// path was slower by the audit write wherever it outlasted the hash.)
async fn verify_recording(
    ctx: &Ctx,
    password: String,
    user: Option<&User>,
    record: Record<'_>,
) -> Result<Verified, Error> {
    let record = async {
        match record {
            Record::Audit(event) => ctx.store.append_audit(event).await,
            Record::Window(reservation, request_id) => {
                ctx.store.note_attempt(reservation, request_id).await
            }
        }
    };
    let stored_hash = user.and_then(|u| u.password_hash.clone());
    let (verified, recorded) = tokio::join!(passwords::verify(password, stored_hash), record);
    let verified = verified?;
    recorded?;
    Ok(verified)
}

/// What a verified login hands to the session it starts.
struct Started<'a> {
    rehash: Option<&'a str>,
    reservation: &'a Reservation,
    /// Replaces the attempt's provisional `login_failed` record.
    audit: AuditEvent,
}

async fn start_session(
    ctx: &Ctx,
    mut user: User,
    sessions: Vec<SessionRecord>,
    started: Started<'_>,
) -> Result<Tokens, Error> {
    let now = Timestamp::now();
    let max = ctx.config.max_sessions_per_user as u32;
    let occupants: Vec<Occupant> = sessions
        .iter()
        .map(|s| Occupant {
            slot: s.id.slot(),
            created_at: s.created_at,
            live: s.admits(&user, now),
        })
        .collect();
    let session_id = SessionId::new(pick_slot(&occupants, max, rand::random()));
    let refresh = RefreshToken::generate(user.id, &session_id);
    let session = SessionRecord {
        id: session_id,
        user_id: user.id,
        refresh_hash: refresh.hash(),
        created_at: now,
        expires_at: now.unix_secs() + ctx.config.refresh_token_ttl.as_secs() as i64,
        authority: user.authority,
    };
    // Sessions in slots past the cap (from a larger MAX_SESSIONS_PER_USER) end now.
    let evict: Vec<SessionRecord> = sessions
        .into_iter()
        .filter(|s| s.id.slot() >= max)
        .collect();
    let created = ctx
        .store
        .start_session(
            &session,
            started.rehash,
            &evict,
            &started.audit,
            started.reservation,
        )
        .await?;
    if !created {
        // Demoted, deactivated or re-passworded between the read and the write.
        return Err(Error::invalid_credentials());
    }
    user.last_login_at = Some(now);
    Ok(issue(ctx, user, &session.id, &refresh))
}

/// Exchanges a refresh token for a new pair. A token that is not the session's current
/// one is a replay: the whole session ends.
pub async fn refresh(ctx: &Ctx, raw: &str) -> Result<Tokens, Error> {
    let presented = RefreshToken::parse(raw).ok_or_else(Error::invalid_grant)?;
    let (user_id, session_id) = (presented.user_id, &presented.session_id);
    limit(ctx, Action::RefreshSession, &session_id.to_string()).await?;
    let (session, users) = ctx
        .store
        .session_and_users(user_id, session_id, &[user_id])
        .await?;
    let Some(session) = session else {
        return Err(Error::invalid_grant());
    };
    if !hashes_equal(&session.refresh_hash, &presented.hash()) {
        tracing::warn!(%session_id, "refresh token reuse: session revoked");
        ctx.store.end_session(user_id, session_id).await?;
        return Err(Error::invalid_grant());
    }
    let now = Timestamp::now();
    let user = users
        .into_iter()
        .find(|u| session.admits(u, now) && u.can_log_in());
    let Some(user) = user else {
        ctx.store.end_session(user_id, session_id).await?;
        return Err(Error::invalid_grant());
    };
    let next = RefreshToken::generate(user_id, session_id);
    match ctx
        .store
        .rotate_refresh(user_id, session_id, &session.refresh_hash, &next.hash())
        .await?
    {
        Rotation::Rotated => Ok(issue(ctx, user, session_id, &next)),
        Rotation::Stale => {
            // Two uses of one token raced: one of them is a replay.
            ctx.store.end_session(user_id, session_id).await?;
            Err(Error::invalid_grant())
        }
    }
}

/// The person behind a verified access token, and the user `target` the request reads, in
/// one round trip. The session must still speak for its user (`SessionRecord::admits`), and
/// the role comes from the user's stored state, not from the token.
#[tracing::instrument(skip_all, fields(user = %token.user_id))]
pub async fn authenticate_session(
    ctx: &Ctx,
    token: AccessToken,
    target: Option<UserId>,
) -> Result<(Principal, Option<User>), Error> {
    // A batch read refuses a key twice: the caller reading themself is one key.
    let others = target.filter(|t| *t != token.user_id);
    let ids: Vec<UserId> = std::iter::once(token.user_id).chain(others).collect();
    let (session, users) = ctx
        .store
        .session_and_users(token.user_id, &token.session_id, &ids)
        .await?;
    let now = Timestamp::now();
    let me = users
        .iter()
        .find(|u| u.id == token.user_id)
        .filter(|u| session.as_ref().is_some_and(|s| s.admits(u, now)))
        .ok_or_else(Error::invalid_token)?;
    let principal = Principal::User {
        id: token.user_id,
        session_id: token.session_id,
        role: Role::of(me.is_admin),
    };
    Ok((principal, pick(users, target)))
}

fn pick(users: Vec<User>, target: Option<UserId>) -> Option<User> {
    target.and_then(|t| users.into_iter().find(|u| u.id == t))
}

/// The API key an `X-Api-Key` names, if the key matches and has not expired.
#[tracing::instrument(skip_all)]
pub async fn resolve_api_key(ctx: &Ctx, raw: &str) -> Result<ApiKeyRecord, Error> {
    let presented = api_keys::parse(raw).ok_or_else(Error::invalid_token)?;
    let now = Timestamp::now();
    ctx.store
        .api_key(&presented.id)
        .await?
        .filter(|k| hashes_equal(&k.hash, &presented.hash) && k.is_usable(now))
        .ok_or_else(Error::invalid_token)
}

/// An API key's principal, and the user `target` the request reads, in one round trip (with
/// the `last_used_at` stamp alongside). A key speaks only while the admin who created it is
/// still an active admin: it dies with its creator's authority. Its principal never holds
/// admin power itself, only its scopes.
#[tracing::instrument(skip_all, fields(key = %record.id))]
pub async fn api_key_principal(
    ctx: &Ctx,
    record: ApiKeyRecord,
    target: Option<UserId>,
) -> Result<(Principal, Option<User>), Error> {
    let creator = Actor::person(&record.created_by);
    let ids: Vec<UserId> = creator.into_iter().chain(target).collect();
    let (users, touched) = tokio::join!(
        ctx.store.users(&ids),
        ctx.store.touch_api_key(&record.id, Timestamp::now())
    );
    touched?;
    let users = users?;
    let creator_holds = users
        .iter()
        .find(|u| Some(u.id) == creator)
        .is_some_and(User::is_active_admin);
    if !creator_holds {
        return Err(Error::invalid_token());
    }
    let principal = Principal::ApiKey {
        id: record.id,
        scopes: record.scopes,
    };
    Ok((principal, pick(users, target)))
}

/// Ends every session of the user.
pub async fn end_all_sessions(ctx: &Ctx, user_id: UserId) -> Result<(), Error> {
    if let Some((_, sessions)) = ctx.store.user_with_sessions(user_id).await? {
        ctx.store.end_sessions(user_id, &sessions).await?;
    }
    Ok(())
}

/// Changes the password after checking the current one; ends the user's other sessions
/// (the change bumps the user's authority, and only this session moves along with it).
pub async fn change_password(
    ctx: &Ctx,
    user_id: UserId,
    session_id: &SessionId,
    current: String,
    new: String,
    request_id: &str,
) -> Result<(), Error> {
    limit(ctx, Action::PasswordUser, &user_id.to_string()).await?;
    let (user, sessions) = ctx
        .store
        .user_with_sessions(user_id)
        .await?
        .ok_or_else(Error::invalid_token)?;
    let new = NewPassword::parse(&new, Some(&user.email), Some(&user.username))
        .map_err(|m| Error::field("new_password", m))?;
    if matches!(
        passwords::verify(current, user.password_hash.clone()).await?,
        Verified::No
    ) {
        return Err(Error::field("current_password", "is not correct"));
    }
    let hash = passwords::hash(new.expose().to_owned()).await?;
    let mut after = user.clone();
    after.password_hash = Some(hash);
    after.updated_at = Timestamp::now();
    after.version += 1;
    let audit = AuditEvent::new(
        user_id,
        Actor::user(user_id),
        "password_changed",
        request_id,
    )
    .with_fields(["password"]);
    ctx.store
        .save_user(&user, Some(&after), &audit, Some(session_id))
        .await?;
    let others: Vec<SessionRecord> = sessions
        .into_iter()
        .filter(|s| s.id != *session_id)
        .collect();
    sweep_sessions(ctx, user_id, &others).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_debug_is_redacted() {
        let user = User {
            password_hash: Some("$argon2id$hash-secret".into()),
            ..User::fixture()
        };
        let tokens = Tokens {
            access_token: "eyJaccess-secret".into(),
            token_type: "Bearer",
            expires_in: 900,
            refresh_token: "refresh-secret".into(),
            user,
        };
        let printed = format!("{tokens:?}");
        assert!(!printed.contains("secret"), "{printed}");
    }
}
