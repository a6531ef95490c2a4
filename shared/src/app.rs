//! The per-process context every handler shares: configuration and AWS clients, built once
//! at cold start and reused by every invocation.

use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::auth::tokens::TokenKeys;
use crate::config::Config;
use crate::store::Store;

pub type AppState = Arc<Ctx>;

#[derive(Debug)]
pub struct Ctx {
    pub config: Config,
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub tokens: TokenKeys,
    pub clock: Clock,
    pub cursors: crate::http::cursor::CursorKey,
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
}

impl Ctx {
    /// Reads the environment (AWS_ENDPOINT_URL_* included, so the same binary talks to the
    /// local stack or to AWS) and builds the clients.
    pub async fn from_env() -> Result<AppState, StartupError> {
        let config = Config::from_env()?;
        let sdk = load_sdk_config().await;
        Ok(Self::new(config, &sdk))
    }

    pub fn new(config: Config, sdk: &SdkConfig) -> AppState {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(config.s3_force_path_style)
                .build(),
        );
        Self::with_clients(config, dynamodb, s3)
    }

    pub fn with_clients(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
    ) -> AppState {
        Arc::new(Self {
            store: Store::new(dynamodb, config.table_name.clone()),
            s3,
            tokens: TokenKeys::new(&config),
            clock: Clock::default(),
            cursors: crate::http::cursor::CursorKey::derive(&config.jwt_secret),
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

/// The shared SDK configuration with timeouts that keep a dead dependency from holding a
/// request (or a health check) for the SDK's default minutes.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        // Compiled-in root certificates: no certificate files read on a cold start.
        .http_client(crate::sdk_http::https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .load()
        .await
}
