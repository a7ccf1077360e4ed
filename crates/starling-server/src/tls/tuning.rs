//! A `tls` block's `cipher_suites` and `curve_preferences` as a narrowed
//! ring provider, and its `pinned_certs` as verifiers that take a peer
//! only when the SHA-256 of its certificate's SubjectPublicKeyInfo is
//! pinned (nats-server's rule), on top of the usual chain checks.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DistinguishedName, SignatureScheme, SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use starling_ws::TlsTuning;

/// The ring provider with only the block's TLS 1.2 suites and curves.
pub(crate) fn provider(tuning: &TlsTuning) -> CryptoProvider {
    let mut provider = ring::default_provider();
    if let Some(names) = &tuning.cipher_suites {
        provider.cipher_suites.retain(|suite| match suite {
            SupportedCipherSuite::Tls13(_) => true,
            SupportedCipherSuite::Tls12(_) => names.iter().any(|n| *n == go_name(*suite)),
        });
    }
    if !tuning.curve_preferences.is_empty() {
        provider.kx_groups = tuning
            .curve_preferences
            .iter()
            .filter_map(|name| match name.as_str() {
                "X25519" => Some(ring::kx_group::X25519),
                "CurveP256" => Some(ring::kx_group::SECP256R1),
                "CurveP384" => Some(ring::kx_group::SECP384R1),
                _ => None,
            })
            .collect();
    }
    provider
}

/// The protocol versions the provider has suites for (a list of TLS 1.3
/// suites alone leaves TLS 1.2 out, as Go's does).
pub(crate) fn versions(provider: &CryptoProvider) -> Vec<&'static SupportedProtocolVersion> {
    let tls12 = provider
        .cipher_suites
        .iter()
        .any(|s| matches!(s, SupportedCipherSuite::Tls12(_)));
    if tls12 {
        vec![&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        vec![&rustls::version::TLS13]
    }
}

/// nats-server's name of a TLS 1.2 suite (Go drops the `_SHA256` of the
/// ChaCha20 suites).
fn go_name(suite: SupportedCipherSuite) -> String {
    let name = format!("{:?}", suite.suite());
    name.strip_suffix("_SHA256")
        .filter(|n| n.ends_with("CHACHA20_POLY1305"))
        .map_or_else(|| name.clone(), str::to_owned)
}

/// Lower-case hex SHA-256 of the certificate's SubjectPublicKeyInfo.
pub(crate) fn spki_sha256(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    let digest = ::ring::digest::digest(&::ring::digest::SHA256, parsed.public_key().raw);
    Some(data_encoding::HEXLOWER.encode(digest.as_ref()))
}

fn pinned(pins: &[String], cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
    match spki_sha256(cert) {
        Some(hash) if pins.contains(&hash) => Ok(()),
        _ => Err(rustls::Error::General("certificate not pinned".into())),
    }
}

/// Client certificates checked by `inner` (when the block has roots) and
/// then against the pins; without `inner`, a certificate is required and
/// its pin is all that is checked.
#[derive(Debug)]
pub(crate) struct PinnedClients {
    pub(crate) inner: Option<Arc<dyn ClientCertVerifier>>,
    pub(crate) pins: Vec<String>,
    pub(crate) provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PinnedClients {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner
            .as_ref()
            .map_or(&[], |inner| inner.root_hint_subjects())
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if let Some(inner) = &self.inner {
            inner.verify_client_cert(end_entity, intermediates, now)?;
        }
        pinned(&self.pins, end_entity).map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A dialled peer's certificate: checked by `inner` unless `insecure`
/// (then any certificate is taken, the handshake's signatures still
/// checked, so the peer holds the key of what it showed), then against
/// the pins if there are any.
#[derive(Debug)]
pub(crate) struct ServerCerts {
    pub(crate) inner: Option<Arc<dyn ServerCertVerifier>>,
    pub(crate) pins: Vec<String>,
    pub(crate) provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerCerts {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(inner) = &self.inner {
            inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        }
        if !self.pins.is_empty() {
            pinned(&self.pins, end_entity)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_and_curves_narrow_the_provider() {
        let tuning = TlsTuning {
            cipher_suites: Some(vec!["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305".into()]),
            curve_preferences: vec!["CurveP384".into()],
            pinned_certs: Vec::new(),
        };
        let p = provider(&tuning);
        let tls12: Vec<String> = p
            .cipher_suites
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
            .map(|s| go_name(*s))
            .collect();
        assert_eq!(tls12, ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"]);
        assert_eq!(p.kx_groups.len(), 1);
        assert_eq!(versions(&p).len(), 2);
        // Every name starling-ws accepts is one rustls has.
        let all = provider(&TlsTuning::default());
        for name in starling_ws::TLS12_SUITES {
            assert!(
                all.cipher_suites.iter().any(|s| go_name(*s) == name),
                "{name}"
            );
        }
        let only13 = provider(&TlsTuning {
            cipher_suites: Some(Vec::new()),
            ..TlsTuning::default()
        });
        assert_eq!(versions(&only13).len(), 1);
    }
}
