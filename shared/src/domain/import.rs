//! Imports as the domain sees them: what was asked for (format, mode, dry run), how far its
//! job got, and the rules that turn one row of a file into a user: the columns and their
//! aliases, the older systems' booleans and dates, ids kept or mapped, usernames derived,
//! password hashes recognised. Pure types and functions; running a job is `crate::import`'s.

use serde::{Deserialize, Serialize};

use super::export::FORMULA_STARTS;
use super::input::Errors;
use super::passwords::NewPassword;
use super::FieldError;
use super::{DisplayName, Email, PictureUrl, Status, Timestamp, UserId, Username};

macro_rules! names {
    ($ty:ident { $($variant:ident = $name:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum $ty {
            $(#[serde(rename = $name)] $variant),+
        }

        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == raw)
            }
        }
    };
}

names!(ImportFormat { Csv = "csv", Json = "json", Ndjson = "ndjson" });
names!(ImportMode { Create = "create", Upsert = "upsert" });
names!(ImportStatus {
    AwaitingUpload = "awaiting_upload",
    Pending = "pending",
    Running = "running",
    Succeeded = "succeeded",
    Failed = "failed",
});
names!(Outcome {
    Created = "created",
    Updated = "updated",
    Unchanged = "unchanged",
    Failed = "failed",
    Valid = "valid",
});

impl ImportStatus {
    pub fn has_ended(self) -> bool {
        matches!(self, ImportStatus::Succeeded | ImportStatus::Failed)
    }
}

/// The body of POST /imports, as sent.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportInput {
    pub format: Option<String>,
    pub mode: Option<String>,
    pub dry_run: Option<bool>,
}

/// A validated import request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportRequest {
    pub format: ImportFormat,
    pub mode: ImportMode,
    pub dry_run: bool,
}

impl ImportInput {
    pub fn validate(&self) -> Result<ImportRequest, Vec<FieldError>> {
        let mut errs = Errors::default();
        let format = errs.require("format", &self.format).and_then(|f| {
            errs.check(
                "format",
                ImportFormat::parse(f).ok_or("must be csv, json or ndjson"),
            )
        });
        let mode = match &self.mode {
            None => Some(ImportMode::Create),
            Some(m) => errs.check(
                "mode",
                ImportMode::parse(m).ok_or("must be create or upsert"),
            ),
        };
        errs.finish(|| {
            Some(ImportRequest {
                format: format?,
                mode: mode?,
                dry_run: self.dry_run.unwrap_or(false),
            })
        })
    }
}

/// How many rows ended which way. `total` is known once the file has been read through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub total: Option<u64>,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
}

impl Counts {
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged | Outcome::Valid => self.unchanged += 1,
            Outcome::Failed => self.failed += 1,
        }
    }

    /// Rows accounted for so far.
    pub fn done(&self) -> u64 {
        self.created + self.updated + self.unchanged + self.failed
    }
}

/// An import job. `position` (rows handled, counted and reported so far), `checked` (the
/// whole file was read once and found well-formed), the actor kind and the S3 keys are
/// bookkeeping that never leaves the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportJob {
    pub id: String,
    pub status: ImportStatus,
    pub format: ImportFormat,
    pub mode: ImportMode,
    pub dry_run: bool,
    pub requested_by: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub error: Option<String>,
    #[serde(skip)]
    pub position: u64,
    #[serde(skip)]
    pub checked: bool,
    /// Where the report is in S3, once the import has ended.
    #[serde(skip)]
    pub report_key: Option<String>,
}

