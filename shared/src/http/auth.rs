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
        match credentials(parts)? {
            Credentials::ApiKey(key) => service::authenticate_api_key(state, key).await.map(Auth),
            Credentials::Bearer(token) => {
                service::authenticate_bearer(state, token).await.map(Auth)
            }
        }
    }
}

/// Credentials checked as far as they can be without I/O: a verified access token whose
/// session is yet to be read, or a resolved API key. Handlers that read one user anyway use
/// it to check the session in the same round trip.
#[derive(Debug, Clone)]
pub enum PendingAuth {
    Token(crate::auth::tokens::AccessToken),
    Resolved(Principal),
}

impl FromRequestParts<AppState> for PendingAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        match credentials(parts)? {
            Credentials::ApiKey(key) => service::authenticate_api_key(state, key)
                .await
                .map(PendingAuth::Resolved),
            Credentials::Bearer(token) => state
                .tokens
                .verify(token)
                .map(PendingAuth::Token)
                .ok_or_else(Error::invalid_token),
        }
    }
}

impl PendingAuth {
    /// The principal and the user `target`, the session checked in the same read.
    pub async fn with_user(
        self,
        state: &AppState,
        target: crate::domain::UserId,
    ) -> Result<(Principal, Option<crate::domain::User>), Error> {
        match self {
            PendingAuth::Resolved(principal) => Ok((principal, state.store.user(target).await?)),
            PendingAuth::Token(token) => {
                let (session, user) = state
                    .store
                    .session_and_user(token.user_id, &token.session_id, target)
                    .await?;
                session.ok_or_else(Error::invalid_token)?;
                let principal = Principal::User {
                    id: token.user_id,
                    session_id: token.session_id,
                    role: token.role,
                };
                Ok((principal, user))
            }
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
