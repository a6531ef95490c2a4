//! The API document itself: GET /openapi.yaml as written, GET /openapi.json converted
//! once per cold start. Public and cacheable, with a strong ETag of the content, so what a
//! client generator or a gateway import reads is what this build serves.

use std::sync::LazyLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use userhub::auth::tokens::sha256_hex;
use userhub::Error;

/// The document this binary was built with.
pub const YAML: &str = include_str!("../../../openapi.yaml");

/// Clients and CDNs may keep it for five minutes, then revalidate with `If-None-Match`.
const CACHE_CONTROL: &str = "public, max-age=300";

struct Document {
    body: String,
    content_type: &'static str,
    etag: String,
}

impl Document {
    fn new(body: String, content_type: &'static str) -> Self {
        let etag = format!("\"{}\"", &sha256_hex(&body)[..32]);
        Self {
            body,
            content_type,
            etag,
        }
    }

    fn respond(&self, headers: &HeaderMap) -> Response {
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|tag| tag.trim() == self.etag));
        let mut res = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (
                [(header::CONTENT_TYPE, self.content_type)],
                self.body.clone(),
            )
                .into_response()
        };
        let h = res.headers_mut();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        );
        if let Ok(v) = HeaderValue::from_str(&self.etag) {
            h.insert(header::ETAG, v);
        }
        res
    }
}

static YAML_DOC: LazyLock<Document> =
    LazyLock::new(|| Document::new(YAML.to_owned(), "application/yaml"));

/// The JSON form, or why the YAML did not convert (a build that cannot happen once the
/// conformance tests pass; answered as a 500 rather than a panic all the same).
static JSON_DOC: LazyLock<Result<Document, String>> = LazyLock::new(|| {
    let value: serde_json::Value = serde_yaml::from_str(YAML).map_err(|e| e.to_string())?;
    let body = serde_json::to_string(&value).map_err(|e| e.to_string())?;
    Ok(Document::new(body, "application/json"))
});

pub async fn yaml(headers: HeaderMap) -> Response {
    YAML_DOC.respond(&headers)
}

pub async fn json(headers: HeaderMap) -> Result<Response, Error> {
    match &*JSON_DOC {
        Ok(doc) => Ok(doc.respond(&headers)),
        Err(e) => Err(Error::internal(format!(
            "openapi.yaml is not valid YAML: {e}"
        ))),
    }
}
