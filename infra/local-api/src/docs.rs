//! `GET /docs`: Swagger UI over `/openapi.yaml`, for people running `make dev`.
//!
//! The page's assets come from the npm package `swagger-ui-dist`, which `make install`
//! (`infra/stack.py install`) puts under `.local/npm/node_modules`, and never from a CDN, so
//! the page works offline. Local only: no Lambda function serves it, so `openapi.yaml` does
//! not list it. `DOCS_ASSETS_DIR` points at another copy of the package.

use std::path::PathBuf;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use userhub::http::Routes;
use userhub::Error;

/// Where `infra/stack.py install` puts the package, relative to the workspace.
const INSTALLED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../.local/npm/node_modules/swagger-ui-dist"
);

static ASSETS: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::var_os("DOCS_ASSETS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(INSTALLED))
});

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>userhub API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({ url: "/openapi.yaml", dom_id: "#swagger-ui", deepLinking: true });
});
</script>
</body>
</html>
"##;

pub fn routes() -> Routes {
    Routes::new().get("/docs", page).get("/docs/{file}", asset)
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// A file at the top of the package, by name: no path separators, no dot files.
async fn asset(Path(file): Path<String>) -> Result<Response, Error> {
    let safe = !file.starts_with('.')
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !safe {
        return Err(Error::NotFound);
    }
    if !ASSETS.is_dir() {
        return Err(Error::unavailable(format!(
            "swagger-ui-dist is not installed in {}: run `make install`",
            ASSETS.display()
        )));
    }
    let bytes = match tokio::fs::read(ASSETS.join(&file)).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound),
        Err(e) => return Err(Error::internal(e)),
    };
    Ok(([(header::CONTENT_TYPE, content_type(&file))], bytes).into_response())
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("png") => "image/png",
        Some("map" | "json") => "application/json",
        _ => "application/octet-stream",
    }
}