impl ImportJob {
    /// A new job waiting for its file, with a time-ordered id (lists are newest first).
    pub fn new(request: ImportRequest, requested_by: String) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            status: ImportStatus::AwaitingUpload,
            format: request.format,
            mode: request.mode,
            dry_run: request.dry_run,
            requested_by,
            counts: Counts::default(),
            created_at: Timestamp::now(),
            started_at: None,
            completed_at: None,
            error: None,
            position: 0,
            checked: false,
            report_key: None,
        }
    }

    /// Only a person (`user:<id>`, an admin by the route's rules) or an operator with the
    /// deployment's own credentials (`system`, `userhub-admin import`) may import admins; an
    /// API key never holds admin power.
    pub fn may_import_admins(&self) -> bool {
        self.requested_by.starts_with("user:") || self.requested_by == "system"
    }

    /// Whether `raw` could be an import id at all (a UUID); anything else names no import.
    pub fn is_id(raw: &str) -> bool {
        uuid::Uuid::try_parse(raw).is_ok()
    }

    /// The id a row's new user gets when the file gives no UUID: derived from the import and
    /// the row, so a row retried after a crash recreates the same user rather than a second
    /// one. Time-ordered (UUIDv7) on the import's creation time.
    pub fn user_id_for_row(&self, row: u64) -> UserId {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{}#{row}", self.id));
        let mut random = [0u8; 10];
        random.copy_from_slice(&digest[..10]);
        let millis = self.created_at.unix_millis().max(0) as u64;
        let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        UserId::parse(&uuid.to_string()).unwrap_or_default()
    }

    /// The marker a user created by `row` of this import carries, so that a retry can tell
    /// its own earlier write from a user that was there before.
    pub fn row_marker(&self, row: u64) -> String {
        format!("{}#{row}", self.id)
    }
}

/// The columns an import file may have (CSV header or JSON keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Email,
    Username,
    Name,
    DisplayName,
    PictureUrl,
    IsAdmin,
    EmailVerified,
    Status,
    IsActive,
    IsDeleted,
    Id,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
    Password,
    PasswordHash,
}

impl Column {
    const ALL: [(Column, &'static str); 16] = [
        (Column::Email, "email"),
        (Column::Username, "username"),
        (Column::Name, "name"),
        (Column::DisplayName, "display_name"),
        (Column::PictureUrl, "profile_picture_url"),
        (Column::IsAdmin, "is_admin"),
        (Column::EmailVerified, "email_verified"),
        (Column::Status, "status"),
        (Column::IsActive, "is_active"),
        (Column::IsDeleted, "is_deleted"),
        (Column::Id, "id"),
        (Column::CreatedAt, "created_at"),
        (Column::UpdatedAt, "updated_at"),
        (Column::LastLoginAt, "last_login_at"),
        (Column::Password, "password"),
        (Column::PasswordHash, "password_hash"),
    ];

    /// Header names match case-insensitively, ignoring surrounding blanks.
    pub fn parse(raw: &str) -> Option<Self> {
        let name = raw.trim().to_ascii_lowercase();
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(c, _)| *c)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("", |(_, n)| n)
    }
}

/// The file names columns this service does not know; the file fails before any write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown column{}: {}", if .0.len() == 1 { "" } else { "s" }, .0.join(", "))]
pub struct UnknownColumns(pub Vec<String>);

/// Maps a header to columns, naming every unknown one.
pub fn columns(header: &[&str]) -> Result<Vec<Column>, UnknownColumns> {
    let mut unknown = Vec::new();
    let mut known = Vec::new();
    for name in header {
        match Column::parse(name) {
            Some(c) => known.push(c),
            None => unknown.push(format!("{:?}", name.trim())),
        }
    }
    if unknown.is_empty() {
        Ok(known)
    } else {
        Err(UnknownColumns(unknown))
    }
}

/// Undoes the export's formula protection: a `'` before `= + - @`, tab, CR or LF.
pub fn unprotect(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

/// One row of a file as read: its 1-based number and its non-empty cells.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawRow {
    pub number: u64,
    pub cells: Vec<(Column, String)>,
}

/// Cells may hold passwords and hashes: never print them.
impl std::fmt::Debug for RawRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRow")
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

impl RawRow {
    /// The row's `id` when it is not a UUID: the caller's own id, reported for mapping.
    pub fn source_id(&self) -> Option<String> {
        self.get(Column::Id)
            .map(str::trim)
            .filter(|v| UserId::parse(v).is_none())
            .map(str::to_owned)
    }

    fn get(&self, column: Column) -> Option<&str> {
        self.cells
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a row failed: one per invalid field, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl RowError {
    pub fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }
}

/// A row's credential: a plain password (hashed on import) or a recognised hash.
pub enum Credential {
    Plain(NewPassword),
    Hash(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::Plain(_) => "Plain(..)",
            Credential::Hash(_) => "Hash(..)",
        })
    }
}

