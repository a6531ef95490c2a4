//! The per-process context every handler shares: configuration and AWS clients, built once
//! at cold start and reused by every invocation.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};

use crate::auth::tokens::TokenKeys;
use crate::config::Config;
use crate::faults::Caller;
use crate::sdk_http::{on_first_use, OnFirstUse};
use crate::store::Store;

pub type AppState = Arc<Ctx>;

#[derive(Debug)]
pub struct Ctx {
    pub config: Config,
    pub store: Store,
    pub s3: OnFirstUse<aws_sdk_s3::Client>,
    pub mailer: crate::mail::Mailer,
    pub tokens: TokenKeys,
    pub clock: Clock,
    pub cursors: crate::cursor::CursorKey,
    /// Where the credentials that sign presigned links come from, to learn when they
    /// expire (a link dies with them); `None` when unknown.
    pub signing_credentials: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
}

/// Wall-clock time for time windows, with an offset tests can move forward instead of
/// sleeping through a window.
#[derive(Debug, Default)]
pub struct Clock {
    offset_secs: std::sync::atomic::AtomicI64,
}

impl Clock {
    pub fn now_secs(&self) -> u64 {
        let now = crate::domain::Timestamp::now().unix_secs();
        (now + self.offset_secs.load(std::sync::atomic::Ordering::Relaxed)).max(0) as u64
    }

    pub fn advance(&self, secs: i64) {
        self.offset_secs
            .fetch_add(secs, std::sync::atomic::Ordering::Relaxed);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
}

impl Ctx {
    /// Reads the environment (AWS_ENDPOINT_URL_* included, so the same binary talks to the
    /// local stack or to AWS) and builds the clients for HTTP requests.
    pub async fn from_env() -> Result<AppState, StartupError> {
        Self::from_env_for(Caller::Interactive).await
    }

    /// As `from_env`, with the SDK timeouts and retries of `caller`.
    pub async fn from_env_for(caller: Caller) -> Result<AppState, StartupError> {
        let sdk = load_sdk_config_for(caller).await;
        let config = config_from(&sdk, |key| std::env::var(key).ok()).await?;
        Ok(Self::new(config, &sdk))
    }

    /// Builds the DynamoDB client now (nearly every invocation uses it), and the S3 and SES
    /// clients on first use.
    pub fn new(config: Config, sdk: &SdkConfig) -> AppState {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let (s3_sdk, force_path_style) = (sdk.clone(), config.s3_force_path_style);
        let s3 = on_first_use(move || {
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&s3_sdk)
                    .force_path_style(force_path_style)
                    .build(),
            )
        });
        let ses_sdk = sdk.clone();
        let ses = on_first_use(move || crate::mail::ses_client(&ses_sdk));
        Self::build(config, dynamodb, s3, ses, sdk.credentials_provider())
    }

    /// A context over clients built elsewhere; its export links expire by their TTL alone.
    pub fn with_clients(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
        ses: aws_sdk_sesv2::Client,
    ) -> AppState {
        let (s3, ses) = (on_first_use(move || s3), on_first_use(move || ses));
        Self::build(config, dynamodb, s3, ses, None)
    }

    fn build(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        s3: OnFirstUse<aws_sdk_s3::Client>,
        ses: OnFirstUse<aws_sdk_sesv2::Client>,
        signing_credentials: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
    ) -> AppState {
        Arc::new(Self {
            store: Store::new(dynamodb, config.table_name.clone()),
            s3,
            mailer: crate::mail::Mailer::new(ses, config.mail.from.clone()),
            tokens: TokenKeys::new(&config),
            clock: Clock::default(),
            cursors: crate::cursor::CursorKey::derive(&config.jwt_secret),
            signing_credentials,
            config,
        })
    }
}

impl Ctx {
    /// 403 `feature_disabled` unless this deployment has `feature` on.
    pub fn require_feature(&self, feature: crate::config::Feature) -> Result<(), crate::Error> {
        if self.config.features.enabled(feature) {
            Ok(())
        } else {
            Err(crate::Error::FeatureDisabled(feature))
        }
    }
}

/// The configuration `lookup` gives, with the secrets that a `*_PARAMETER` setting names
/// read from SSM Parameter Store (they take the place of the plain settings).
pub async fn config_from(
    sdk: &SdkConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Config, StartupError> {
    let fetched = crate::secrets::fetch(sdk, &lookup).await?;
    Ok(Config::from_lookup(|key| {
        fetched.get(key).or_else(|| lookup(key))
    })?)
}

/// The shared SDK configuration for HTTP requests, whose timeouts keep a dead dependency
/// from holding a request (or a health check) for the SDK's default minutes.
pub async fn load_sdk_config() -> SdkConfig {
    load_sdk_config_for(Caller::Interactive).await
}

/// The shared SDK configuration with the timeouts and retries of `caller` (see `faults`).
pub async fn load_sdk_config_for(caller: Caller) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        // Compiled-in root certificates: no certificate files read on a cold start.
        .http_client(crate::sdk_http::https_client())
        .timeout_config(caller.timeouts())
        .retry_config(caller.retries());
    on_lambda(loader).load().await
}

/// Inside Lambda the service hands the function its credentials and region as environment
/// variables, which is where the default chains would find them first anyway. Naming those
/// two providers skips building the chains themselves (an STS client, an IMDS client, profile
/// lookups) on every cold start. Elsewhere (`userhub-admin` on a laptop, the local API) the
/// full chains stay, for profiles and SSO.
fn on_lambda(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return loader;
    }
    let loader = loader.credentials_provider(
        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
    );
    match std::env::var("AWS_REGION") {
        Ok(region) => loader.region(aws_config::Region::new(region)),
        Err(_) => loader,
    }
}
