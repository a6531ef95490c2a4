//! The principal extractor every function uses: a bearer access token whose session is
//! still live, or an API key.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::auth::service;
use crate::domain::{Denied, Principal};
use crate::{AppState, Error};

/// The authenticated caller. Missing or invalid credentials: 401 with `WWW-Authenticate`.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let pending = PendingAuth::from_request_parts(parts, state).await?;
        let (principal, _) = pending.resolve(state, None).await?;
        Ok(Auth(principal))
    }
}

/// Credentials checked as far as they can be without reading who stands behind them: a
/// verified access token whose session and user are yet to be read, or a matching API key
/// whose creator is yet to be read. Handlers that read one user anyway use it to make those
/// checks in the same round trip.
#[derive(Debug, Clone)]
pub enum PendingAuth {
    Token(crate::auth::tokens::AccessToken),
    Key(crate::store::ApiKeyRecord),
}

impl FromRequestParts<AppState> for PendingAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        match credentials(parts)? {
            Credentials::ApiKey(key) => service::resolve_api_key(state, key)
                .await
                .map(PendingAuth::Key),
            Credentials::Bearer(token) => state
                .tokens
                .verify(token)
                .map(PendingAuth::Token)
                .ok_or_else(Error::invalid_token),
        }
    }
}

impl PendingAuth {
    /// The principal and the user `target`, read together with the checks of who is asking.
    pub async fn with_user(
        self,
        state: &AppState,
        target: crate::domain::UserId,
    ) -> Result<(Principal, Option<crate::domain::User>), Error> {
        self.resolve(state, Some(target)).await
    }

    /// The principal and, for a person, their own profile: the read that checks their
    /// session is the read of the profile (an API key has none).
    pub async fn with_self(
        self,
        state: &AppState,
    ) -> Result<(Principal, Option<crate::domain::User>), Error> {
        let me = match &self {
            PendingAuth::Token(token) => Some(token.user_id),
            PendingAuth::Key(_) => None,
        };
        self.resolve(state, me).await
    }

    async fn resolve(
        self,
        state: &AppState,
        target: Option<crate::domain::UserId>,
    ) -> Result<(Principal, Option<crate::domain::User>), Error> {
        match self {
            PendingAuth::Token(token) => service::authenticate_session(state, token, target).await,
            PendingAuth::Key(record) => service::api_key_principal(state, record, target).await,
        }
    }
}

enum Credentials<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
}

fn credentials(parts: &Parts) -> Result<Credentials<'_>, Error> {
    let api_key = parts.headers.get("x-api-key");
    if api_key.is_some() && parts.headers.contains_key(AUTHORIZATION) {
        // Two identities in one request: refuse rather than guess which one counts.
        return Err(Error::bad_request(
            "bad_request",
            "send either Authorization or X-Api-Key, not both",
        ));
    }
    if let Some(key) = api_key {
        return key
            .to_str()
            .map(Credentials::ApiKey)
            .map_err(|_| Error::invalid_token());
    }
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(Error::unauthorized)?;
    let header = header.to_str().map_err(|_| Error::invalid_token())?;
    let (scheme, token) = header.split_once(' ').ok_or_else(Error::invalid_token)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::invalid_token());
    }
    Ok(Credentials::Bearer(token.trim()))
}

impl From<Denied> for Error {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Forbidden => Error::Forbidden("you are not allowed to do this"),
            Denied::Hidden => Error::NotFound,
            Denied::Because(reason) => Error::Forbidden(reason),
        }
    }
}