/// A row that passed validation. `None` is an absent cell: it is not compared in an upsert,
/// and a created user gets the default.
#[derive(Debug)]
pub struct ImportRow {
    pub number: u64,
    pub email: Email,
    /// The row names an account anonymised earlier (its placeholder email and `id`): it
    /// can only match that account, never create one.
    pub anonymised: bool,
    pub username: Option<Username>,
    pub display_name: Option<DisplayName>,
    pub profile_picture_url: Option<PictureUrl>,
    pub is_admin: Option<bool>,
    /// The importer vouches for the address, as an admin creating the user may.
    pub email_verified: Option<bool>,
    pub status: Option<Status>,
    pub id: Option<UserId>,
    pub source_id: Option<String>,
    pub created_at: Option<Timestamp>,
    /// Informational: a created user keeps it (not before `created_at`), so that a
    /// re-imported export shows the same user; an upsert never compares it.
    pub updated_at: Option<Timestamp>,
    pub last_login_at: Option<Timestamp>,
    pub credential: Option<Credential>,
}

/// Validates one row like POST /users, collecting every invalid field.
pub fn validate_row(raw: &RawRow, may_import_admins: bool) -> Result<ImportRow, Vec<RowError>> {
    let mut errors = Vec::new();
    fn invalid(errors: &mut Vec<RowError>, field: &str, message: &str) {
        errors.push(RowError::new(field, "invalid", message));
    }
    let id = raw.get(Column::Id).and_then(|v| UserId::parse(v.trim()));
    let source_id = raw.source_id();
    let placeholder =
        id.filter(|id| raw.get(Column::Email) == Some(Email::anonymised(*id).as_str()));
    let email = match (raw.get(Column::Email), placeholder) {
        (_, Some(id)) => Some(Email::anonymised(id)),
        (None, None) => {
            errors.push(RowError::new("email", "required", "is required"));
            None
        }
        (Some(e), None) => Email::parse(e)
            .map_err(|m| invalid(&mut errors, "email", m))
            .ok(),
    };
    let username = match (raw.get(Column::Username), placeholder) {
        (Some(u), Some(id)) if u == Username::anonymised(id).as_str() => None,
        (Some(u), _) => Username::parse(u)
            .map_err(|m| invalid(&mut errors, "username", m))
            .ok(),
        (None, _) => None,
    };
    let name = one_of(raw, Column::Name, Column::DisplayName, &mut errors);
    let display_name = name
        .and_then(|(field, v)| {
            DisplayName::parse(v)
                .map_err(|m| invalid(&mut errors, field, m))
                .ok()
        })
        .flatten();
    let profile_picture_url = raw
        .get(Column::PictureUrl)
        .and_then(|v| {
            PictureUrl::parse(v)
                .map_err(|m| invalid(&mut errors, "profile_picture_url", m))
                .ok()
        })
        .flatten();
    let is_admin = raw.get(Column::IsAdmin).and_then(|v| {
        boolean(v)
            .map_err(|m| invalid(&mut errors, "is_admin", m))
            .ok()
    });
    if is_admin == Some(true) && !may_import_admins {
        errors.push(RowError::new(
            "is_admin",
            "admin_needs_person",
            "only an admin person can import admins, not an API key",
        ));
    }
    let email_verified = raw.get(Column::EmailVerified).and_then(|v| {
        boolean(v)
            .map_err(|m| invalid(&mut errors, "email_verified", m))
            .ok()
    });
    let status = status(raw, &mut errors);
    let created_at = time(raw, Column::CreatedAt, &mut errors);
    let last_login_at = time(raw, Column::LastLoginAt, &mut errors);
    let updated_at = time(raw, Column::UpdatedAt, &mut errors);
    let credential = match one_of(raw, Column::Password, Column::PasswordHash, &mut errors) {
        Some(("password", p)) => NewPassword::parse(p, email.as_ref(), username.as_ref())
            .map(Credential::Plain)
            .map_err(|m| errors.push(RowError::new("password", "invalid", m)))
            .ok(),
        Some((_, h)) => check_hash(h)
            .map(|()| Credential::Hash(h.trim().to_owned()))
            .map_err(|m| errors.push(RowError::new("password_hash", "invalid", m)))
            .ok(),
        None => None,
    };
    match email {
        Some(email) if errors.is_empty() => Ok(ImportRow {
            number: raw.number,
            email,
            anonymised: placeholder.is_some(),
            username,
            display_name,
            profile_picture_url,
            is_admin,
            email_verified,
            status,
            id,
            source_id,
            created_at,
            updated_at,
            last_login_at,
            credential,
        }),
        _ => Err(errors),
    }
}

