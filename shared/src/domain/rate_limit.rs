//! Fixed rate-limit windows: the budgets, the window arithmetic and what a refusal tells
//! the client. The store counts hits per (action, subject, window) item with a conditional
//! write; config reads the budgets from the environment.

/// A `count/seconds` budget, as written in the `RATE_LIMIT_*` variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub window_secs: u64,
}

impl Limit {
    pub const fn new(count: u32, window_secs: u64) -> Self {
        Self { count, window_secs }
    }
}

/// The window a moment falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u64,
    pub end: u64,
}

impl Window {
    pub fn at(limit: Limit, now_secs: u64) -> Self {
        let start = now_secs - now_secs % limit.window_secs;
        Self {
            start,
            end: start + limit.window_secs,
        }
    }

    pub fn reset_secs(self, now_secs: u64) -> u64 {
        self.end.saturating_sub(now_secs).max(1)
    }
}

/// The actions that are limited, named as they appear in item keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    LoginAccount,
    LoginIp,
    RegisterIp,
    RefreshSession,
    PasswordUser,
    ForgotEmail,
    ForgotIp,
    VerifyResendUser,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::LoginAccount => "login_account",
            Action::LoginIp => "login_ip",
            Action::RegisterIp => "register_ip",
            Action::RefreshSession => "refresh_session",
            Action::PasswordUser => "password_user",
            Action::ForgotEmail => "forgot_email",
            Action::ForgotIp => "forgot_ip",
            Action::VerifyResendUser => "verify_resend_user",
        }
    }
}

/// What a 429 tells the client about the limit it hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets (also the `Retry-After`).
    pub reset_secs: u64,
}

impl RateLimited {
    /// The refusal of a hit at `now` in a full `window`.
    pub fn full(limit: Limit, window: Window, now_secs: u64) -> Self {
        Self {
            limit: limit.count,
            remaining: 0,
            reset_secs: window.reset_secs(now_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned() {
        let w = Window::at(Limit::new(5, 900), 1_000);
        assert_eq!((w.start, w.end), (900, 1_800));
        assert_eq!(w.reset_secs(1_000), 800);
        assert_eq!(w.reset_secs(1_800), 1);
        assert_eq!(Window::at(Limit::new(5, 900), 1_800).start, 1_800);
    }
}
