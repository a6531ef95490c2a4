//! Everything the service reads from its environment, validated once at start-up.
//!
//! Every problem is collected so that a misconfigured deployment reports all of its
//! mistakes in one start-up failure instead of one per redeploy.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

pub use crate::domain::rate_limit::Limit;

/// Reads a `count/seconds` budget of a `RATE_LIMIT_*` variable.
fn parse_limit(raw: &str) -> Result<Limit, String> {
    let (count, secs) = raw
        .split_once('/')
        .ok_or_else(|| format!("expected count/seconds, got {raw:?}"))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("count in {raw:?} is not a whole number"))?;
    let window_secs: u64 = secs
        .trim()
        .parse()
        .map_err(|_| format!("seconds in {raw:?} is not a whole number"))?;
    if count == 0 || window_secs == 0 {
        return Err(format!("{raw:?} must have a count and window above zero"));
    }
    Ok(Limit::new(count, window_secs))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub login_account: Limit,
    pub login_ip: Limit,
    pub register_ip: Limit,
    pub refresh_session: Limit,
    pub password_user: Limit,
    /// Forgot-password requests per address (hashed), whether or not it has an account.
    pub forgot_email: Limit,
    pub forgot_ip: Limit,
    /// Verification mails a signed-in user may ask for.
    pub verify_resend_user: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_account: Limit::new(5, 900),
            login_ip: Limit::new(30, 60),
            register_ip: Limit::new(10, 3600),
            refresh_session: Limit::new(30, 60),
            password_user: Limit::new(5, 60),
            forgot_email: Limit::new(3, 3600),
            forgot_ip: Limit::new(20, 3600),
            verify_resend_user: Limit::new(3, 3600),
        }
    }
}

/// Feature groups that can be switched off per deployment (`FEATURES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Feature {
    UsersExport,
    UsersExportFull,
    UsersImport,
    UsersBulk,
}

impl Feature {
    pub const ALL: [Feature; 4] = [
        Feature::UsersExport,
        Feature::UsersExportFull,
        Feature::UsersImport,
        Feature::UsersBulk,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Feature::UsersExport => "users:export",
            Feature::UsersExportFull => "users:export_full",
            Feature::UsersImport => "users:import",
            Feature::UsersBulk => "users:bulk",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features(BTreeSet<Feature>);

impl Features {
    pub fn all() -> Self {
        Self(Feature::ALL.into_iter().collect())
    }

    pub fn enabled(&self, feature: Feature) -> bool {
        self.0.contains(&feature)
    }

    fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Feature::parse(s).ok_or_else(|| format!("unknown feature {s:?}")))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }
}

/// The HMAC secret behind access tokens and cursors. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub const MIN_LEN: usize = 32;

    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < Self::MIN_LEN {
            return Err(format!("must be at least {} bytes", Self::MIN_LEN));
        }
        Ok(Self(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub bucket_name: String,
    pub jwt_secret: Secret,
    /// The secret being rotated out: tokens it signed still verify (by their `kid`), none
    /// are signed with it.
    pub jwt_secret_previous: Option<Secret>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub max_sessions_per_user: usize,
    pub rate_limits: RateLimits,
    pub features: Features,
    pub export_link_ttl: Duration,
    /// Parallel Scan segments an export reads the table with.
    pub export_scan_segments: u32,
    /// Size of an export's upload parts (bytes). An export holds about two in memory; S3
    /// takes at most 10,000 parts, so bigger parts allow bigger files.
    pub export_part_size: usize,
    /// Run job items in-process right after they are written, instead of leaving them to
    /// the table's stream (which nothing consumes locally): the local API and tests.
    pub run_jobs_inline: bool,
    pub s3_force_path_style: bool,
    /// The largest file an import accepts (checked with HeadObject before it is read).
    pub import_max_bytes: u64,
    /// Rows an import handles between two checkpoints.
    pub import_batch_rows: usize,
    /// Rows of a batch written at once.
    pub import_write_concurrency: usize,
    /// At most this long per run of an import before it checkpoints and continues in a
    /// fresh invocation (besides the Lambda deadline): forces continuations in tests.
    pub import_run_limit: Option<Duration>,
    /// Test hook: the run stops dead, as a crash would, after writing this many rows.
    pub import_fail_after_rows: Option<u64>,
    pub mail: MailConfig,
}

/// Account recovery, email verification and invitations: the sender, the links and how
/// long they work.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The SES identity mail is sent from (`EMAIL_FROM`).
    pub from: String,
    /// Where the reset and verification pages live; links are `<public_url>/reset-password?...`.
    pub public_url: String,
    pub reset_token_ttl: Duration,
    pub verify_token_ttl: Duration,
    pub invite_token_ttl: Duration,
    /// Login of an account whose email is not verified is refused (after the password check).
    pub require_verified_email: bool,
    /// Forgot-password answers no sooner than this, so that an existing account (a token
    /// write and a mail) takes as long as an unknown one (nothing to do).
    pub forgot_min_response: Duration,
}

