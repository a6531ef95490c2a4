//! Secrets from SSM Parameter Store. In AWS, `JWT_SECRET_PARAMETER` names a SecureString
//! holding the signing secret (and `JWT_SECRET_PREVIOUS_PARAMETER` the one rotating out),
//! read once per cold start; locally the plain `JWT_SECRET` / `JWT_SECRET_PREVIOUS`
//! variables serve, and nothing is fetched.

use std::fmt;

use aws_config::SdkConfig;

/// Which variable names a parameter, and which setting its value becomes.
const PARAMETERS: [(&str, &str); 2] = [
    ("JWT_SECRET_PARAMETER", "JWT_SECRET"),
    ("JWT_SECRET_PREVIOUS_PARAMETER", "JWT_SECRET_PREVIOUS"),
];

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("reading SSM parameter {name} failed: {detail}")]
    Read { name: String, detail: String },
    #[error("SSM parameter {0} has no value")]
    Empty(String),
}

/// Settings read from Parameter Store, by setting name. `Debug` never shows a value.
#[derive(Default)]
pub struct Fetched(Vec<(&'static str, String)>);

impl Fetched {
    pub fn get(&self, setting: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(name, _)| *name == setting)
            .map(|(_, value)| value.clone())
    }
}

impl fmt::Debug for Fetched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|(name, _)| *name).collect();
        write!(f, "Fetched({names:?})")
    }
}

/// Reads every parameter that `lookup` names (concurrently: one round trip of cold start);
/// without any, builds no client and costs nothing.
#[tracing::instrument(skip_all)]
pub async fn fetch(
    sdk: &SdkConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Fetched, SecretsError> {
    let wanted: Vec<(&'static str, String)> = PARAMETERS
        .iter()
        .filter_map(|(var, setting)| {
            lookup(var)
                .filter(|name| !name.is_empty())
                .map(|name| (*setting, name))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(Fetched::default());
    }
    let client = aws_sdk_ssm::Client::new(sdk);
    let reads = wanted.into_iter().map(|(setting, name)| {
        let client = &client;
        async move { read(client, &name).await.map(|value| (setting, value)) }
    });
    futures::future::try_join_all(reads).await.map(Fetched)
}

#[tracing::instrument(skip(client))]
async fn read(client: &aws_sdk_ssm::Client, name: &str) -> Result<String, SecretsError> {
    let out = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| SecretsError::Read {
            name: name.to_owned(),
            detail: crate::faults::describe(&e),
        })?;
    out.parameter
        .and_then(|p| p.value)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SecretsError::Empty(name.to_owned()))
}
