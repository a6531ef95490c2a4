//! Account recovery and email verification: POST /auth/password/forgot, /auth/password/reset,
//! /auth/verify-email and /auth/verify-email/resend.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use userhub::accounts::recovery;
use userhub::domain::Email;
use userhub::http::{accepted, user_response, Auth, ClientIp, Json, RequestId};
use userhub::{AppState, Error};

use crate::person;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ForgotBody {
    email: String,
}

pub(crate) async fn forgot(
    State(ctx): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    Json(body): Json<ForgotBody>,
) -> Result<Response, Error> {
    let email = Email::parse(&body.email).map_err(|m| Error::field("email", m))?;
    recovery::forgot_password(&ctx, email, &ip.to_string(), &request_id).await?;
    Ok(accepted(
        "if the address belongs to an account, a link to reset its password is on its way",
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetBody {
    token: String,
    new_password: String,
}

pub(crate) async fn reset(
    State(ctx): State<AppState>,
    RequestId(request_id): RequestId,
    Json(body): Json<ResetBody>,
) -> Result<StatusCode, Error> {
    recovery::reset_password(&ctx, &body.token, &body.new_password, &request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyBody {
    token: String,
}

pub(crate) async fn verify(
    State(ctx): State<AppState>,
    RequestId(request_id): RequestId,
    Json(body): Json<VerifyBody>,
) -> Result<Response, Error> {
    let user = recovery::verify_email(&ctx, &body.token, &request_id).await?;
    Ok(user_response(StatusCode::OK, &user))
}

pub(crate) async fn resend(
    State(ctx): State<AppState>,
    Auth(principal): Auth,
) -> Result<Response, Error> {
    let (id, _) = person(&principal)?;
    recovery::resend_verification(&ctx, id).await?;
    Ok(accepted(
        "unless the address is verified already, a verification link is on its way",
    ))
}
