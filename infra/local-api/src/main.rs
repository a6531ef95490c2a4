//! `make dev`: the whole API on http://127.0.0.1:$PORT over the local stack.
//! With `--setup` it first creates the table and bucket, verifies the mail sender with the
//! local SES (and creates the first admin).
//! Nothing consumes the local table's stream, so job items run in this process
//! (`RUN_JOBS_INLINE` defaults to true here; set it to false to leave them pending).

use std::net::SocketAddr;

use userhub::config::Config;
use userhub::Ctx;
use userhub_local_api::setup;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    userhub::telemetry::init();
    let config = Config::from_lookup(|key| {
        std::env::var(key)
            .ok()
            .or_else(|| (key == "RUN_JOBS_INLINE").then(|| "true".to_owned()))
    })?;
    let state = Ctx::new(config, &userhub::app::load_sdk_config().await);
    if std::env::args().any(|a| a == "--setup") {
        setup::ensure_table(state.store.client(), &state.config.table_name).await?;
        setup::ensure_bucket(&state.s3, &state.config.bucket_name).await?;
        // moto sends only from a verified identity, as SES does.
        state.mailer.verify_sender().await?;
        setup::bootstrap_admin_from_env(&state).await?;
    }
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("PORT must be a port number, got {p:?}"))?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(url = %format!("http://127.0.0.1:{port}"), "local API listening");
    let app = userhub_local_api::app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
