//! The imports function: /imports*. Handlers read like the contract: extract, check access
//! and the feature, call the core, respond.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use userhub::domain::import::{ImportInput, ImportJob};
use userhub::domain::{Actor, Principal};
use userhub::http::{jobs, with_location, Auth, Json, Routes};
use userhub::import::{self, ImportResource};
use userhub::jobs::JobResource;
use userhub::{AppState, Ctx, Error};

/// This function's route table (see `userhub::http::Routes`): one line per route.
pub fn routes() -> Routes {
    Routes::new()
        .post("/imports", create)
        .get("/imports", jobs::list::<ImportResource>)
        .get("/imports/{id}", jobs::read::<ImportResource>)
        .post("/imports/{id}/start", start)
}

/// Admins and `users:import` keys, while imports are on.
fn allow(ctx: &Ctx, principal: &Principal) -> Result<(), Error> {
    ImportResource::allow(ctx, principal)
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
