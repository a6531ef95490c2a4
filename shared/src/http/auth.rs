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
        let api_key = parts.headers.get("x-api-key");
        if api_key.is_some() && parts.headers.contains_key(AUTHORIZATION) {
            // Two identities in one request: refuse rather than guess which one counts.
            return Err(Error::bad_request(
                "bad_request",
                "send either Authorization or X-Api-Key, not both",
            ));
        }
        if let Some(key) = api_key {
            let key = key.to_str().map_err(|_| Error::invalid_token())?;
            return service::authenticate_api_key(state, key).await.map(Auth);
        }
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return Err(Error::unauthorized());
        };
        let header = header.to_str().map_err(|_| Error::invalid_token())?;
        let (scheme, token) = header.split_once(' ').ok_or_else(Error::invalid_token)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::invalid_token());
        }
        service::authenticate_bearer(state, token.trim())
            .await
            .map(Auth)
    }
}

impl From<Denied> for Error {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Forbidden => Error::Forbidden("you are not allowed to do this"),
            Denied::Hidden => Error::NotFound,
        }
    }
}
