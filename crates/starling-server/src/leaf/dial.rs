//! Reaching a hub: what a remote dials with (its TLS client and
//! credentials), through an HTTP proxy (`CONNECT`, basic authentication),
//! and reading its first line (the INFO, in plaintext even before TLS)
//! without taking what follows.

use std::sync::Arc;
use std::time::Duration;

use starling_auth::nkey::UserSeed;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::LeafRemote;

/// nats-server's warning when a remote's `tls` has `insecure: true`.
const TLS_INSECURE_WARNING: &str = "TLS certificate chain and hostname of solicited leafnodes will not be verified. DO NOT USE IN PRODUCTION!";

/// What a remote dials with, read once at start: its TLS client and its
/// credentials (user JWT and seed). A reload replaces the TLS client.
pub(crate) struct Dialer {
    /// Built at start for a remote with a `tls` block or `tls://`/`wss://`
    /// URLs; otherwise on the blocking pool the first time a hub asks for
    /// TLS (nats-server then turns TLS on with the system's roots); with
    /// the handshake's deadline.
    connector: std::sync::Mutex<Option<(TlsConnector, Duration)>>,
    credentials: Option<Arc<(String, UserSeed)>>,
}

impl Dialer {
    pub(crate) fn new(
        tls: Option<(TlsConnector, Duration)>,
        credentials: Option<Arc<(String, UserSeed)>>,
    ) -> Self {
        Self {
            connector: std::sync::Mutex::new(tls),
            credentials,
        }
    }

    /// The user JWT and seed of the remote's `credentials`.
    pub(crate) fn credentials(&self) -> Option<&(String, UserSeed)> {
        self.credentials.as_deref()
    }

    /// A reload's TLS client for the next dials.
    pub(crate) fn replace_tls(&self, connector: TlsConnector, timeout: Duration) {
        *self.slot() = Some((connector, timeout));
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<(TlsConnector, Duration)>> {
        self.connector
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The remote's TLS client and handshake deadline, built now if it
    /// has none yet; `None` (logged) when it cannot be built.
    pub(super) async fn tls(&self, remote: &LeafRemote) -> Option<(TlsConnector, Duration)> {
        if let Some(built) = self.slot().clone() {
            return Some(built);
        }
        let settings = remote.tls.clone().unwrap_or_default();
        let timeout = settings.timeout;
        match tokio::task::spawn_blocking(move || crate::tls::connector(&settings)).await {
            Ok(Ok(connector)) => {
                let built = (connector, timeout);
                *self.slot() = Some(built.clone());
                Some(built)
            }
            Ok(Err(error)) => {
                tracing::warn!("Leafnode: the hub asks for TLS: {error}");
                None
            }
            Err(_) => None,
        }
    }
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("tls", &self.slot().is_some())
            .field("credentials", &self.credentials.is_some())
            .finish()
    }
}

impl Default for Dialer {
    fn default() -> Self {
        Self::new(None, None)
    }
}

/// A TCP stream to `address` through an HTTP proxy: `CONNECT`, with
/// basic authentication when configured, and a `200` answer.
pub(super) async fn tunnel(proxy: &crate::LeafProxy, address: &str) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(&proxy.address).await?;
    let mut request = format!("CONNECT {address} HTTP/1.1\r\nHost: {address}\r\n");
    if let Some((user, password)) = &proxy.credentials {
        let token =
            data_encoding::BASE64.encode(format!("{user}:{}", password.expose()).as_bytes());
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    // Read the answer byte by byte: what follows it is the hub's.
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 || answer.len() > 16 * 1024 {
            return Err(std::io::Error::other("the proxy closed"));
        }
        answer.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&answer);
    let status = status.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(std::io::Error::other(format!(
            "the proxy answered {status:?}"
        )));
    }
    Ok(stream)
}

/// The first line the hub sends (its INFO), read byte by byte so that
/// nothing after it (the TLS handshake) is taken.
pub(super) async fn first_line(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        if stream.read(&mut byte).await? == 0 || line.len() > 64 * 1024 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        line.push(byte[0]);
    }
    Ok(line)
}

/// Each remote's TLS client and credentials, read once at start-up (a TLS
/// file missing fails the start; a creds file missing is logged and the
/// remote dials without, as nats-server). A remote with neither a tls
/// block nor tls:// or wss:// URLs builds its client only if a hub asks
/// for TLS.
pub(crate) fn dialers(
    options: &crate::ServerOptions,
) -> Result<Vec<Arc<Dialer>>, crate::ServerError> {
    let mut dialers = Vec::new();
    for remote in options.leaf.iter().flat_map(|leaf| &leaf.remotes) {
        let tls_urls = remote
            .urls
            .iter()
            .any(|url| crate::options::RemoteUrl::parse(url).is_ok_and(|u| u.tls));
        let tls = match (&remote.tls, tls_urls) {
            (Some(tls), _) => Some(crate::tls::connector(tls)),
            (None, true) => Some(crate::tls::connector(&crate::RemoteTls::default())),
            (None, false) => None,
        };
        let tls = match tls {
            // Without the system's roots nats-server starts too (its
            // handshakes fail); the remote tries again when it dials.
            Some(Err(error @ crate::tls::TlsError::SystemRoots(_))) => {
                tracing::warn!("Leafnode remote: {error}");
                None
            }
            other => other
                .transpose()
                .map_err(|source| crate::ServerError::Tls {
                    option: "leafnodes.remotes.tls",
                    source,
                })?,
        };
        let credentials = remote.credentials.as_ref().and_then(|path| {
            let read = std::fs::read_to_string(path).ok();
            let parsed = read.as_deref().and_then(starling_auth::nkey::parse_creds);
            if parsed.is_none() {
                tracing::error!("Error reading leafnode credentials file {}", path.display());
            }
            parsed.map(Arc::new)
        });
        let timeout = remote
            .tls
            .as_ref()
            .map_or_else(|| crate::RemoteTls::default().timeout, |t| t.timeout);
        dialers.push(Arc::new(Dialer::new(
            tls.map(|c| (c, timeout)),
            credentials,
        )));
    }
    let remotes = options.leaf.iter().flat_map(|leaf| &leaf.remotes);
    if remotes
        .filter_map(|remote| remote.tls.as_ref())
        .any(|tls| tls.insecure)
    {
        tracing::warn!("{}", TLS_INSECURE_WARNING);
    }
    Ok(dialers)
}
