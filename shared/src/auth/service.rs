//! The account flows behind /auth: login, refresh, logout, password change, and turning
//! credentials into a principal.

use serde::Serialize;

use super::passwords::{self, Verified};
use super::rate_limit::Action;
use super::tokens::{hashes_equal, sha256_hex, RefreshToken};
use crate::domain::passwords::NewPassword;
use crate::domain::{Actor, AuditEvent, LoginName, Principal, Role, Timestamp, User, UserId};
use crate::store::{Rotation, SessionRecord};
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

fn issue(ctx: &Ctx, user: User, session_id: &str, refresh: &RefreshToken) -> Tokens {
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

/// Fails with 429 when `action` is over its limit for `subject`.
pub async fn limit(ctx: &Ctx, action: Action, subject: &str) -> Result<(), Error> {
    let limits = &ctx.config.rate_limits;
    let limit = match action {
        Action::LoginAccount => limits.login_account,
        Action::LoginIp => limits.login_ip,
        Action::RegisterIp => limits.register_ip,
        Action::RefreshSession => limits.refresh_session,
        Action::PasswordUser => limits.password_user,
    };
    ctx.store
        .hit(action, subject, limit, ctx.clock.now_secs())
        .await?
        .map_err(Error::RateLimited)
}

/// Logs in by email or username. Unknown account, wrong password, inactive or deleted
/// account all cost one argon2 verification and end in the same 401.
pub async fn login(
    ctx: &Ctx,
    name: LoginName,
    password: String,
    ip: &str,
    request_id: &str,
) -> Result<Tokens, Error> {
    limit(ctx, Action::LoginIp, ip).await?;
    // The account limit is keyed by a hash: the table must not keep identifiers of
    // accounts that do not exist (or that were anonymised since).
    let account = sha256_hex(name.normalised());
    let account_limit = ctx.config.rate_limits.login_account;
    let (lockout, owner) = tokio::join!(
        ctx.store.is_limited(
            Action::LoginAccount,
            &account,
            account_limit,
            ctx.clock.now_secs()
        ),
        ctx.store.reserved_by(&name),
    );
    lockout?.map_err(Error::RateLimited)?;
    // An unknown name still reads a (fresh, empty) partition, so both paths make the same
    // round trips as well as the same one hash.
    let found = ctx
        .store
        .user_with_sessions(owner?.unwrap_or_default())
        .await?;
    let stored_hash = found.as_ref().and_then(|(u, _)| u.password_hash.clone());
    let verified = passwords::verify(password, stored_hash.clone()).await?;
    let login_ok = !matches!(verified, Verified::No);
    match found {
        Some((user, sessions)) if login_ok && user.can_log_in() => {
            let rehash = match &verified {
                Verified::YesRehashed(h) => Some(h.as_str()),
                _ => None,
            };
            start_session(
                ctx,
                user,
                sessions,
                stored_hash.as_deref().unwrap_or_default(),
                rehash,
                request_id,
            )
            .await
        }
        found => {
            let now = ctx.clock.now_secs();
            let count = ctx
                .store
                .record_hit(Action::LoginAccount, &account, account_limit, now);
            // The audit write runs alongside the count, so a known account's failure takes
            // no longer than an unknown one's.
            let audit = async {
                match &found {
                    Some((user, _)) => {
                        let event = AuditEvent::new(
                            user.id,
                            Actor::anonymous(),
                            "login_failed",
                            request_id,
                        );
                        ctx.store.append_audit(&event).await
                    }
                    None => Ok(()),
                }
            };
            let (counted, audited) = tokio::join!(count, audit);
            counted?;
            audited?;
            Err(Error::invalid_credentials())
        }
    }
}

async fn start_session(
    ctx: &Ctx,
    mut user: User,
    sessions: Vec<SessionRecord>,
    expected_hash: &str,
    rehash: Option<&str>,
    request_id: &str,
) -> Result<Tokens, Error> {
    let now = Timestamp::now();
    let session_id = uuid::Uuid::now_v7().to_string();
    let refresh = RefreshToken::generate(user.id, &session_id);
    let session = SessionRecord {
        id: session_id.clone(),
        user_id: user.id,
        refresh_hash: refresh.hash(),
        created_at: now,
        expires_at: now.unix_secs() + ctx.config.refresh_token_ttl.as_secs() as i64,
    };
    // Sessions come oldest first (time-ordered ids); keep the newest max-1 besides this one.
    let keep = ctx.config.max_sessions_per_user.saturating_sub(1);
    let evict = &sessions[..sessions.len().saturating_sub(keep)];
    let audit = AuditEvent::new(user.id, Actor::user(user.id), "login", request_id);
    let started = ctx
        .store
        .start_session(&session, now, expected_hash, rehash, evict, &audit)
        .await?;
    if !started {
        // Deactivated or re-passworded between the read and the write.
        return Err(Error::invalid_credentials());
    }
    user.last_login_at = Some(now);
    Ok(issue(ctx, user, &session_id, &refresh))
}

/// Exchanges a refresh token for a new pair. A token that is not the session's current
/// one is a replay: the whole session ends.
pub async fn refresh(ctx: &Ctx, raw: &str) -> Result<Tokens, Error> {
    let presented = RefreshToken::parse(raw).ok_or_else(Error::invalid_grant)?;
    limit(ctx, Action::RefreshSession, &presented.session_id).await?;
    let (user_id, session_id) = (presented.user_id, presented.session_id.as_str());
    let Some(session) = ctx.store.session(user_id, session_id).await? else {
        return Err(Error::invalid_grant());
    };
    if !hashes_equal(&session.refresh_hash, &presented.hash()) {
        tracing::warn!(session_id, "refresh token reuse: session revoked");
        ctx.store.end_session(user_id, session_id).await?;
        return Err(Error::invalid_grant());
    }
    let user = ctx.store.user(user_id).await?.filter(User::can_log_in);
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

/// The principal behind a bearer token whose session is still live.
pub async fn authenticate_bearer(ctx: &Ctx, token: &str) -> Result<Principal, Error> {
    let claims = ctx.tokens.verify(token).ok_or_else(Error::invalid_token)?;
    ctx.store
        .session(claims.user_id, &claims.session_id)
        .await?
        .ok_or_else(Error::invalid_token)?;
    Ok(Principal::User {
        id: claims.user_id,
        session_id: claims.session_id,
        role: claims.role,
    })
}

/// The principal behind an `X-Api-Key`.
pub async fn authenticate_api_key(ctx: &Ctx, raw: &str) -> Result<Principal, Error> {
    let presented = super::api_keys::parse(raw).ok_or_else(Error::invalid_token)?;
    let now = Timestamp::now();
    let record = ctx
        .store
        .api_key(&presented.id)
        .await?
        .filter(|k| hashes_equal(&k.hash, &presented.hash) && k.is_usable(now))
        .ok_or_else(Error::invalid_token)?;
    ctx.store.touch_api_key(&record.id, now).await?;
    Ok(Principal::ApiKey {
        id: record.id,
        scopes: record.scopes,
    })
}

/// Ends every session of the user.
pub async fn end_all_sessions(ctx: &Ctx, user_id: UserId) -> Result<(), Error> {
    if let Some((_, sessions)) = ctx.store.user_with_sessions(user_id).await? {
        ctx.store.end_sessions(user_id, &sessions).await?;
    }
    Ok(())
}

/// Changes the password after checking the current one; ends the user's other sessions.
pub async fn change_password(
    ctx: &Ctx,
    user_id: UserId,
    session_id: &str,
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
    let others: Vec<SessionRecord> = sessions
        .into_iter()
        .filter(|s| s.id != session_id)
        .collect();
    let audit = AuditEvent::new(
        user_id,
        Actor::user(user_id),
        "password_changed",
        request_id,
    )
    .with_fields(["password"]);
    ctx.store
        .save_user(&user, Some(&after), &audit, &others)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, Status, Username};

    #[test]
    fn tokens_debug_is_redacted() {
        let now = Timestamp::now();
        let user = User {
            id: UserId::new(),
            email: Email::parse("ann@example.com").unwrap(),
            username: Username::parse("ann").unwrap(),
            display_name: None,
            profile_picture_url: None,
            status: Status::Active,
            is_admin: false,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            version: 1,
            password_hash: Some("$argon2id$hash-secret".into()),
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