/// All the problems found in the environment, one per line.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  {}", .0.join("\n  "))]
pub struct ConfigError(pub Vec<String>);

const MAX_LINK_TTL: u64 = 7 * 24 * 3600;
const MIB: usize = 1024 * 1024;

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut required = |key: &str| match lookup(key).filter(|v| !v.trim().is_empty()) {
            Some(v) => v,
            None => {
                problems.push(format!("{key} is required"));
                String::new()
            }
        };
        let table_name = required("TABLE_NAME");
        let bucket_name = required("BUCKET_NAME");
        let jwt_raw = required("JWT_SECRET");

        let mut vars = EnvReader {
            lookup: &lookup,
            problems,
        };
        let jwt_secret = if jwt_raw.is_empty() {
            None
        } else {
            Secret::new(jwt_raw.into_bytes())
                .map_err(|e| vars.problems.push(format!("JWT_SECRET {e}")))
                .ok()
        };
        let jwt_secret_previous = lookup("JWT_SECRET_PREVIOUS")
            .filter(|v| !v.is_empty())
            .and_then(|v| {
                Secret::new(v.into_bytes())
                    .map_err(|e| vars.problems.push(format!("JWT_SECRET_PREVIOUS {e}")))
                    .ok()
            });
        let defaults = RateLimits::default();
        let config = Config {
            table_name,
            bucket_name,
            jwt_secret: jwt_secret.unwrap_or_else(|| Secret(vec![0; Secret::MIN_LEN])),
            jwt_secret_previous,
            jwt_issuer: vars.string("JWT_ISSUER", "userhub"),
            jwt_audience: vars.string("JWT_AUDIENCE", "userhub"),
            access_token_ttl: vars.seconds("ACCESS_TOKEN_TTL", 900, 60, 86_400),
            refresh_token_ttl: vars.seconds("REFRESH_TOKEN_TTL", 7 * 86_400, 300, 90 * 86_400),
            max_sessions_per_user: vars.number("MAX_SESSIONS_PER_USER", 10, 1, 50) as usize,
            rate_limits: RateLimits {
                login_account: vars.limit("RATE_LIMIT_LOGIN_ACCOUNT", defaults.login_account),
                login_ip: vars.limit("RATE_LIMIT_LOGIN_IP", defaults.login_ip),
                register_ip: vars.limit("RATE_LIMIT_REGISTER_IP", defaults.register_ip),
                refresh_session: vars.limit("RATE_LIMIT_REFRESH_SESSION", defaults.refresh_session),
                password_user: vars.limit("RATE_LIMIT_PASSWORD_USER", defaults.password_user),
                forgot_email: vars.limit("RATE_LIMIT_FORGOT_EMAIL", defaults.forgot_email),
                forgot_ip: vars.limit("RATE_LIMIT_FORGOT_IP", defaults.forgot_ip),
                verify_resend_user: vars
                    .limit("RATE_LIMIT_VERIFY_RESEND_USER", defaults.verify_resend_user),
            },
            features: vars.features(),
            export_link_ttl: vars.seconds("EXPORT_LINK_TTL", 900, 1, MAX_LINK_TTL),
            export_scan_segments: vars.number("EXPORT_SCAN_SEGMENTS", 4, 1, 256) as u32,
            // S3's minimum part is 5 MiB; more than 64 MiB buys nothing at Lambda's sizes.
            export_part_size: vars.number("EXPORT_PART_SIZE_MIB", 8, 5, 64) as usize * MIB,
            run_jobs_inline: vars.flag("RUN_JOBS_INLINE"),
            s3_force_path_style: vars.flag("S3_FORCE_PATH_STYLE"),
            import_max_bytes: vars.number("IMPORT_MAX_MIB", 512, 1, 5 * 1024) * MIB as u64,
            import_batch_rows: vars.number("IMPORT_BATCH_ROWS", 500, 1, 5_000) as usize,
            import_write_concurrency: vars.number("IMPORT_WRITE_CONCURRENCY", 16, 1, 256) as usize,
            import_run_limit: vars
                .optional_number("IMPORT_RUN_SECONDS", 1, 86_400)
                .map(Duration::from_secs),
            import_fail_after_rows: vars.optional_number("IMPORT_FAIL_AFTER_ROWS", 0, u64::MAX),
            mail: MailConfig {
                from: vars.sender("EMAIL_FROM", "noreply@userhub.localhost"),
                public_url: vars.public_url("PUBLIC_URL", "http://127.0.0.1:3000"),
                reset_token_ttl: vars.seconds("RESET_TOKEN_TTL", 1800, 60, 86_400),
                verify_token_ttl: vars.seconds("VERIFY_TOKEN_TTL", 2 * 86_400, 60, 30 * 86_400),
                invite_token_ttl: vars.seconds("INVITE_TOKEN_TTL", 7 * 86_400, 60, 30 * 86_400),
                require_verified_email: vars.flag("REQUIRE_VERIFIED_EMAIL"),
                forgot_min_response: Duration::from_millis(vars.number(
                    "FORGOT_MIN_RESPONSE_MS",
                    400,
                    0,
                    5_000,
                )),
            },
        };
        if vars.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(vars.problems))
        }
    }
}