/// What an upsert row makes of an existing user: the user afterwards and the fields that
/// changed (none: the row is unchanged). Only the row's present columns are compared;
/// `password_hash` is the hash to store when the row's credential differs from the
/// stored one (the caller verifies plain passwords). Status moves to or from `deleted`
/// only through DELETE, restore and anonymize, never through an import.
pub fn apply_row(
    row: &ImportRow,
    user: &super::User,
    password_hash: Option<String>,
) -> Result<(super::User, Vec<&'static str>), RowError> {
    let mut after = user.clone();
    let mut changed = Vec::new();
    macro_rules! set {
        ($field:ident, $value:expr) => {
            if let Some(v) = $value {
                if after.$field != v {
                    after.$field = v;
                    changed.push(stringify!($field));
                }
            }
        };
    }
    if let Some(status) = row.status {
        if status != user.status && (status == Status::Deleted || user.status == Status::Deleted) {
            return Err(RowError::new(
                "status",
                "status_transition",
                "an import cannot delete or restore a user; use DELETE or restore",
            ));
        }
    }
    set!(username, row.username.clone());
    set!(display_name, row.display_name.clone().map(Some));
    set!(
        profile_picture_url,
        row.profile_picture_url.clone().map(Some)
    );
    set!(is_admin, row.is_admin);
    set!(email_verified, row.email_verified);
    set!(status, row.status);
    if let Some(hash) = password_hash {
        if after.password_hash.as_deref() != Some(hash.as_str()) {
            after.password_hash = Some(hash);
            changed.push("password");
        }
    }
    Ok((after, changed))
}

/// The value of whichever of two alias columns the row fills; both filled is an error.
fn one_of<'a>(
    raw: &'a RawRow,
    a: Column,
    b: Column,
    errors: &mut Vec<RowError>,
) -> Option<(&'static str, &'a str)> {
    match (raw.get(a), raw.get(b)) {
        (Some(_), Some(_)) => {
            errors.push(RowError::new(
                b.name(),
                "conflicting_columns",
                format!("give {} or {}, not both", a.name(), b.name()),
            ));
            None
        }
        (Some(v), None) => Some((a.name(), v)),
        (None, Some(v)) => Some((b.name(), v)),
        (None, None) => None,
    }
}

/// `status`, or the older `is_active` / `is_deleted` pair (deleted wins).
fn status(raw: &RawRow, errors: &mut Vec<RowError>) -> Option<Status> {
    let mut flag = |column: Column| {
        raw.get(column).and_then(|v| {
            boolean(v)
                .map_err(|m| errors.push(RowError::new(column.name(), "invalid", m)))
                .ok()
        })
    };
    let active = flag(Column::IsActive);
    let deleted = flag(Column::IsDeleted);
    let legacy = match (active, deleted) {
        (_, Some(true)) => Some(Status::Deleted),
        (Some(true), _) => Some(Status::Active),
        (Some(false), _) => Some(Status::Inactive),
        (None, Some(false)) => Some(Status::Active),
        (None, None) => None,
    };
    match (raw.get(Column::Status), legacy) {
        (Some(_), Some(_)) => {
            errors.push(RowError::new(
                "status",
                "conflicting_columns",
                "give status or is_active/is_deleted, not both",
            ));
            None
        }
        (Some(s), None) => s
            .trim()
            .to_ascii_lowercase()
            .parse()
            .map_err(|m| errors.push(RowError::new("status", "invalid", m)))
            .ok(),
        (None, legacy) => legacy,
    }
}

