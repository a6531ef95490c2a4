//! The API document is served: GET /openapi.yaml and /openapi.json (public, cacheable, with
//! an ETag) and the /docs page, whose every asset comes from the local API itself.

use userhub_tests::TestApp;

fn spec_text() -> String {
    let path = userhub_tests::lambda_emulator::workspace_root().join("openapi.yaml");
    std::fs::read_to_string(path).expect("openapi.yaml")
}

#[tokio::test]
async fn openapi_yaml_is_served_public_and_cacheable() {
    let app = TestApp::new().await;
    let res = app.get("/openapi.yaml").send().await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/yaml"));
    assert_eq!(res.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(String::from_utf8_lossy(&res.body), spec_text());
    let etag = res.header("etag").expect("an ETag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10,
        "{etag}"
    );

    let again = app
        .get("/openapi.yaml")
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));

    let other = app
        .get("/openapi.yaml")
        .header("if-none-match", "\"something-else\"")
        .send()
        .await;
    assert_eq!(other.status, 200);
}

#[tokio::test]
async fn openapi_json_is_the_same_document() {
    let app = TestApp::new().await;
    let res = app.get("/openapi.json").send().await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.header("cache-control"), Some("public, max-age=300"));
    let yaml_etag = app.get("/openapi.yaml").send().await;
    let etag = res.header("etag").expect("an ETag");
    assert_ne!(Some(etag), yaml_etag.header("etag"), "two bodies, two tags");
    let from_yaml: serde_json::Value = serde_yaml::from_str(&spec_text()).expect("valid YAML");
    assert_eq!(res.json(), from_yaml);
    assert_eq!(res.json()["openapi"], "3.1.0");
}

/// Every `src="..."`/`href="..."` of the page, and the document its script loads.
fn references(html: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for attr in ["src=\"", "href=\"", "url: \""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').expect("a closing quote");
            refs.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    refs
}

#[tokio::test]
async fn docs_page_and_every_asset_load_from_the_local_api() {
    let app = TestApp::new().await;
    let res = app.get("/docs").send().await;
    assert_eq!(res.status, 200);
    assert!(res
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    let html = String::from_utf8_lossy(&res.body).into_owned();
    let refs = references(&html);
    assert!(refs.len() >= 4, "{refs:?}");
    assert!(refs.contains(&"/openapi.yaml".to_owned()), "{refs:?}");
    for r in &refs {
        assert!(
            r.starts_with('/') && !r.starts_with("//"),
            "{r}: every asset comes from the local API, never a CDN"
        );
        let asset = app.get(r).send().await;
        assert_eq!(asset.status, 200, "{r}");
        assert!(asset.body.len() > 100, "{r} is (nearly) empty");
        let ctype = asset.header("content-type").unwrap_or_default().to_owned();
        let expected = match r.rsplit('.').next() {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            Some("png") => "image/png",
            Some("yaml") => "application/yaml",
            other => panic!("unexpected asset kind {other:?}: {r}"),
        };
        assert!(ctype.starts_with(expected), "{r}: {ctype}");
    }
}

#[tokio::test]
async fn docs_assets_are_only_the_package_files() {
    let app = TestApp::new().await;
    for path in [
        "/docs/..%2F..%2FCargo.toml",
        "/docs/.hidden",
        "/docs/no-such-file.js",
        "/docs/%2Fetc%2Fpasswd",
    ] {
        app.get(path).send().await.expect_problem(404, "not_found");
    }
}