/// Reads the variables through `lookup`, collecting every problem instead of stopping at
/// the first (each reader returns its default after noting what was wrong).
struct EnvReader<'a, F> {
    lookup: &'a F,
    problems: Vec<String>,
}

impl<F: Fn(&str) -> Option<String>> EnvReader<'_, F> {
    fn raw(&self, key: &str) -> Option<String> {
        (self.lookup)(key).filter(|v| !v.trim().is_empty())
    }

    fn string(&mut self, key: &str, default: &str) -> String {
        self.raw(key).unwrap_or_else(|| default.to_owned())
    }

    fn number(&mut self, key: &str, default: u64, min: u64, max: u64) -> u64 {
        let Some(raw) = self.raw(key) else {
            return default;
        };
        match raw.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                self.problems.push(format!(
                    "{key} must be a whole number from {min} to {max}, got {raw:?}"
                ));
                default
            }
        }
    }

    fn optional_number(&mut self, key: &str, min: u64, max: u64) -> Option<u64> {
        self.raw(key).map(|_| self.number(key, min, min, max))
    }

    fn seconds(&mut self, key: &str, default: u64, min: u64, max: u64) -> Duration {
        Duration::from_secs(self.number(key, default, min, max))
    }

    fn limit(&mut self, key: &str, default: Limit) -> Limit {
        match self.raw(key).map(|raw| parse_limit(&raw)) {
            None => default,
            Some(Ok(limit)) => limit,
            Some(Err(e)) => {
                self.problems.push(format!("{key}: {e}"));
                default
            }
        }
    }

    fn features(&mut self) -> Features {
        match (self.lookup)("FEATURES").map(|raw| Features::parse(&raw)) {
            None => Features::all(),
            Some(Ok(features)) => features,
            Some(Err(e)) => {
                self.problems.push(format!("FEATURES: {e}"));
                Features::all()
            }
        }
    }

    /// A bare address: SES sends from a verified identity, and the IAM policy names it.
    fn sender(&mut self, key: &str, default: &str) -> String {
        let raw = self.string(key, default);
        match crate::domain::Email::parse(&raw) {
            Ok(email) => email.as_str().to_owned(),
            Err(e) => {
                self.problems.push(format!("{key} {e}, got {raw:?}"));
                raw
            }
        }
    }

    /// An absolute http(s) URL without a trailing slash, so links are `<url>/path`.
    fn public_url(&mut self, key: &str, default: &str) -> String {
        let raw = self.string(key, default);
        match url::Url::parse(&raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.query().is_none() => {
                raw.trim_end_matches('/').to_owned()
            }
            _ => {
                self.problems.push(format!(
                    "{key} must be an absolute http(s) URL without a query, got {raw:?}"
                ));
                raw
            }
        }
    }

    fn flag(&mut self, key: &str) -> bool {
        match self.raw(key).as_deref().map(str::trim) {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(other) => {
                self.problems
                    .push(format!("{key} must be true or false, got {other:?}"));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const BASE: [(&str, &str); 3] = [
        ("TABLE_NAME", "t"),
        ("BUCKET_NAME", "b"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    #[test]
    fn defaults_apply() {
        let c = config(&BASE).unwrap();
        assert_eq!(c.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.rate_limits, RateLimits::default());
        assert!(c.features.enabled(Feature::UsersBulk));
        assert_eq!(c.max_sessions_per_user, 10);
        assert_eq!(c.export_scan_segments, 4);
        assert_eq!(c.export_part_size, 8 * 1024 * 1024);
        assert!(!c.run_jobs_inline);
        assert_eq!(c.import_max_bytes, 512 * 1024 * 1024);
        assert_eq!(c.import_run_limit, None);
        assert_eq!(c.import_fail_after_rows, None);
        assert_eq!(c.mail.reset_token_ttl, Duration::from_secs(1800));
        assert_eq!(c.mail.verify_token_ttl, Duration::from_secs(2 * 86_400));
        assert_eq!(c.mail.invite_token_ttl, Duration::from_secs(7 * 86_400));
        assert!(!c.mail.require_verified_email);
    }

    #[test]
    fn mail_settings_are_checked() {
        let mut vars = BASE.to_vec();
        vars.push(("EMAIL_FROM", "not an address"));
        vars.push(("PUBLIC_URL", "ftp://example.com"));
        let text = config(&vars).unwrap_err().to_string();
        assert!(
            text.contains("EMAIL_FROM") && text.contains("PUBLIC_URL"),
            "{text}"
        );
        let mut vars = BASE.to_vec();
        vars.push(("EMAIL_FROM", "NoReply@Example.com"));
        vars.push(("PUBLIC_URL", "https://app.example.com/"));
        let c = config(&vars).unwrap();
        assert_eq!(c.mail.from, "noreply@example.com");
        assert_eq!(c.mail.public_url, "https://app.example.com");
    }

    #[test]
    fn reports_every_problem_at_once() {
        let err = config(&[
            ("JWT_SECRET", "short"),
            ("RATE_LIMIT_LOGIN_IP", "abc"),
            ("FEATURES", "users:nope"),
        ])
        .unwrap_err();
        let text = err.to_string();
        for needle in [
            "TABLE_NAME",
            "BUCKET_NAME",
            "JWT_SECRET",
            "RATE_LIMIT_LOGIN_IP",
            "FEATURES",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn parses_limits_and_features() {
        let mut vars = BASE.to_vec();
        vars.push(("RATE_LIMIT_LOGIN_ACCOUNT", "3/60"));
        vars.push(("FEATURES", "users:export, users:bulk"));
        let c = config(&vars).unwrap();
        assert_eq!(c.rate_limits.login_account, Limit::new(3, 60));
        assert!(c.features.enabled(Feature::UsersExport));
        assert!(!c.features.enabled(Feature::UsersImport));
    }

    #[test]
    fn secret_debug_hides_bytes() {
        let mut vars = BASE.to_vec();
        vars.push(("JWT_SECRET_PREVIOUS", "fedcba9876543210fedcba9876543210"));
        let c = config(&vars).unwrap();
        assert!(c.jwt_secret_previous.is_some());
        let debug = format!("{c:?}");
        assert!(!debug.contains("0123456789abcdef") && !debug.contains("fedcba98"));
    }

    #[test]
    fn a_previous_secret_is_optional_but_as_strong() {
        assert!(config(&BASE).unwrap().jwt_secret_previous.is_none());
        let mut vars = BASE.to_vec();
        vars.push(("JWT_SECRET_PREVIOUS", "short"));
        let err = config(&vars).unwrap_err().to_string();
        assert!(err.contains("JWT_SECRET_PREVIOUS"), "{err}");
    }
}
