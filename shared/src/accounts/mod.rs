//! The account flows: sessions (login, refresh, logout, password change, credentials into a
//! principal) and recovery (one-time links: password reset, email verification,
//! invitations), and the bootstrap of the first admin. They sit above `users`, whose writes they use, and take the per-process
//! `Ctx` that sits below them.

pub mod bootstrap;
pub mod recovery;
pub mod sessions;

use crate::domain::rate_limit::Action;
use crate::{Ctx, Error};

/// Fails with 429 when `action` is over its limit for `subject`.
pub async fn limit(ctx: &Ctx, action: Action, subject: &str) -> Result<(), Error> {
    let limits = &ctx.config.rate_limits;
    let limit = match action {
        Action::LoginAccount => limits.login_account,
        Action::LoginIp => limits.login_ip,
        Action::RegisterIp => limits.register_ip,
        Action::RefreshSession => limits.refresh_session,
        Action::PasswordUser => limits.password_user,
        Action::ForgotEmail => limits.forgot_email,
        Action::ForgotIp => limits.forgot_ip,
        Action::VerifyResendUser => limits.verify_resend_user,
    };
    ctx.store
        .hit(action, subject, limit, ctx.clock.now_secs())
        .await?
        .map_err(Error::RateLimited)
}
