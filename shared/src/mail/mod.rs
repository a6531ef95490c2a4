//! Outgoing mail through Amazon SES (API v2); locally through moto, which serves SES on the
//! S3 emulator's port. A failed send is logged (the request span carries the request id)
//! and retried once, and never reaches the caller: whether a mail went out must not tell
//! anyone whether an account exists.

pub mod templates;

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent};

pub use templates::Message;

use crate::domain::Email;
use crate::sdk_http::OnFirstUse;

/// Sends from one verified identity (`EMAIL_FROM`).
#[derive(Debug, Clone)]
pub struct Mailer {
    client: Arc<OnFirstUse<aws_sdk_sesv2::Client>>,
    from: String,
}

#[derive(Debug, thiserror::Error)]
#[error("ses: {0}")]
pub struct MailError(String);

impl MailError {
    fn sdk<E: std::error::Error + 'static>(err: aws_sdk_sesv2::error::SdkError<E>) -> Self {
        Self(crate::telemetry::error_chain(&err))
    }
}

/// The SES client for `Mailer`: no SDK retries (the mailer retries once itself, so a send
/// is bounded at two attempts) and short timeouts, because a request waits for its mail:
/// two 1.5 s attempts keep a request whose mail cannot go out within the 5 s that a
/// request may spend on a failing dependency.
pub fn ses_client(sdk: &SdkConfig) -> aws_sdk_sesv2::Client {
    let conf = aws_sdk_sesv2::config::Builder::from(sdk)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_millis(1500))
                .build(),
        )
        .build();
    aws_sdk_sesv2::Client::from_conf(conf)
}

fn content(data: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError(e.to_string()))
}

impl Mailer {
    pub fn new(client: OnFirstUse<aws_sdk_sesv2::Client>, from: impl Into<String>) -> Self {
        Self {
            client: Arc::new(client),
            from: from.into(),
        }
    }

    /// Sends `message` to `to`, retrying once; a failure is logged, never returned.
    #[tracing::instrument(skip_all, fields(subject = %message.subject))]
    pub async fn send(&self, to: &Email, message: &Message) {
        for attempt in 1..=2 {
            match self.try_send(to, message).await {
                Ok(()) => {
                    // Debug only: the link is a live credential (`make dev` shows it).
                    tracing::debug!(to = %to, link = message.link.as_deref(), "mail sent");
                    return;
                }
                Err(e) if attempt == 1 => {
                    tracing::warn!(error = %e, "sending mail failed; retrying once");
                }
                Err(e) => tracing::error!(error = %e, "sending mail failed; not sent"),
            }
        }
    }

    async fn try_send(&self, to: &Email, message: &Message) -> Result<(), MailError> {
        let body = Body::builder()
            .text(content(&message.text)?)
            .html(content(&message.html)?)
            .build();
        let simple = aws_sdk_sesv2::types::Message::builder()
            .subject(content(&message.subject)?)
            .body(body)
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().simple(simple).build())
            .send()
            .await
            .map_err(MailError::sdk)?;
        Ok(())
    }

    /// Makes the sender a verified identity. For local stacks (moto accepts mail only from
    /// one); in AWS the identity is verified once by hand (README).
    #[tracing::instrument(skip_all)]
    pub async fn verify_sender(&self) -> Result<(), MailError> {
        use aws_sdk_sesv2::operation::create_email_identity::CreateEmailIdentityError;
        match self
            .client
            .create_email_identity()
            .email_identity(&self.from)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateEmailIdentityError::AlreadyExistsException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(MailError::sdk(e)),
        }
    }
}
