//! Exports as the domain sees them: what was asked for (format, columns, filters) and how
//! far its job got. Pure types and validation; running a job is `crate::export`'s work.

use serde::{Deserialize, Serialize};

use super::input::Errors;
use super::FieldError;
use super::{Status, Timestamp};

/// What a spreadsheet would read as the start of a formula (OWASP's CSV injection list):
/// CSV exports protect such cells with a leading `'`, and imports read them back.
pub const FORMULA_STARTS: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\n'];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Format::Csv, Format::Json]
            .into_iter()
            .find(|f| f.as_str() == raw)
    }
}

/// Which columns an export has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fields {
    Minimal,
    Full,
}

impl Fields {
    pub fn as_str(self) -> &'static str {
        match self {
            Fields::Minimal => "minimal",
            Fields::Full => "full",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        [Fields::Minimal, Fields::Full]
            .into_iter()
            .find(|f| f.as_str() == raw)
            .ok_or("must be minimal or full")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub const ALL: [JobStatus; 4] = [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// What started an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Api,
    Schedule,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Api => "api",
            Trigger::Schedule => "schedule",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Trigger::Api, Trigger::Schedule]
            .into_iter()
            .find(|t| t.as_str() == raw)
    }
}

/// Which users an export holds. Without a `status`, every user but the soft-deleted ones
/// (as lists do); `created_after` is inclusive, `created_before` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportFilters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_after: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_before: Option<Timestamp>,
    /// A lowercased prefix of the email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// An export job. `object_key` (where the file is in S3) is set once it has succeeded and
/// never leaves the service: clients get a presigned link instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportJob {
    pub id: String,
    pub status: JobStatus,
    pub format: Format,
    pub fields: Fields,
    pub filters: ExportFilters,
    pub requested_by: String,
    pub trigger: Trigger,
    pub row_count: Option<u64>,
    pub size_bytes: Option<u64>,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub error: Option<String>,
    #[serde(skip)]
    pub object_key: Option<String>,
}

impl ExportJob {
    /// A new job for `request`, with a time-ordered id so that listing by id is newest first.
    pub fn new(request: ExportRequest, requested_by: String, trigger: Trigger) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            status: JobStatus::Pending,
            format: request.format,
            fields: request.fields,
            filters: request.filters,
            requested_by,
            trigger,
            row_count: None,
            size_bytes: None,
            created_at: Timestamp::now(),
            completed_at: None,
            error: None,
            object_key: None,
        }
    }

    /// The job as it ends well.
    pub fn succeeded(mut self, row_count: u64, size_bytes: u64, object_key: String) -> Self {
        self.status = JobStatus::Succeeded;
        self.row_count = Some(row_count);
        self.size_bytes = Some(size_bytes);
        self.object_key = Some(object_key);
        self.completed_at = Some(Timestamp::now());
        self
    }

    /// The job as it ends badly; `error` is shown to clients, so it is a safe summary.
    pub fn failed(mut self, error: String) -> Self {
        self.status = JobStatus::Failed;
        self.error = Some(error);
        self.completed_at = Some(Timestamp::now());
        self
    }

    /// Whether `raw` could be an export id at all (a UUID); anything else names no export.
    pub fn is_id(raw: &str) -> bool {
        uuid::Uuid::try_parse(raw).is_ok()
    }
}

/// A validated export request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    pub format: Format,
    pub fields: Fields,
    pub filters: ExportFilters,
}

/// The body of POST /exports, as sent.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportInput {
    pub format: Option<String>,
    pub fields: Option<String>,
    pub filters: Option<FiltersInput>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiltersInput {
    pub status: Option<String>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
    pub email: Option<String>,
}

/// Why an export request was refused: a format the service does not produce has its own
/// answer, everything else is a list of invalid fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidExport {
    UnsupportedFormat(String),
    Fields(Vec<FieldError>),
}

/// Validates an email prefix filter: trimmed, lowercased like stored emails.
pub fn email_prefix(raw: &str) -> Result<String, &'static str> {
    let prefix = raw.trim().to_lowercase();
    match prefix.chars().count() {
        0 => Err("must not be empty"),
        n if n > super::Email::MAX_LEN => Err("must be at most 254 characters"),
        _ => Ok(prefix),
    }
}

