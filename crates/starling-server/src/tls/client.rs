//! The TLS client of a leaf link dialling a hub, as nats-server's remote
//! builds it: the hub's certificate chains to the remote's `ca_file`, or to
//! the system's roots without one (Go's system pool there;
//! rustls-native-certs here, which reads the same files, `SSL_CERT_FILE`
//! and `SSL_CERT_DIR` first); `insecure: true` verifies nothing.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;

use super::{TlsError, ca_roots};
use crate::RemoteTls;

/// Builds the connector for a remote's `tls` block (or its defaults),
/// reading each file once: call it at start-up or on the blocking pool.
pub(crate) fn connector(tls: &RemoteTls) -> Result<TlsConnector, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
    } else {
        let roots = match &tls.ca_file {
            Some(ca_file) => ca_roots(ca_file)?,
            None => system_roots()?,
        };
        builder.with_root_certificates(roots)
    };
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

/// `insecure: true`: any certificate is taken, the handshake's signatures
/// are still checked (so the peer holds the key of what it showed).
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
