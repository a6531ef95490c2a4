//! The first admin of a new deployment (`make dev --setup`, `userhub-admin bootstrap`,
//! which runs it against AWS).

use crate::auth::tokens::random_secret;
use crate::domain::input::NewUserInput;
use crate::domain::Actor;
use crate::{users, Ctx, Error};

/// What `ensure_admin` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// An active admin exists already: nothing was created.
    Exists,
    /// Created from BOOTSTRAP_ADMIN_EMAIL / BOOTSTRAP_ADMIN_PASSWORD.
    Created { email: String },
    /// Created with a random password, which the caller must show once.
    Generated { email: String, password: String },
}

/// Creates the first admin when the table has no active admin: from the given email and
/// password, or `admin@userhub.localhost` with a random password. Nothing is baked in.
pub async fn ensure_admin(
    ctx: &Ctx,
    email: Option<String>,
    password: Option<String>,
) -> Result<Bootstrap, Error> {
    if ctx.store.status_counts().await?.active_admins > 0 {
        return Ok(Bootstrap::Exists);
    }
    let generated = password.is_none();
    let password = password.unwrap_or_else(random_secret);
    let email = email.unwrap_or_else(|| "admin@userhub.localhost".to_owned());
    let input = NewUserInput {
        email: Some(email.clone()),
        username: Some(format!("admin-{}", random_suffix())),
        password: Some(password.clone()),
        display_name: Some("Administrator".into()),
        is_admin: Some(true),
        // The operator vouches for it: with REQUIRE_VERIFIED_EMAIL it must still log in.
        email_verified: Some(true),
        ..Default::default()
    };
    let new = input.validate(true).map_err(Error::Validation)?;
    let actor = Actor::system();
    users::create(ctx, new, actor, "bootstrap_admin", "bootstrap").await?;
    Ok(if generated {
        Bootstrap::Generated { email, password }
    } else {
        Bootstrap::Created { email }
    })
}

/// Eight random lowercase letters and digits, so the username is all but surely free.
fn random_suffix() -> String {
    random_secret()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_lowercase()
}
