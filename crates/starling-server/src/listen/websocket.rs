//! The websocket side of a listener: optional TLS, then the HTTP upgrade
//! (both within `handshake_timeout`); what comes out is a connection the
//! client driver runs like any other, with websocket framing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use starling_ws::WebsocketOptions;
use starling_ws::handshake::{
    HandshakePolicy, HttpVersion, MAX_REQUEST_BYTES, Upgrade, UpgradeError, handle_request,
    http_date,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::broker::Broker;
use crate::broker::counters::Refusal;
use crate::client::{ClientAddr, Framing, run_connection};

/// What a websocket listener needs per connection, built once.
pub(crate) struct WebsocketAcceptor {
    tls: Option<Arc<crate::tls::TlsSlot>>,
    handshake_timeout: Duration,
    /// The upgrade policy for peers in general, and for trusted proxies
    /// (whose `X-Forwarded-For` is believed).
    policy: Arc<HandshakePolicy>,
    proxy_policy: Arc<HandshakePolicy>,
    trusted_proxies: Vec<IpAddr>,
}

impl WebsocketAcceptor {
    pub(crate) fn new(options: &WebsocketOptions, tls: Option<Arc<crate::tls::TlsSlot>>) -> Self {
        let policy = HandshakePolicy {
            origins: options.origins.clone(),
            compression: options.compression,
            tls: tls.is_some(),
            trust_forwarded_for: false,
        };
        let proxy_policy = HandshakePolicy {
            trust_forwarded_for: true,
            ..policy.clone()
        };
        Self {
            tls,
            handshake_timeout: options.handshake_timeout,
            policy: Arc::new(policy),
            proxy_policy: Arc::new(proxy_policy),
            trusted_proxies: options.trusted_proxies.clone(),
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// TLS and the upgrade within the handshake timeout, then the client
    /// connection.
    pub(crate) async fn serve(
        &self,
        broker: Arc<Broker>,
        stream: TcpStream,
        peer: SocketAddr,
        cid: u64,
    ) {
        let policy = if self.trusted_proxies.contains(&peer.ip()) {
            &self.proxy_policy
        } else {
            &self.policy
        };
        match &self.tls {
            None => {
                let mut stream = stream;
                let upgrade = tokio::time::timeout(
                    self.handshake_timeout,
                    upgrade(&mut stream, policy, peer),
                )
                .await;
                let upgraded = upgrade
                    .map_err(|_| Refusal::Timeout)
                    .and_then(|result| result.map_err(|error| Refusal::of(&error)));
                if let Some(upgrade) = finished(&broker, upgraded, peer) {
                    run_upgraded(broker, stream.into_split(), peer, cid, upgrade, None).await;
                }
            }
            Some(slot) => {
                let acceptor = slot.get();
                let handshake = async {
                    if plain_http_on_tls_port(&stream).await {
                        let mut stream = stream;
                        let _ = stream
                            .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
                            .await;
                        return Err(Refusal::PlainHttpOnTls);
                    }
                    let mut tls_stream = acceptor.accept(stream).await.map_err(|error| {
                        tracing::debug!("{peer} - websocket TLS handshake error: {error}");
                        Refusal::Tls
                    })?;
                    let upgrade = upgrade(&mut tls_stream, policy, peer)
                        .await
                        .map_err(|error| Refusal::of(&error))?;
                    Ok((tls_stream, upgrade))
                };
                // Boxed: the TLS handshake's state stays out of the
                // connection's future once it is done.
                let handshake = Box::pin(tokio::time::timeout(self.handshake_timeout, handshake));
                let result = handshake
                    .await
                    .map_err(|_| Refusal::Timeout)
                    .and_then(|r| r);
                match result {
                    Ok((tls_stream, upgrade)) => {
                        if let Some(upgrade) = finished(&broker, Ok(upgrade), peer) {
                            let tls = crate::tls::describe(tls_stream.get_ref().1);
                            let halves = tokio::io::split(tls_stream);
                            run_upgraded(broker, halves, peer, cid, upgrade, tls).await;
                        }
                    }
                    Err(refusal) => {
                        finished(&broker, Err(refusal), peer);
                    }
                }
            }
        }
    }
}

/// The upgrade, or the refusal counted (and a timeout logged).
fn finished(
    broker: &Broker,
    result: Result<Upgrade, Refusal>,
    peer: SocketAddr,
) -> Option<Upgrade> {
    match result {
        Ok(upgrade) => {
            tracing::debug!(
                "{peer} - websocket upgrade, compression: {}",
                upgrade.compress
            );
            Some(upgrade)
        }
        Err(refusal) => {
            if refusal == Refusal::Timeout {
                tracing::debug!("{peer} - websocket handshake timeout");
            }
            broker.extra.refused(refusal);
            None
        }
    }
}

/// Runs an upgraded connection as a websocket client: the address it is
/// known by (a trusted proxy's `X-Forwarded-For`), its framing (deflate
/// as negotiated), its cookies, and the TLS it came over (`tls`: version
/// and cipher suite, when the listener terminated it).
pub(crate) async fn run_upgraded<R, W>(
    broker: Arc<Broker>,
    halves: (R, W),
    peer: SocketAddr,
    cid: u64,
    upgrade: Upgrade,
    tls: Option<crate::tls::Negotiated>,
) where
    R: AsyncRead + Send + 'static,
    W: AsyncWrite + Send + 'static,
{
    if upgrade.is_leafnode() {
        let certificate = tls.and_then(|t| t.names);
        crate::leaf::accept_websocket(broker, halves, (peer, certificate), cid, upgrade).await;
        return;
    }
    let client = ClientAddr {
        peer,
        ip: upgrade.forwarded_for.unwrap_or_else(|| peer.ip()),
        tls,
    };
    let framing = Framing::Websocket {
        compress: upgrade.compress,
        browser: upgrade.browser,
        unmasked: upgrade.no_masking,
    };
    run_connection(broker, halves, client, cid, framing, upgrade.cookies, None).await;
}

/// A TLS client starts with a handshake record (0x16); an HTTP method
/// starts with a letter.
async fn plain_http_on_tls_port(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first).await, Ok(1) if first[0].is_ascii_uppercase())
}

/// Reads the upgrade request and answers it: the 101, or nats-server's
/// refusal (then the connection is done).
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    policy: &HandshakePolicy,
    peer: SocketAddr,
) -> Result<Upgrade, UpgradeError> {
    let mut request = BytesMut::with_capacity(1024);
    let decision = loop {
        match handle_request(&request, policy) {
            Ok(Some(upgrade)) => break Ok(upgrade),
            Ok(None) if request.len() <= MAX_REQUEST_BYTES => {}
            Ok(None) => break Err(UpgradeError::Malformed),
            Err(error) => break Err(error),
        }
        match stream.read_buf(&mut request).await {
            Ok(0) | Err(_) => return Err(UpgradeError::Malformed),
            Ok(_) => {}
        }
    };
    let mut reply = Vec::new();
    match &decision {
        Ok(upgrade) => upgrade.encode_response(&mut reply),
        Err(error) => {
            tracing::error!("{peer} - websocket handshake error: {error}");
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            error.encode(
                &mut reply,
                &http_date(now),
                HttpVersion::of_request(&request),
            );
        }
    }
    let written = stream.write_all(&reply).await;
    if decision.is_err() {
        let _ = stream.shutdown().await;
    }
    written.map_err(|_| UpgradeError::Malformed)?;
    decision
}
