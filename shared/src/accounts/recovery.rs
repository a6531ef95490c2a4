//! Account recovery, email verification and invitations: one-time links mailed to an
//! account's address, and what redeeming them does. A link is a 256-bit token of which the
//! table keeps only the SHA-256; it works once, until it expires or a newer link of the same
//! purpose replaces it.

use tracing::Instrument;

use super::limit;
use crate::auth::passwords::{self, Verified};
use crate::auth::tokens::{random_secret, sha256_hex};
use crate::domain::input::{Changes, NewUser};
use crate::domain::passwords::{CurrentPassword, NewPassword};
use crate::domain::rate_limit::Action;
use crate::domain::tokens::{self, Purpose, TokenKind, TokenRecord};
use crate::domain::{
    Actor, AuditEvent, Email, LoginName, Principal, Status, Timestamp, User, UserId,
};
use crate::mail::templates;
use crate::users::{self, Outcome};
use crate::{AppState, Ctx, Error};

/// A link of `kind`: how long it works, the page it opens, and the mail that carries it.
type Render = fn(&str, std::time::Duration) -> templates::Message;

fn link_spec(ctx: &Ctx, kind: TokenKind) -> (std::time::Duration, &'static str, Render) {
    let mail = &ctx.config.mail;
    match kind {
        TokenKind::PasswordReset => (
            mail.reset_token_ttl,
            "reset-password",
            templates::password_reset,
        ),
        // An invitation is redeemed like a reset: it sets the first password.
        TokenKind::Invitation => (
            mail.invite_token_ttl,
            "reset-password",
            templates::invitation,
        ),
        TokenKind::EmailVerification => (
            mail.verify_token_ttl,
            "verify-email",
            templates::verification,
        ),
    }
}

/// A one-time link minted for a user: the record the table keeps (the secret's hash) and
/// the secret only the mail carries.
struct Link {
    record: TokenRecord,
    secret: String,
}

impl Link {
    fn mint(ctx: &Ctx, user: &User, kind: TokenKind) -> Self {
        let (ttl, _, _) = link_spec(ctx, kind);
        let secret = random_secret();
        let record = TokenRecord {
            hash: sha256_hex(&secret),
            kind,
            user_id: user.id,
            email_digest: sha256_hex(user.email.as_str()),
            created_at: Timestamp::now(),
            expires_at: ctx.clock.now_secs() + ttl.as_secs(),
        };
        Self { record, secret }
    }

    /// Mails the link to `user`; call it once the record is stored, so the link works by
    /// the time it arrives.
    async fn mail(&self, ctx: &Ctx, user: &User) {
        let (ttl, page, render) = link_spec(ctx, self.record.kind);
        let url = format!(
            "{}/{page}?token={}",
            ctx.config.mail.public_url, self.secret
        );
        ctx.mailer.send(&user.email, &render(&url, ttl)).await;
    }
}

/// Mints a link of `kind` for `user`, stores its hash (which voids older links of the same
/// purpose), and only then mails it.
#[tracing::instrument(skip_all, fields(kind = kind.as_str()))]
pub async fn send_link(ctx: &Ctx, user: &User, kind: TokenKind) -> Result<(), Error> {
    let link = Link::mint(ctx, user, kind);
    ctx.store.put_token(&link.record).await?;
    link.mail(ctx, user).await;
    Ok(())
}

/// `send_link` after a write that already succeeded (an email change): the
/// caller's answer stands, so a failure is logged, and the person can ask again.
async fn send_link_after(ctx: &Ctx, user: &User, kind: TokenKind) {
    if let Err(e) = send_link(ctx, user, kind).await {
        tracing::error!(error = ?e, kind = kind.as_str(), "could not issue a link");
    }
}

/// POST /auth/register: creates the user and, in the same transaction, the verification
/// link it is then mailed.
pub async fn register(ctx: &Ctx, new: NewUser, request_id: &str) -> Result<User, Error> {
    let kind = Some(TokenKind::EmailVerification);
    create_with_link(ctx, new, Actor::anonymous(), "registered", request_id, kind).await
}

/// Creates a user for an admin or a `users:write` key (POST /users, each item of POST
/// /users/bulk). One created without a password is mailed an invitation to set one.
pub async fn create_user(
    ctx: &Ctx,
    new: NewUser,
    actor: Actor,
    request_id: &str,
) -> Result<User, Error> {
    let kind = new.password.is_none().then_some(TokenKind::Invitation);
    create_with_link(ctx, new, actor, "created", request_id, kind).await
}

/// Creates a user with the link of `kind` its first mail carries, in one transaction (no
/// user is left without its link, and it costs no second round trip), then mails it.
async fn create_with_link(
    ctx: &Ctx,
    new: NewUser,
    actor: Actor,
    action: &str,
    request_id: &str,
    kind: Option<TokenKind>,
) -> Result<User, Error> {
    let user = users::new_user(new).await?;
    let link = kind.map(|kind| Link::mint(ctx, &user, kind));
    let record = link.as_ref().map(|l| &l.record);
    users::insert(ctx, &user, actor, action, request_id, record).await?;
    if let Some(link) = link {
        link.mail(ctx, &user).await;
    }
    Ok(user)
}