fn time(raw: &RawRow, column: Column, errors: &mut Vec<RowError>) -> Option<Timestamp> {
    raw.get(column).and_then(|v| {
        parse_time(v)
            .ok_or_else(|| {
                errors.push(RowError::new(
                    column.name(),
                    "invalid",
                    "must be an ISO 8601 date or date and time",
                ))
            })
            .ok()
    })
}

/// The booleans older exports write: true/false, 1/0, yes/no, t/f.
pub fn boolean(raw: &str) -> Result<bool, &'static str> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "f" | "n" => Ok(false),
        _ => Err("must be true or false"),
    }
}

/// RFC 3339, or the ISO 8601 forms older systems export without a zone (read as UTC):
/// `2019-03-04 10:20:30[.123]`, `2019-03-04T10:20:30[.123]`, `2019-03-04`.
pub fn parse_time(raw: &str) -> Option<Timestamp> {
    use chrono::{NaiveDate, NaiveDateTime};
    let raw = raw.trim();
    if let Some(t) = Timestamp::parse(raw) {
        return Some(t);
    }
    let naive = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    Timestamp::from_millis(naive.and_utc().timestamp_millis())
}

/// A username made from the email's local part: lowercased, other characters turned into
/// `_`, starting with a letter or digit, 3..32 characters. `attempt` > 0 appends `-<n>`
/// to find a free one.
pub fn derive_username(email: &Email, attempt: u32) -> Username {
    let local = email.as_str().split('@').next().unwrap_or_default();
    let mut base: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .collect();
    if base.is_empty() {
        base.push('u');
    }
    while base.len() < 3 {
        base.push('0');
    }
    let suffix = if attempt == 0 {
        String::new()
    } else {
        format!("-{attempt}")
    };
    base.truncate(32 - suffix.len());
    Username::parse(&format!("{base}{suffix}")).unwrap_or_else(|_| Username::from_store("user"))
}

/// Highest work factors accepted, so an imported hash cannot make a login cost minutes.
const MAX_PBKDF2_ITERATIONS: u64 = 10_000_000;
const MAX_BCRYPT_COST: u32 = 16;
/// scrypt needs 128 · r · 2^ln bytes: at most 64 MiB per login.
const MAX_SCRYPT_BYTES: u64 = 64 * 1024 * 1024;

fn scrypt_fits(log_n: u32, r: u32) -> bool {
    log_n < 32 && 128 * u64::from(r) * (1u64 << log_n) <= MAX_SCRYPT_BYTES
}

/// Whether `raw` is a password hash in a format logins can verify; the shape is checked
/// here, the cryptography at login.
pub fn check_hash(raw: &str) -> Result<(), &'static str> {
    let raw = raw.trim();
    let unsupported = "is not a supported hash (argon2id, argon2i, bcrypt, PBKDF2-SHA256, scrypt, Firebase scrypt)";
    if let Some(rest) = raw.strip_prefix("pbkdf2_sha256$") {
        let parts: Vec<&str> = rest.split('$').collect();
        return match parts.as_slice() {
            [iterations, salt, hash] if !salt.is_empty() && !hash.is_empty() => {
                match iterations.parse::<u64>() {
                    Ok(n) if (1..=MAX_PBKDF2_ITERATIONS).contains(&n) => Ok(()),
                    _ => Err("has an invalid iteration count"),
                }
            }
            _ => Err("is not a valid Django pbkdf2_sha256 hash"),
        };
    }
    if let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| raw.strip_prefix(p))
    {
        let cost = rest.get(..2).and_then(|c| c.parse::<u32>().ok());
        let body = rest.get(3..).unwrap_or_default();
        let ok = raw.len() == 60
            && rest.as_bytes().get(2) == Some(&b'$')
            && cost.is_some_and(|c| (4..=MAX_BCRYPT_COST).contains(&c))
            && body
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '/');
        return ok.then_some(()).ok_or("is not a valid bcrypt hash");
    }
    if let Some(rest) = raw.strip_prefix(FIREBASE_PREFIX) {
        return FirebaseScrypt::parse(rest)
            .map(|_| ())
            .ok_or("is not a valid Firebase scrypt hash");
    }
    let phc = argon2::password_hash::PasswordHash::new(raw).map_err(|_| unsupported)?;
    let param = |name: &str| phc.params.get_decimal(name);
    let ok = match phc.algorithm.as_str() {
        "argon2id" | "argon2i" => phc.hash.is_some(),
        "pbkdf2-sha256" => param("i").is_some_and(|i| u64::from(i) <= MAX_PBKDF2_ITERATIONS),
        "scrypt" => match (param("ln"), param("r")) {
            (Some(ln), Some(r)) => scrypt_fits(ln, r),
            (Some(ln), None) => scrypt_fits(ln, 8),
            _ => false,
        },
        _ => return Err(unsupported),
    };
    (ok && phc.hash.is_some() && phc.salt.is_some())
        .then_some(())
        .ok_or("has invalid parameters")
}