impl ExportInput {
    pub fn validate(&self) -> Result<ExportRequest, InvalidExport> {
        let format = match self.format.as_deref() {
            Some(raw) => Some(
                Format::parse(raw).ok_or_else(|| InvalidExport::UnsupportedFormat(raw.into()))?,
            ),
            None => None,
        };
        let mut errs = Errors::default();
        if format.is_none() {
            errs.require("format", &self.format);
        }
        let fields = errs
            .require("fields", &self.fields)
            .and_then(|f| errs.check("fields", Fields::parse(f)));
        let filters = self
            .filters
            .as_ref()
            .map_or(Some(ExportFilters::default()), |f| f.validate(&mut errs));
        errs.finish(|| {
            Some(ExportRequest {
                format: format?,
                fields: fields?,
                filters: filters?,
            })
        })
        .map_err(InvalidExport::Fields)
    }
}

impl FiltersInput {
    fn validate(&self, errs: &mut Errors) -> Option<ExportFilters> {
        let status = match &self.status {
            None => Some(None),
            Some(s) => errs.check("filters.status", s.parse::<Status>()).map(Some),
        };
        let mut time = |field: &str, raw: &Option<String>| match raw {
            None => Some(None),
            Some(t) => errs
                .check(
                    field,
                    Timestamp::parse(t).ok_or("must be an RFC 3339 timestamp"),
                )
                .map(Some),
        };
        let created_after = time("filters.created_after", &self.created_after);
        let created_before = time("filters.created_before", &self.created_before);
        if let (Some(Some(after)), Some(Some(before))) = (created_after, created_before) {
            if after >= before {
                errs.check::<()>(
                    "filters.created_before",
                    Err("must be later than created_after"),
                );
            }
        }
        let email = match &self.email {
            None => Some(None),
            Some(e) => errs.check("filters.email", email_prefix(e)).map(Some),
        };
        Some(ExportFilters {
            status: status?,
            created_after: created_after?,
            created_before: created_before?,
            email: email?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(format: &str, fields: &str) -> ExportInput {
        ExportInput {
            format: Some(format.into()),
            fields: Some(fields.into()),
            filters: None,
        }
    }

    #[test]
    fn valid_requests_pass() {
        let req = input("json", "full").validate().unwrap();
        assert_eq!((req.format, req.fields), (Format::Json, Fields::Full));
        assert_eq!(req.filters, ExportFilters::default());

        let mut with_filters = input("csv", "minimal");
        with_filters.filters = Some(FiltersInput {
            status: Some("inactive".into()),
            created_after: Some("2026-01-01T00:00:00Z".into()),
            created_before: Some("2026-02-01T00:00:00.000Z".into()),
            email: Some(" Ann@".into()),
        });
        let filters = with_filters.validate().unwrap().filters;
        assert_eq!(filters.status, Some(Status::Inactive));
        assert_eq!(filters.email.as_deref(), Some("ann@"));
        assert_eq!(
            filters.created_after.unwrap().to_string(),
            "2026-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn an_unknown_format_is_its_own_error() {
        assert_eq!(
            input("xlsx", "minimal").validate(),
            Err(InvalidExport::UnsupportedFormat("xlsx".into()))
        );
    }

    #[test]
    fn every_invalid_field_is_named() {
        let bad = ExportInput {
            format: None,
            fields: Some("some".into()),
            filters: Some(FiltersInput {
                status: Some("banned".into()),
                created_after: Some("2026-02-01T00:00:00Z".into()),
                created_before: Some("2026-01-01T00:00:00Z".into()),
                email: Some("  ".into()),
            }),
        };
        let Err(InvalidExport::Fields(errors)) = bad.validate() else {
            panic!("accepted");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "format",
                "fields",
                "filters.status",
                "filters.created_before",
                "filters.email"
            ]
        );
    }

    #[test]
    fn names_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        for t in [Trigger::Api, Trigger::Schedule] {
            assert_eq!(Trigger::parse(t.as_str()), Some(t));
        }
        assert_eq!(Format::parse("CSV"), None);
        assert!(ExportJob::is_id(&uuid::Uuid::now_v7().to_string()));
        assert!(!ExportJob::is_id("../etc"));
    }
}
