//! `userhub-admin bootstrap`: creates the first admin in any deployment (local or AWS),
//! from BOOTSTRAP_ADMIN_EMAIL / BOOTSTRAP_ADMIN_PASSWORD, or with a random password that
//! is printed once. Uses the same TABLE_NAME and AWS credentials as the functions.

use userhub::Ctx;
use userhub_local_api::setup::bootstrap_admin_from_env;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let command = std::env::args().nth(1);
    if command.as_deref() != Some("bootstrap") {
        eprintln!("usage: userhub-admin bootstrap\n  env: TABLE_NAME, BUCKET_NAME, JWT_SECRET, BOOTSTRAP_ADMIN_EMAIL?, BOOTSTRAP_ADMIN_PASSWORD?");
        std::process::exit(2);
    }
    let ctx = Ctx::from_env().await?;
    bootstrap_admin_from_env(&ctx)
        .await
        .map_err(|e| format!("{e}: {e:?}"))?;
    Ok(())
}