/// POST /auth/password/forgot. Answers alike for existing, unknown and deleted accounts:
/// the same rate limits (counted per address whether it exists or not), the same reads,
/// no error that only an existing account could cause, and the answer at
/// `FORGOT_MIN_RESPONSE_MS`, which covers the token write and the mail. A link still on its
/// way then (SES slow or down) goes on in the background rather than delay only the
/// answers about existing accounts.
#[tracing::instrument(skip_all)]
pub async fn forgot_password(
    ctx: &AppState,
    email: Email,
    ip: &str,
    request_id: &str,
) -> Result<(), Error> {
    limit(ctx, Action::ForgotIp, ip).await?;
    limit(ctx, Action::ForgotEmail, &sha256_hex(email.as_str())).await?;
    let answer_at = tokio::time::Instant::now() + ctx.config.mail.forgot_min_response;
    let work = mail_reset_link(AppState::clone(ctx), email, request_id.to_owned());
    let mut work = tokio::spawn(work.in_current_span());
    match tokio::time::timeout_at(answer_at, &mut work).await {
        // A failure that only an existing account can meet must not change the answer.
        Ok(Ok(Err(e))) => tracing::error!(error = ?e, "forgot-password could not send a link"),
        Ok(Err(panicked)) => {
            tracing::error!(error = %panicked, "forgot-password's mail task failed")
        }
        Ok(Ok(Ok(()))) => {}
        Err(_) => tracing::warn!("a reset link was still on its way when forgot-password answered"),
    }
    tokio::time::sleep_until(answer_at).await;
    Ok(())
}

/// The reset link of the account at `email`, if it has one that is not deleted.
async fn mail_reset_link(ctx: AppState, email: Email, request_id: String) -> Result<(), Error> {
    let owner = ctx.store.reserved_by(&LoginName::Email(email)).await?;
    // An unknown address still reads a (fresh, empty) user, like login does.
    let user = ctx.store.user(owner.unwrap_or_default()).await?;
    let Some(user) = user.filter(|u| u.status != Status::Deleted) else {
        return Ok(());
    };
    let event = AuditEvent::new(
        user.id,
        Actor::anonymous(),
        "password_reset_requested",
        &request_id,
    );
    ctx.store.append_audit(&event).await?;
    send_link(&ctx, &user, TokenKind::PasswordReset).await
}

/// The stored token behind a presented one, if it is well formed, live, of `purpose`, and
/// still speaks for its (existing, not deleted) user at the same address.
async fn live_token(ctx: &Ctx, raw: &str, purpose: Purpose) -> Result<(TokenRecord, User), Error> {
    if !tokens::is_well_formed(raw) {
        return Err(Error::invalid_link());
    }
    let now = ctx.clock.now_secs();
    let record = ctx
        .store
        .token(&sha256_hex(raw))
        .await?
        .filter(|t| t.kind.purpose() == purpose && t.is_live(now))
        .ok_or_else(Error::invalid_link)?;
    let user = ctx
        .store
        .user(record.user_id)
        .await?
        .filter(|u| speaks_for(&record, u))
        .ok_or_else(Error::invalid_link)?;
    Ok((record, user))
}

fn speaks_for(token: &TokenRecord, user: &User) -> bool {
    token.applies_to(user, &sha256_hex(user.email.as_str()))
}

/// Uses the token up; of concurrent redeemers exactly one gets past this.
async fn redeem(ctx: &Ctx, token: &TokenRecord) -> Result<(), Error> {
    if ctx.store.redeem_token(token).await? {
        Ok(())
    } else {
        Err(Error::invalid_link())
    }
}

/// The user after a redeemed link's change, re-checked on every attempt of `users::change`
/// (the account may have moved to another address or been deleted meanwhile).
fn redeemed(
    token: &TokenRecord,
    user: &User,
    change: impl Fn(&mut User),
    mut fields: Vec<&'static str>,
) -> Result<Outcome, Error> {
    if !speaks_for(token, user) {
        return Err(Error::invalid_link());
    }
    let mut after = user.clone();
    change(&mut after);
    if user.email_verified {
        fields.retain(|f| *f != "email_verified");
    }
    Ok(Outcome {
        after: Some(after),
        fields,
    })
}

