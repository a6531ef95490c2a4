//! `userhub-admin bootstrap`: creates the first admin in any deployment (local or AWS),
//! from BOOTSTRAP_ADMIN_EMAIL / BOOTSTRAP_ADMIN_PASSWORD, or with a random password that
//! is printed once. Uses the same TABLE_NAME and AWS credentials as the functions.

use userhub::Ctx;
use userhub_local_api::setup::{ensure_admin, Bootstrap};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let command = std::env::args().nth(1);
    if command.as_deref() != Some("bootstrap") {
        eprintln!("usage: userhub-admin bootstrap\n  env: TABLE_NAME, BUCKET_NAME, JWT_SECRET, BOOTSTRAP_ADMIN_EMAIL?, BOOTSTRAP_ADMIN_PASSWORD?");
        std::process::exit(2);
    }
    let ctx = Ctx::from_env().await?;
    let email = std::env::var("BOOTSTRAP_ADMIN_EMAIL")
        .ok()
        .filter(|v| !v.is_empty());
    let password = std::env::var("BOOTSTRAP_ADMIN_PASSWORD")
        .ok()
        .filter(|v| !v.is_empty());
    match ensure_admin(&ctx, email, password)
        .await
        .map_err(|e| format!("{e}: {e:?}"))?
    {
        Bootstrap::Exists => println!("an active admin exists already; nothing to do"),
        Bootstrap::Created { email } => println!("created admin {email}"),
        Bootstrap::Generated { email, password } => {
            println!("created admin {email}\npassword (shown once): {password}")
        }
    }
    Ok(())
}
