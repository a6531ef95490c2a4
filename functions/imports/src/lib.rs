//! The imports function: /imports*. Handlers read like the contract: extract, check access
//! and the feature, call the core, respond.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use userhub::config::Feature;
use userhub::domain::import::{ImportInput, ImportJob};
use userhub::domain::{Actor, Principal, Scope};
use userhub::http::{with_location, Auth, Cursors, Json, PageParams, Query, Routes};
use userhub::import::{self, ImportResource};
use userhub::{AppState, Ctx, Error};

const LIST_SCOPE: &str = "imports";

/// This function's route table (see `userhub::http::Routes`): one line per route.
pub fn routes() -> Routes {
    Routes::new()
        .post("/imports", create)
        .get("/imports", list)
        .get("/imports/{id}", read)
        .post("/imports/{id}/start", start)
}

/// Admins and `users:import` keys, while imports are on.
fn allow(ctx: &Ctx, principal: &Principal) -> Result<(), Error> {
    principal.require_scope(Scope::UsersImport)?;
    ctx.require_feature(Feature::UsersImport)
}

/// The resource with `Location: /imports/{id}`.
async fn respond(ctx: &Ctx, status: StatusCode, job: ImportJob) -> Result<Response, Error> {
    let location = format!("/imports/{}", job.id);
    let res = (status, axum::Json(ImportResource::of(ctx, job).await?)).into_response();
    with_location(res, &location)
}

async fn create(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Json(input): Json<ImportInput>,
) -> Result<Response, Error> {
    allow(&ctx, &principal)?;
    let request = input.validate().map_err(Error::Validation)?;
    let job = import::create(&ctx, request, Actor::of(&principal).to_string()).await?;
    respond(&ctx, StatusCode::CREATED, job).await
}

async fn start(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    allow(&ctx, &principal)?;
    if !ImportJob::is_id(&id) {
        return Err(Error::NotFound);
    }
    let job = import::start(&ctx, &id).await?;
    respond(&ctx, StatusCode::ACCEPTED, job).await
}

async fn read(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    allow(&ctx, &principal)?;
    Ok(axum::Json(ImportResource::find(&ctx, &id).await?).into_response())
}

async fn list(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Query(params): Query<PageParams>,
    uri: Uri,
) -> Result<Response, Error> {
    allow(&ctx, &principal)?;
    let cursors = Cursors::new(&ctx.cursors, LIST_SCOPE);
    let (limit, after) = params.start(&cursors)?;
    let page = ctx.store.import_jobs_page(limit, after).await?;
    let show = |job| ImportResource::of(&ctx, job);
    cursors
        .respond_each(page.items, page.next, &uri, show)
        .await
}