/// POST /auth/password/reset, for reset links and invitations alike: sets the password
/// (policy applies), marks the email verified (the link proved the address), and ends
/// every session of the user.
///
/// The password is checked and hashed before the token is used up, so a policy error
/// leaves the link working. If the write after redeeming fails, the link is spent and the
/// account unchanged: the person asks for a new one.
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    ctx: &Ctx,
    raw_token: &str,
    new_password: &str,
    request_id: &str,
) -> Result<(), Error> {
    let (token, user) = live_token(ctx, raw_token, Purpose::SetPassword).await?;
    let new = NewPassword::parse(new_password, Some(&user.email), Some(&user.username))
        .map_err(|m| Error::field("new_password", m))?;
    let hash = passwords::hash(new.expose().to_owned()).await?;
    redeem(ctx, &token).await?;
    let action = match token.kind {
        TokenKind::Invitation => "invitation_accepted",
        _ => "password_reset",
    };
    users::change(
        ctx,
        user.id,
        None,
        &Actor::user(user.id),
        action,
        request_id,
        |u| {
            redeemed(
                &token,
                u,
                |after| {
                    after.password_hash = Some(hash.clone());
                    after.email_verified = true;
                },
                vec!["password", "email_verified"],
            )
        },
    )
    .await?;
    // Ending the sessions needs no call of its own: the new hash bumps the user's authority
    // version, which every session was made under, and `users::change` sweeps their items.
    Ok(())
}

/// POST /auth/verify-email: marks the address the link was mailed to as verified.
#[tracing::instrument(skip_all)]
pub async fn verify_email(ctx: &Ctx, raw_token: &str, request_id: &str) -> Result<User, Error> {
    let (token, user) = live_token(ctx, raw_token, Purpose::VerifyEmail).await?;
    redeem(ctx, &token).await?;
    users::change(
        ctx,
        user.id,
        None,
        &Actor::user(user.id),
        "email_verified",
        request_id,
        |u| {
            redeemed(
                &token,
                u,
                |after| after.email_verified = true,
                vec!["email_verified"],
            )
        },
    )
    .await?
    .0
    .ok_or_else(Error::invalid_link)
}

/// POST /auth/verify-email/resend: a fresh verification link, unless the address is
/// verified already (then nothing is sent, and the answer is the same).
#[tracing::instrument(skip(ctx))]
pub async fn resend_verification(ctx: &Ctx, user_id: UserId) -> Result<(), Error> {
    limit(ctx, Action::VerifyResendUser, &user_id.to_string()).await?;
    let user = ctx
        .store
        .user(user_id)
        .await?
        .ok_or_else(Error::invalid_token)?;
    if user.email_verified {
        return Ok(());
    }
    send_link(ctx, &user, TokenKind::EmailVerification).await
}

/// POST /users/{id}/invite: (re-)sends a set-password link to a user without a password.
#[tracing::instrument(skip(ctx, actor, request_id))]
pub async fn invite(ctx: &Ctx, id: UserId, actor: Actor, request_id: &str) -> Result<(), Error> {
    let user = ctx.store.user(id).await?.ok_or(Error::NotFound)?;
    if user.status == Status::Deleted {
        return Err(Error::conflict("conflict", "the user is deleted"));
    }
    if user.password_hash.is_some() {
        return Err(Error::conflict(
            "password_already_set",
            "the user has a password; they can reset it with POST /auth/password/forgot",
        ));
    }
    let event = AuditEvent::new(user.id, actor, "invitation_sent", request_id);
    ctx.store.append_audit(&event).await?;
    send_link(ctx, &user, TokenKind::Invitation).await
}

/// Checks the password a person gives to prove it is them (an email change), under the same
/// per-user limit as a password change.
async fn require_current_password(
    ctx: &Ctx,
    user: &User,
    given: Option<CurrentPassword>,
) -> Result<(), Error> {
    let given =
        given.ok_or_else(|| Error::field("current_password", "is required to change the email"))?;
    limit(ctx, Action::PasswordUser, &user.id.to_string()).await?;
    match passwords::verify(given.expose(), user.password_hash.clone()).await? {
        Verified::No => Err(Error::field("current_password", "is not correct")),
        Verified::Yes | Verified::YesRehashed(_) => Ok(()),
    }
}

/// PATCH of a profile (PATCH /auth/me, PATCH /users/{id}) with the rules of email
/// changes: changing one's own email needs the current password; the change clears
/// `email_verified` (`Changes::apply`); the new address gets a verification link and the
/// old one a notice.
#[tracing::instrument(skip_all, fields(%id))]
pub async fn update_profile(
    ctx: &Ctx,
    principal: &Principal,
    id: UserId,
    changes: &Changes,
    current_password: Option<CurrentPassword>,
    if_match: Option<&[u64]>,
    request_id: &str,
) -> Result<User, Error> {
    let before = match &changes.email {
        Some(email) => {
            let user = ctx.store.user(id).await?.ok_or(Error::NotFound)?;
            if principal.user_id() == Some(id) && *email != user.email {
                require_current_password(ctx, &user, current_password).await?;
            }
            Some(user)
        }
        None => None,
    };
    let after = users::update(ctx, id, changes, if_match, principal, request_id)
        .await?
        .user;
    if let Some(before) = before.filter(|b| b.email != after.email) {
        send_link_after(ctx, &after, TokenKind::EmailVerification).await;
        ctx.mailer
            .send(&before.email, &templates::email_changed())
            .await;
    }
    Ok(after)
}
