//! The websocket listener: accept, optional TLS, the HTTP upgrade (all
//! within `handshake_timeout`), then the same client connection as TCP with
//! websocket framing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::BytesMut;
use starling_ws::WebsocketOptions;
use starling_ws::handshake::{
    HandshakePolicy, HttpVersion, MAX_REQUEST_BYTES, Upgrade, UpgradeError, handle_request,
    http_date,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::ServerError;
use crate::client::{ClientAddr, Framing, run_connection};
use crate::server::Shared;

/// A bound websocket listener, ready to run.
pub(crate) struct WebsocketListener {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    addr: SocketAddr,
}

impl WebsocketListener {
    /// Binds the listener and loads TLS when configured.
    pub(crate) async fn bind(options: &WebsocketOptions) -> Result<Self, ServerError> {
        let tls = match &options.tls {
            Some(files) => Some(TlsAcceptor::from(
                crate::tls::server_config(files)
                    .map_err(|e| ServerError::InvalidOption(format!("websocket {e}")))?,
            )),
            None => None,
        };
        let wanted = format!("{}:{}", options.host, options.port);
        let listener = TcpListener::bind(&wanted)
            .await
            .map_err(|source| ServerError::Bind {
                addr: wanted.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: wanted,
            source,
        })?;
        let scheme = if tls.is_some() { "wss" } else { "ws" };
        tracing::info!("Listening for websocket clients on {scheme}://{addr}");
        if tls.is_none() {
            tracing::warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
        }
        Ok(Self {
            listener,
            tls,
            addr,
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts until told to stop.
    pub(crate) async fn run(self, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
        loop {
            let accepted = tokio::select! {
                _ = stopped.changed() => return,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = Arc::clone(&shared);
                    let tls = self.tls.clone();
                    tokio::spawn(async move {
                        let cid = shared.connection_started();
                        serve(Arc::clone(&shared), stream, peer, tls, cid).await;
                        shared.connection_ended();
                    });
                }
                Err(error) => {
                    tracing::error!("Error accepting websocket connection: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// One websocket connection: handshake within the timeout, then serve it.
async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    cid: u64,
) {
    let Some(options) = shared.options.websocket.clone() else {
        return;
    };
    let policy = HandshakePolicy {
        origins: options.origins.clone(),
        compression: options.compression,
        tls: tls.is_some(),
        trust_forwarded_for: options.trusted_proxies.contains(&peer.ip()),
    };
    match tls {
        None => {
            let mut stream = stream;
            let upgrade = tokio::time::timeout(
                options.handshake_timeout,
                upgrade(&mut stream, &policy, peer),
            )
            .await;
            if let Some(upgrade) = finished(upgrade, peer) {
                let client = client_addr(peer, &upgrade);
                let framing = framing(&upgrade);
                run_connection(
                    shared,
                    stream.into_split(),
                    client,
                    cid,
                    framing,
                    upgrade.cookies,
                    None,
                )
                .await;
            }
        }
        Some(acceptor) => {
            let handshake = async {
                if plain_http_on_tls_port(&stream).await {
                    let mut stream = stream;
                    let _ = stream
                        .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
                        .await;
                    return Err(UpgradeError::Malformed);
                }
                let mut tls_stream = acceptor.accept(stream).await.map_err(|error| {
                    tracing::debug!("{peer} - websocket TLS handshake error: {error}");
                    UpgradeError::Malformed
                })?;
                let upgrade = upgrade(&mut tls_stream, &policy, peer).await?;
                Ok((tls_stream, upgrade))
            };
            match tokio::time::timeout(options.handshake_timeout, handshake).await {
                Ok(Ok((tls_stream, upgrade))) => {
                    let client = client_addr(peer, &upgrade);
                    let framing = framing(&upgrade);
                    run_connection(
                        shared,
                        tokio::io::split(tls_stream),
                        client,
                        cid,
                        framing,
                        upgrade.cookies,
                        None,
                    )
                    .await;
                }
                Ok(Err(_)) => {}
                Err(_) => tracing::debug!("{peer} - websocket handshake timeout"),
            }
        }
    }
}

fn finished(
    result: Result<Result<Upgrade, UpgradeError>, tokio::time::error::Elapsed>,
    peer: SocketAddr,
) -> Option<Upgrade> {
    match result {
        Ok(Ok(upgrade)) => {
            tracing::debug!(
                "{peer} - websocket upgrade, compression: {}",
                upgrade.compress
            );
            Some(upgrade)
        }
        Ok(Err(_)) => None,
        Err(_) => {
            tracing::debug!("{peer} - websocket handshake timeout");
            None
        }
    }
}

fn client_addr(peer: SocketAddr, upgrade: &Upgrade) -> ClientAddr {
    ClientAddr {
        peer,
        ip: upgrade.forwarded_for.unwrap_or_else(|| peer.ip()),
    }
}

fn framing(upgrade: &Upgrade) -> Framing {
    Framing::Websocket {
        compress: upgrade.compress,
        browser: upgrade.browser,
    }
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
