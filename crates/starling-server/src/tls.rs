//! TLS for the websocket listener: PEM files read with rustls-pki-types
//! (rustls-pemfile is archived; this is its successor), a rustls server
//! configuration, and the check `-t` runs so unreadable files are found
//! before start-up.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use starling_ws::TlsOptions;

/// Builds the rustls configuration for `options`, or says which file is
/// wrong and why.
pub(crate) fn server_config(options: &TlsOptions) -> Result<Arc<ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&options.cert_file)
        .and_then(Iterator::collect)
        .map_err(|e| {
            format!(
                "tls: can't read certificates from {}: {e}",
                options.cert_file.display()
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "tls: no certificate in {}",
            options.cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&options.key_file).map_err(|e| {
        format!(
            "tls: can't read a private key from {}: {e}",
            options.key_file.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?;
    let builder = match (&options.ca_file, options.verify) {
        (Some(ca_file), verify) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| {
                format!(
                    "tls: can't read CA certificates from {}: {e}",
                    ca_file.display()
                )
            })? {
                let cert = cert.map_err(|e| {
                    format!("tls: bad CA certificate in {}: {e}", ca_file.display())
                })?;
                roots.add(cert).map_err(|e| {
                    format!("tls: bad CA certificate in {}: {e}", ca_file.display())
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if verify {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("tls: {e}"))?)
        }
        (None, true) => {
            return Err(
                "tls: verify needs a ca_file to verify client certificates with".to_owned(),
            );
        }
        (None, false) => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        format!(
            "tls: {} and {} do not make a usable pair: {e}",
            options.cert_file.display(),
            options.key_file.display()
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
