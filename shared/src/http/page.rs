//! Lists as every list route answers them: the `limit`/`cursor` query, cursors sealed under
//! the query they belong to, and the `{items, next_cursor}` body with its `Link` header.

use std::future::Future;

use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::cursor::{CursorKey, Position};
use crate::domain::page::page_limit;
use crate::Error;

/// Query parameters every list takes.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> Result<u32, Error> {
        page_limit(self.limit).map_err(|m| Error::field("limit", m))
    }

    /// The page size, and where the page starts.
    pub fn start(&self, cursors: &Cursors<'_>) -> Result<(u32, Option<Position>), Error> {
        let after = cursors.open(self.cursor.as_deref())?;
        Ok((self.limit()?, after))
    }
}

/// One list's cursors, opened and sealed under `scope`, the query they belong to: a cursor
/// of another list or query is a 400 `invalid_cursor`.
pub struct Cursors<'a> {
    key: &'a CursorKey,
    scope: &'a str,
}

impl<'a> Cursors<'a> {
    pub fn new(key: &'a CursorKey, scope: &'a str) -> Self {
        Self { key, scope }
    }

    /// Where the page starts: after the position `cursor` names, or at the beginning.
    pub fn open(&self, cursor: Option<&str>) -> Result<Option<Position>, Error> {
        Ok(cursor.map(|c| self.key.open(self.scope, c)).transpose()?)
    }

    /// The page's answer, its next position sealed (see `page_response`).
    pub fn respond<T: Serialize>(
        &self,
        items: &[T],
        next: Option<Position>,
        uri: Option<&Uri>,
    ) -> Response {
        let next_cursor = next.map(|p| self.key.seal(self.scope, &p));
        page_response(items, next_cursor, uri)
    }

    /// `respond` for items shown as resources that take I/O each (a job with its freshly
    /// signed links), made one at a time.
    pub async fn respond_each<T, R, Fut>(
        &self,
        items: Vec<T>,
        next: Option<Position>,
        uri: &Uri,
        show: impl Fn(T) -> Fut,
    ) -> Result<Response, Error>
    where
        R: Serialize,
        Fut: Future<Output = Result<R, Error>>,
    {
        let mut shown = Vec::with_capacity(items.len());
        for item in items {
            shown.push(show(item).await?);
        }
        Ok(self.respond(&shown, next, Some(uri)))
    }
}

/// `{items, next_cursor}`, plus a `Link: <...>; rel="next"` that repeats the request's own
/// query with the next cursor when the query lives in the URL (`uri`; not for a POST
/// search, whose query is its body).
fn page_response<T: Serialize>(
    items: &[T],
    next_cursor: Option<String>,
    uri: Option<&Uri>,
) -> Response {
    let link = uri
        .zip(next_cursor.as_deref())
        .map(|(u, c)| next_link(u, c));
    let body = serde_json::json!({ "items": items, "next_cursor": next_cursor });
    let mut res = axum::Json(body).into_response();
    if let Some(Ok(v)) = link.map(|l| HeaderValue::from_str(&l)) {
        res.headers_mut().insert(header::LINK, v);
    }
    res
}

fn next_link(uri: &Uri, cursor: &str) -> String {
    let mut query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .filter(|(k, _)| k != "cursor")
            .collect();
    query.push(("cursor".into(), cursor.to_owned()));
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    format!("<{}?{}>; rel=\"next\"", uri.path(), encoded)
}
