//! GET /users, POST /users/search, GET /stats/signups.

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use userhub::domain::listing::ListParams;
use userhub::domain::Scope;
use userhub::http::{Auth, Cursors, Json, Query};
use userhub::{AppState, Error};

pub(crate) async fn list(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Query(params): Query<ListParams>,
    uri: Uri,
) -> Result<Response, Error> {
    principal.require_scope(Scope::UsersRead)?;
    respond(&ctx, &params, Some(&uri)).await
}

pub(crate) async fn search(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Json(params): Json<ListParams>,
) -> Result<Response, Error> {
    principal.require_scope(Scope::UsersRead)?;
    respond(&ctx, &params, None).await
}

/// One page; a `Link` header only where the query lives in the URL (GET).
async fn respond(
    ctx: &AppState,
    params: &ListParams,
    uri: Option<&Uri>,
) -> Result<Response, Error> {
    let (query, limit, cursor) = params.validate().map_err(Error::Validation)?;
    let scope = query.scope();
    let cursors = Cursors::new(&ctx.cursors, &scope);
    let after = cursors.open(cursor.as_deref())?;
    let page = ctx.store.list_users(&query, limit as usize, after).await?;
    Ok(cursors.respond(&page.items, page.next, uri))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct YearParams {
    year: Option<String>,
}

pub(crate) async fn signups(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
    Query(params): Query<YearParams>,
) -> Result<Response, Error> {
    principal.require_admin()?;
    let year = match params.year.as_deref() {
        None => userhub::domain::Timestamp::now().year_month().0,
        Some(raw) => raw
            .parse::<i32>()
            .ok()
            .filter(|y| (1970..=9999).contains(y))
            .ok_or_else(|| Error::field("year", "must be a year such as 2026"))?,
    };
    let months = ctx.store.signups(year).await?;
    let months: serde_json::Map<String, serde_json::Value> = months
        .iter()
        .enumerate()
        .map(|(i, n)| ((i + 1).to_string(), json!(n)))
        .collect();
    Ok(axum::Json(json!({ "year": year, "months": months })).into_response())
}
