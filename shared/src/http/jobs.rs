//! GET /<jobs>/{id} and GET /<jobs> for every job resource (exports, imports).

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};

use super::{Auth, Cursors, PageParams, Query};
use crate::jobs::JobResource;
use crate::{AppState, Error};

/// GET /<jobs>/{id}.
pub async fn read<R: JobResource>(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    R::allow(&ctx, &principal)?;
    Ok(axum::Json(R::find(&ctx, &id).await?).into_response())
}

/// GET /<jobs>: newest first.
pub async fn list<R: JobResource>(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Query(params): Query<PageParams>,
    uri: Uri,
) -> Result<Response, Error> {
    R::allow(&ctx, &principal)?;
    let cursors = Cursors::new(&ctx.cursors, R::LIST);
    let (limit, after) = params.start(&cursors)?;
    let page = R::page(&ctx, limit, after).await?;
    let show = |job| R::of(&ctx, job);
    cursors
        .respond_each(page.items, page.next, &uri, show)
        .await
}