/// Firebase's scrypt variant, written as one column:
/// `$firebase-scrypt$r=<rounds>,m=<mem_cost>$<signer key>$<salt separator>$<salt>$<hash>`,
/// the last four in standard base64 exactly as Firebase's `auth:export` and its project's
/// hash parameters give them.
pub const FIREBASE_PREFIX: &str = "$firebase-scrypt$";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirebaseScrypt {
    pub rounds: u32,
    pub mem_cost: u32,
    pub signer_key: Vec<u8>,
    pub salt_separator: Vec<u8>,
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
}

impl FirebaseScrypt {
    /// Parses what follows `FIREBASE_PREFIX`.
    pub fn parse(rest: &str) -> Option<Self> {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        let mut parts = rest.split('$');
        let params = parts.next()?;
        let (mut rounds, mut mem_cost) = (None, None);
        for kv in params.split(',') {
            match kv.split_once('=')? {
                ("r", v) => rounds = v.parse::<u32>().ok(),
                ("m", v) => mem_cost = v.parse::<u32>().ok(),
                _ => return None,
            }
        }
        let mut next = || parts.next().and_then(|p| STANDARD.decode(p).ok());
        let parsed = Self {
            rounds: rounds.filter(|r| (1..=16).contains(r))?,
            mem_cost: mem_cost.filter(|m| *m >= 1 && scrypt_fits(*m, rounds.unwrap_or(0)))?,
            signer_key: next()?,
            salt_separator: next()?,
            salt: next()?,
            hash: next()?,
        };
        (parts.next().is_none() && !parsed.hash.is_empty()).then_some(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[(Column, &str)]) -> RawRow {
        RawRow {
            number: 1,
            cells: cells.iter().map(|(c, v)| (*c, v.to_string())).collect(),
        }
    }

    #[test]
    fn requests_validate() {
        let ok = ImportInput {
            format: Some("ndjson".into()),
            mode: None,
            dry_run: Some(true),
        };
        assert_eq!(
            ok.validate().unwrap(),
            ImportRequest {
                format: ImportFormat::Ndjson,
                mode: ImportMode::Create,
                dry_run: true
            }
        );
        let bad = ImportInput {
            format: Some("xlsx".into()),
            mode: Some("merge".into()),
            dry_run: None,
        };
        let fields: Vec<String> = bad
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["format", "mode"]);
    }

    #[test]
    fn unknown_columns_are_all_named() {
        assert_eq!(
            columns(&["Email", " name ", "is_deleted"]).unwrap(),
            [Column::Email, Column::Name, Column::IsDeleted]
        );
        let err = columns(&["email", "phone", "role"]).unwrap_err();
        assert_eq!(err.to_string(), "unknown columns: \"phone\", \"role\"");
    }

