//! The TLS client of a leaf link dialling a hub, as nats-server's remote
//! builds it: the hub's certificate chains to the remote's `ca_file`, or to
//! the system's roots without one (Go's system pool there;
//! rustls-native-certs here, which reads the same files, `SSL_CERT_FILE`
//! and `SSL_CERT_DIR` first); `insecure: true` verifies nothing.

use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsConnector;

use super::{TlsError, ca_roots};
use crate::RemoteTls;

/// Builds the connector for a remote's `tls` block (or its defaults),
/// reading each file once: call it at start-up or on the blocking pool.
pub(crate) fn connector(tls: &RemoteTls) -> Result<TlsConnector, TlsError> {
    let provider = Arc::new(super::tuning::provider(&tls.tuning));
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&super::tuning::versions(&provider))
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let inner: Option<Arc<dyn ServerCertVerifier>> = if tls.insecure {
        None
    } else {
        let roots = match &tls.ca_file {
            Some(ca_file) => ca_roots(ca_file)?,
            None => system_roots()?,
        };
        let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::clone(&provider),
        )
        .build()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
        Some(webpki)
    };
    let verifier: Arc<dyn ServerCertVerifier> = match inner {
        Some(inner) if tls.tuning.pinned_certs.is_empty() => inner,
        inner => Arc::new(super::tuning::ServerCerts {
            inner,
            pins: tls.tuning.pinned_certs.clone(),
            provider: Arc::clone(&provider),
        }),
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match &tls.cert {
        Some((cert_file, key_file)) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
                .and_then(Iterator::collect)
                .map_err(|e| TlsError::Certificates {
                    file: cert_file.clone(),
                    reason: e.to_string(),
                })?;
            let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| TlsError::PrivateKey {
                file: key_file.clone(),
                reason: e.to_string(),
            })?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| TlsError::Rustls(e.to_string()))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The system's roots; an unparsable one is skipped, none at all is an
/// error (no hub could be verified).
pub(super) fn system_roots() -> Result<rustls::RootCertStore, TlsError> {
    let certs = rustls_native_certs::load_native_certs()
        .map_err(|e| TlsError::SystemRoots(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(TlsError::SystemRoots("none found".into()));
    }
    Ok(roots)
}
