//! The exports function: /exports* and /users/export*. Handlers read like the contract:
//! extract, check access and features, call the core, respond.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use userhub::config::Feature;
use userhub::domain::export::{
    email_prefix, ExportFilters, ExportInput, ExportRequest, Fields, Format, Trigger,
};
use userhub::domain::{Actor, Principal};
use userhub::export::{self, ExportResource};
use userhub::http::{jobs, with_location, Auth, Json, Query, Routes};
use userhub::jobs::JobResource;
use userhub::{AppState, Ctx, Error};

/// How long GET /users/export* waits for its file: well inside API Gateway's 30 s, so a
/// table too big for it gets a clear answer instead of a gateway timeout.
pub const SYNC_EXPORT_LIMIT: Duration = Duration::from_secs(20);

/// This function's route table (see `userhub::http::Routes`): one line per route.
pub fn routes() -> Routes {
    Routes::new()
        .post("/exports", create)
        .get("/exports", jobs::list::<ExportResource>)
        .get("/exports/{id}", jobs::read::<ExportResource>)
        .get("/users/export", export_minimal)
        .get("/users/export-full", export_full)
}

/// Admins and `users:export` keys, while exports are on.
fn allow(ctx: &Ctx, principal: &Principal) -> Result<(), Error> {
    ExportResource::allow(ctx, principal)
}

/// Full exports have a feature of their own.
fn allow_fields(ctx: &Ctx, fields: Fields) -> Result<(), Error> {
    match fields {
        Fields::Minimal => Ok(()),
        Fields::Full => ctx.require_feature(Feature::UsersExportFull),
    }
}

async fn create(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Json(input): Json<ExportInput>,
) -> Result<Response, Error> {
    allow(&ctx, &principal)?;
    let request = input.validate()?;
    allow_fields(&ctx, request.fields)?;
    let requested_by = Actor::of(&principal).to_string();
    let job = export::start(&ctx, request, requested_by, Trigger::Api).await?;
    let location = format!("/exports/{}", job.id);
    let resource = ExportResource::of(&ctx, job).await?;
    with_location(
        (StatusCode::ACCEPTED, axum::Json(resource)).into_response(),
        &location,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MinimalParams {
    format: Option<String>,
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FullParams {
    format: Option<String>,
}

async fn export_minimal(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Query(params): Query<MinimalParams>,
) -> Result<Response, Error> {
    let email = params
        .email
        .filter(|e| !e.trim().is_empty())
        .map(|e| email_prefix(&e).map_err(|m| Error::field("email", m)))
        .transpose()?;
    let filters = ExportFilters {
        email,
        ..Default::default()
    };
    export_now(&ctx, &principal, params.format, Fields::Minimal, filters).await
}

async fn export_full(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Query(params): Query<FullParams>,
) -> Result<Response, Error> {
    export_now(
        &ctx,
        &principal,
        params.format,
        Fields::Full,
        ExportFilters::default(),
    )
    .await
}

/// Runs a CSV export within the request and redirects to its file.
async fn export_now(
    ctx: &Ctx,
    principal: &Principal,
    format: Option<String>,
    fields: Fields,
    filters: ExportFilters,
) -> Result<Response, Error> {
    allow(ctx, principal)?;
    allow_fields(ctx, fields)?;
    if let Some(other) = format.filter(|f| f != Format::Csv.as_str()) {
        return Err(export::unsupported_format(&other));
    }
    let request = ExportRequest {
        format: Format::Csv,
        fields,
        filters,
    };
    let requested_by = Actor::of(principal).to_string();
    let job = export::run_now(
        ctx,
        request,
        requested_by,
        Trigger::Api,
        Some(SYNC_EXPORT_LIMIT),
    )
    .await?;
    let link = export::download(ctx, &job)
        .await?
        .ok_or_else(|| Error::internal("a succeeded export has no file"))?;
    with_location(StatusCode::SEE_OTHER.into_response(), &link.url)
}