    #[test]
    fn older_exports_map_to_users() {
        let r = validate_row(
            &row(&[
                (Column::Id, "42"),
                (Column::Email, "Ann@Example.com"),
                (Column::Name, "Ann Lee"),
                (Column::IsActive, "0"),
                (Column::CreatedAt, "2019-03-04 10:20:30"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(r.email.as_str(), "ann@example.com");
        assert_eq!(r.source_id.as_deref(), Some("42"));
        assert_eq!(r.id, None);
        assert_eq!(r.status, Some(Status::Inactive));
        assert_eq!(r.display_name.unwrap().as_str(), "Ann Lee");
        assert_eq!(
            r.created_at.unwrap().to_string(),
            "2019-03-04T10:20:30.000Z"
        );
        let deleted = validate_row(
            &row(&[
                (Column::Email, "a@example.com"),
                (Column::IsActive, "true"),
                (Column::IsDeleted, "true"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(deleted.status, Some(Status::Deleted));
    }

    #[test]
    fn every_invalid_field_is_reported() {
        let errors = validate_row(
            &row(&[
                (Column::Email, "nope"),
                (Column::Username, "x"),
                (Column::IsAdmin, "maybe"),
                (Column::Status, "banned"),
                (Column::CreatedAt, "yesterday"),
                (Column::Password, "short"),
            ]),
            true,
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "email",
                "username",
                "is_admin",
                "status",
                "created_at",
                "password"
            ]
        );
        let admin = validate_row(
            &row(&[(Column::Email, "a@example.com"), (Column::IsAdmin, "true")]),
            false,
        )
        .unwrap_err();
        assert_eq!(admin[0].code, "admin_needs_person");
        let both = validate_row(
            &row(&[
                (Column::Email, "a@example.com"),
                (Column::Password, "correct horse battery"),
                (Column::PasswordHash, "$2b$12$abc"),
            ]),
            true,
        )
        .unwrap_err();
        assert_eq!(both[0].code, "conflicting_columns");
    }

    #[test]
    fn anonymised_placeholders_match_their_account_only() {
        let id = UserId::new();
        let r = validate_row(
            &row(&[
                (Column::Id, &id.to_string()),
                (Column::Email, Email::anonymised(id).as_str()),
                (Column::Username, Username::anonymised(id).as_str()),
            ]),
            true,
        )
        .unwrap();
        assert!(r.anonymised);
        let other = UserId::new();
        assert!(validate_row(
            &row(&[
                (Column::Id, &other.to_string()),
                (Column::Email, Email::anonymised(id).as_str()),
            ]),
            true,
        )
        .is_err());
    }

    #[test]
    fn formula_protection_is_undone() {
        assert_eq!(unprotect("'=1+2"), "=1+2");
        assert_eq!(unprotect("'-2"), "-2");
        assert_eq!(unprotect("O'Brien"), "O'Brien");
        assert_eq!(unprotect("'quoted'"), "'quoted'");
    }

    #[test]
    fn usernames_are_derived_valid() {
        let email = Email::parse("A.Lee+tag@example.com").unwrap();
        assert_eq!(derive_username(&email, 0).as_str(), "a.lee_tag");
        assert_eq!(derive_username(&email, 3).as_str(), "a.lee_tag-3");
        let short = Email::parse("_x@example.com").unwrap();
        assert_eq!(derive_username(&short, 0).as_str(), "x00");
        let long = Email::parse(&format!("{}@example.com", "b".repeat(60))).unwrap();
        assert_eq!(derive_username(&long, 12).as_str().len(), 32);
    }

    #[test]
    fn hash_shapes_are_recognised() {
        for ok in [
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$2y$10$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "pbkdf2_sha256$600000$c2FsdA$aGFzaA==",
            "$pbkdf2-sha256$i=29000,l=32$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2i$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$firebase-scrypt$r=8,m=14$a2V5$Bw==$c2FsdA==$aGFzaA==",
        ] {
            assert_eq!(check_hash(ok), Ok(()), "{ok}");
        }
        for bad in [
            "plain text",
            "$2b$31$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "pbkdf2_sha256$99999999999$c2FsdA$aGFzaA==",
            "$md5$abc",
            "$firebase-scrypt$r=8$a2V5$Bw==$c2FsdA==$aGFzaA==",
        ] {
            assert!(check_hash(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn row_ids_are_stable_per_import_and_row() {
        let job = ImportJob::new(
            ImportRequest {
                format: ImportFormat::Csv,
                mode: ImportMode::Create,
                dry_run: false,
            },
            "user:x".into(),
        );
        assert_eq!(job.user_id_for_row(7), job.user_id_for_row(7));
        assert_ne!(job.user_id_for_row(7), job.user_id_for_row(8));
    }
}
