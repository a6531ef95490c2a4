//! The HTTPS client every AWS SDK client of ours uses: the SDK's own (hyper + rustls with
//! aws-lc), trusting the AWS root certificates compiled into the binary
//! (`data/aws-root-cas.pem`) instead of the platform's.
//!
//! Why: the SDK's default client loads the native roots when the first client is built,
//! which means reading and parsing every file under /etc/ssl/certs (or what
//! `SSL_CERT_FILE`/`SSL_CERT_DIR` name). On a Lambda cold start that was most of init,
//! before the runtime first asks for work. Five compiled-in roots cost no I/O and next to
//! no parsing (Mozilla's whole list, e.g. webpki-root-certs, would still mean decoding
//! ~150 PEM certificates at every start, as the SDK takes roots only as PEM).
//!
//! Certificates are still verified exactly as before (rustls' WebPKI verifier with the
//! SDK's cipher-suite restriction); only the trust anchors change, to the ones AWS
//! documents for its endpoints. Plain-HTTP endpoints (the local stack) never use them.

use std::sync::LazyLock;

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// Amazon Root CA 1-4 and Starfield Services Root G2; see `data/README.md`.
const AWS_ROOT_CAS: &[u8] = include_bytes!("../data/aws-root-cas.pem");

/// An SDK client built the first time it is used. Building one (its endpoint rules, runtime
/// plugins, connector) is a measurable part of a cold start, and an invocation of `auth` or
/// `users` rarely reaches S3 or SES: those clients are built when one does.
pub type OnFirstUse<T> = LazyLock<T, Box<dyn FnOnce() -> T + Send>>;

pub fn on_first_use<T>(build: impl FnOnce() -> T + Send + 'static) -> OnFirstUse<T> {
    LazyLock::new(Box::new(build))
}

/// One HTTP client per process: every SDK client built from it shares its connection pool.
static CLIENT: LazyLock<SharedHttpClient> = LazyLock::new(build);

/// The HTTPS client to give every SDK configuration (see the module docs).
pub fn https_client() -> SharedHttpClient {
    CLIENT.clone()
}

fn build() -> SharedHttpClient {
    let trust = TrustStore::empty().with_pem_certificate(AWS_ROOT_CAS);
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a trust store of certificates is a valid TLS context");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, TrustAnchor};

    use super::*;

    /// Every bundled root parses as a trust anchor (the SDK panics on a bad PEM), and there
    /// are exactly the five documented ones.
    #[test]
    fn bundle_holds_the_five_aws_roots() {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(AWS_ROOT_CAS)
            .collect::<Result<_, _>>()
            .expect("valid PEM");
        assert_eq!(certs.len(), 5);
        for cert in &certs {
            let anchor: TrustAnchor<'_> =
                webpki::anchor_from_trusted_cert(cert).expect("a usable trust anchor");
            assert!(!anchor.subject.is_empty());
        }
    }

    /// An SDK client builds its connector (and so parses the roots) when it is constructed.
    #[test]
    fn sdk_client_accepts_it() {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .http_client(https_client())
            .build();
        let _ = aws_sdk_dynamodb::Client::from_conf(config);
    }
}
