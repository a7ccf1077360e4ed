//! TLS for the client, websocket and leafnode listeners, and for leaf
//! links that dial a hub: PEM files read with rustls-pki-types
//! (rustls-pemfile is archived; this is its successor) into rustls
//! configurations, built once at start-up. Every failure is a
//! [`TlsError`] naming the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use starling_ws::TlsOptions;
use tokio_rustls::TlsAcceptor;

mod cert_names;
mod client;
mod load;
mod route;
mod tuning;

pub(crate) use client::connector;
pub(crate) use load::load_tls;
pub(crate) use route::route;

/// Why a TLS configuration could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file could not be read or parsed.
    #[error("tls: can't read certificates from {}: {reason}", .file.display())]
    Certificates {
        /// The `cert_file`.
        file: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The certificate file holds no certificate.
    #[error("tls: no certificate in {}", .file.display())]
    NoCertificate {
        /// The `cert_file`.
        file: PathBuf,
    },
    /// The key file could not be read or holds no private key.
    #[error("tls: can't read a private key from {}: {reason}", .file.display())]
    PrivateKey {
        /// The `key_file`.
        file: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The CA file could not be read, or holds a bad certificate.
    #[error("tls: bad CA certificates in {}: {reason}", .file.display())]
    CaCertificates {
        /// The `ca_file`.
        file: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// `verify` without a `ca_file`.
    #[error("tls: verify needs a ca_file to verify client certificates with")]
    VerifyWithoutCa,
    /// The certificate and key do not belong together.
    #[error("tls: {} and {} do not make a usable pair: {reason}", .cert_file.display(), .key_file.display())]
    KeyMismatch {
        /// The `cert_file`.
        cert_file: PathBuf,
        /// The `key_file`.
        key_file: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// The system's root certificates could not be read (a remote with
    /// no `ca_file`).
    #[error("tls: can't read the system's root certificates: {0}")]
    SystemRoots(String),
    /// rustls refused the configuration otherwise.
    #[error("tls: {0}")]
    Rustls(String),
}

/// An acceptor a configuration reload can replace: connections already
/// up keep the session they have, new ones get the new certificate.
pub(crate) struct TlsSlot(std::sync::RwLock<TlsAcceptor>);

impl std::fmt::Debug for TlsSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsSlot")
    }
}

impl TlsSlot {
    pub(crate) fn new(acceptor: TlsAcceptor) -> Arc<Self> {
        Arc::new(Self(std::sync::RwLock::new(acceptor)))
    }

    /// The acceptor for the next connection.
    pub(crate) fn get(&self) -> TlsAcceptor {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn replace(&self, acceptor: TlsAcceptor) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = acceptor;
    }
}

/// True when the first certificate of `cert_file` asks clients to expect
/// a stapled OCSP response (the TLS feature extension, must-staple).
pub(crate) fn must_staple(cert_file: &Path) -> bool {
    const TLS_FEATURE: &str = "1.3.6.1.5.5.7.1.24";
    let Ok(cert) = CertificateDer::from_pem_file(cert_file) else {
        return false;
    };
    x509_parser::parse_x509_certificate(&cert).is_ok_and(|(_, parsed)| {
        parsed
            .extensions()
            .iter()
            .any(|e| e.oid.to_id_string() == TLS_FEATURE)
    })
}

/// Builds the acceptor for `options`, reading each file once.
pub(crate) fn acceptor(options: &TlsOptions) -> Result<TlsAcceptor, TlsError> {
    server_config(options, false).map(TlsAcceptor::from)
}

/// An acceptor that requires a client certificate and verifies it against
/// `ca_file`, or the system's roots without one (Go's behaviour with no
/// `ClientCAs`; what nats-server's route port does).
pub(crate) fn mutual_acceptor(options: &TlsOptions) -> Result<TlsAcceptor, TlsError> {
    server_config(options, true).map(TlsAcceptor::from)
}

/// What a client's TLS session was: its version and cipher suite as
/// nats-server's `/connz` names them (`1.3`, `TLS_AES_128_GCM_SHA256`:
/// Go's names, which are the IANA ones), and what its certificate names.
#[derive(Debug, Clone)]
pub(crate) struct Negotiated {
    pub(crate) version: String,
    pub(crate) cipher: String,
    /// The client's certificate's names (for `verify_and_map`), when it
    /// showed one.
    pub(crate) names: Option<Arc<starling_auth::CertNames>>,
}

/// The negotiated session of a finished handshake.
pub(crate) fn describe(connection: &rustls::ServerConnection) -> Option<Negotiated> {
    let version = match connection.protocol_version()? {
        rustls::ProtocolVersion::TLSv1_2 => "1.2".to_owned(),
        rustls::ProtocolVersion::TLSv1_3 => "1.3".to_owned(),
        other => format!("{other:?}"),
    };
    let suite = format!("{:?}", connection.negotiated_cipher_suite()?.suite());
    let names = connection
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|cert| cert_names::cert_names(cert))
        .map(Arc::new);
    Some(Negotiated {
        version,
        cipher: suite.replacen("TLS13_", "TLS_", 1),
        names,
    })
}

fn server_config(options: &TlsOptions, system_roots: bool) -> Result<Arc<ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&options.cert_file)
        .and_then(Iterator::collect)
        .map_err(|e| TlsError::Certificates {
            file: options.cert_file.clone(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            file: options.cert_file.clone(),
        });
    }
    let key =
        PrivateKeyDer::from_pem_file(&options.key_file).map_err(|e| TlsError::PrivateKey {
            file: options.key_file.clone(),
            reason: e.to_string(),
        })?;
    let provider = Arc::new(tuning::provider(&options.tuning));
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&tuning::versions(&provider))
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let pins = &options.tuning.pinned_certs;
    let roots = match &options.ca_file {
        Some(ca_file) => Some(ca_roots(ca_file)?),
        None if system_roots => Some(client::system_roots()?),
        None => None,
    };
    let builder = match (roots, options.verify) {
        (Some(roots), verify) => {
            let roots = Arc::new(roots);
            let verifier =
                WebPkiClientVerifier::builder_with_provider(roots, Arc::clone(&provider));
            let verifier = if verify {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::Rustls(e.to_string()))?;
            if pins.is_empty() {
                builder.with_client_cert_verifier(verifier)
            } else {
                builder.with_client_cert_verifier(Arc::new(tuning::PinnedClients {
                    inner: Some(verifier),
                    pins: pins.clone(),
                    provider: Arc::clone(&provider),
                }))
            }
        }
        (None, true) => return Err(TlsError::VerifyWithoutCa),
        // Pins without a CA: a client certificate is required and its
        // pin is what is checked (nats-server closes a client without one).
        (None, false) if !pins.is_empty() => {
            builder.with_client_cert_verifier(Arc::new(tuning::PinnedClients {
                inner: None,
                pins: pins.clone(),
                provider: Arc::clone(&provider),
            }))
        }
        (None, false) => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::KeyMismatch {
            cert_file: options.cert_file.clone(),
            key_file: options.key_file.clone(),
            reason: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

pub(super) fn ca_roots(ca_file: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let bad = |reason: String| TlsError::CaCertificates {
        file: ca_file.to_path_buf(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| bad(e.to_string()))? {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    Ok(roots)
}
