//! The TLS acceptors a start or a reload reads: the client port's and
//! the websocket listener's, after checking that no certificate asks for
//! an OCSP staple Starling cannot give.

use tokio_rustls::TlsAcceptor;

use crate::{ServerError, ServerOptions};

/// The acceptors of the client port and the websocket listener, each
/// configuration read once.
pub(crate) fn load_tls(
    options: &ServerOptions,
) -> Result<(Option<TlsAcceptor>, Option<TlsAcceptor>), ServerError> {
    let load = |tls: Option<&starling_ws::TlsOptions>, option| {
        tls.map(crate::tls::acceptor)
            .transpose()
            .map_err(|source| ServerError::Tls { option, source })
    };
    let websocket = options.websocket.as_ref().and_then(|ws| ws.tls.as_ref());
    let leaf = options.leaf.as_ref().and_then(|l| l.tls.as_ref());
    if options.ocsp != crate::OcspMode::Never {
        for tls in [options.tls.as_ref(), websocket, leaf]
            .into_iter()
            .flatten()
        {
            if crate::tls::must_staple(&tls.cert_file) {
                return Err(ServerError::InvalidOption {
                    option: "ocsp",
                    reason: format!(
                        "{} asks for OCSP stapling (must-staple), which Starling cannot \
                         provide; with ocsp: false it is served without a stapled response",
                        tls.cert_file.display()
                    ),
                });
            }
        }
    }
    Ok((
        load(options.tls.as_ref(), "tls")?,
        load(websocket, "websocket.tls")?,
    ))
}
