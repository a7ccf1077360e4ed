//! Listeners: one bind and one accept loop for every transport. What
//! differs is the handshake an accepted stream goes through before it is a
//! client connection: none (TCP), INFO then TLS (the client port with
//! `tls`), or optional TLS then the HTTP upgrade (websocket). After it,
//! the same driver runs every connection.

mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use starling_auth::ConnectionKind;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

pub use crate::tls::TlsError;
pub(crate) use websocket::{WebsocketAcceptor, run_upgraded};

use crate::ServerError;
use crate::broker::Broker;
use crate::client::{ClientAddr, Framing, run_connection};

/// What an accepted stream goes through before it is a client connection.
pub(crate) enum Handshake {
    /// NATS over plain TCP.
    Client,
    /// INFO in plaintext (it says `tls_required`), then the TLS handshake
    /// the client starts, as with nats-server.
    ClientTls(Arc<crate::tls::TlsSlot>),
    /// Optional TLS, then the HTTP upgrade.
    Websocket(WebsocketAcceptor),
    /// A leaf connection (the leafnode port): its INFO names this address;
    /// with TLS, INFO in plaintext then the handshake the leaf starts.
    Leaf(String, u16, Option<Arc<crate::tls::TlsSlot>>),
    /// A route from another member of the cluster (the cluster port).
    Route,
}

/// A bound listener and its handshake.
pub(crate) struct Listener {
    tcp: TcpListener,
    addr: SocketAddr,
    handshake: Handshake,
}

impl Listener {
    /// Binds `host:port` (port 0: any free one).
    pub(crate) async fn bind(
        host: &str,
        port: u16,
        handshake: Handshake,
    ) -> Result<Self, ServerError> {
        let wanted = format!("{host}:{port}");
        let bind_error = |source| ServerError::Bind {
            addr: wanted.clone(),
            source,
        };
        let tcp = TcpListener::bind(&wanted).await.map_err(bind_error)?;
        let addr = tcp.local_addr().map_err(bind_error)?;
        Ok(Self {
            tcp,
            addr,
            handshake,
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The same bound socket with another handshake (once what it needs,
    /// such as the bound port, is known).
    pub(crate) fn with_handshake(self, handshake: Handshake) -> Self {
        Self { handshake, ..self }
    }

    /// Logs what it serves (and a warning for websocket without TLS).
    pub(crate) fn announce(&self) {
        match &self.handshake {
            Handshake::Client | Handshake::ClientTls(_) => {
                tracing::info!("Listening for client connections on {}", self.addr);
            }
            Handshake::Websocket(ws) if ws.is_tls() => {
                tracing::info!("Listening for websocket clients on wss://{}", self.addr);
            }
            Handshake::Websocket(_) => {
                tracing::info!("Listening for websocket clients on ws://{}", self.addr);
                tracing::warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
            }
            Handshake::Leaf(..) => {
                tracing::info!("Listening for leafnode connections on {}", self.addr);
            }
            Handshake::Route => {
                tracing::info!("Listening for route connections on {}", self.addr);
            }
        }
    }

    /// Accepts until told to stop; each connection runs in its own task.
    pub(crate) async fn run(self, broker: Arc<Broker>, mut stopped: watch::Receiver<bool>) {
        let handshake = Arc::new(self.handshake);
        loop {
            let accepted = tokio::select! {
                _ = stopped.changed() => return,
                accepted = self.tcp.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    // Small writes are already coalesced by the writer task.
                    let _ = stream.set_nodelay(true);
                    let (cid, guard) = broker.task();
                    let broker = Arc::clone(&broker);
                    let handshake = Arc::clone(&handshake);
                    tokio::spawn(async move {
                        serve(&handshake, broker, stream, peer, cid).await;
                        drop(guard);
                    });
                }
                Err(error) => {
                    // Out of file descriptors and the like: nats-server
                    // sleeps and retries.
                    tracing::error!("Error accepting connection on {}: {error}", self.addr);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

async fn serve(
    handshake: &Handshake,
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    cid: u64,
) {
    let client = ClientAddr::plain(peer);
    // Each path is boxed: a task's future is as large as its largest
    // path, so unboxed, every idle connection would carry the largest
    // one's state (a TLS connection's is kilobytes more than TCP's).
    match handshake {
        Handshake::Client => {
            let halves = stream.into_split();
            let served =
                run_connection(broker, halves, client, cid, Framing::Raw, Vec::new(), None);
            Box::pin(served).await;
        }
        Handshake::ClientTls(slot) => {
            let acceptor = slot.get();
            Box::pin(serve_tls(broker, stream, client, cid, &acceptor)).await;
        }
        Handshake::Websocket(websocket) => {
            Box::pin(websocket.serve(broker, stream, peer, cid)).await;
        }
        Handshake::Leaf(host, port, tls) => {
            let listen = (host.clone(), *port);
            let tls = tls.as_ref().map(|slot| slot.get());
            Box::pin(crate::leaf::accept(broker, stream, peer, cid, listen, tls)).await;
        }
        Handshake::Route => {
            Box::pin(crate::route::accept(broker, stream, peer, cid)).await;
        }
    }
}

/// A TLS client: INFO in plaintext, then the handshake the client starts,
/// then the usual connection over TLS.
async fn serve_tls(
    broker: Arc<Broker>,
    mut stream: TcpStream,
    client: ClientAddr,
    cid: u64,
    acceptor: &TlsAcceptor,
) {
    let nonce = broker.new_nonce();
    let info = broker.client_info(cid, client.ip, ConnectionKind::Standard, &nonce);
    let mut line = Vec::new();
    if starling_proto::encode::info(&mut line, &info).is_err()
        || stream.write_all(&line).await.is_err()
    {
        return;
    }
    // The TLS block as reloaded last.
    let deadline = broker
        .live
        .options()
        .tls
        .as_ref()
        .map_or(starling_ws::DEFAULT_TLS_TIMEOUT, |tls| tls.timeout);
    // `allow_non_tls`: the client's first byte says which it speaks (a TLS
    // handshake starts with 0x16), as nats-server decides it.
    if broker.options.allow_non_tls {
        let mut first = [0u8; 1];
        let peeked = tokio::time::timeout(deadline, stream.peek(&mut first)).await;
        if !matches!(peeked, Ok(Ok(1))) || first[0] != 0x16 {
            let halves = stream.into_split();
            run_connection(
                broker,
                halves,
                client,
                cid,
                Framing::Raw,
                Vec::new(),
                Some(nonce),
            )
            .await;
            return;
        }
    }
    if !broker.tls_handshake_allowed() {
        let _ = stream
            .write_all(b"-ERR 'Connection throttling is active. Please try again later.'\r\n")
            .await;
        tracing::debug!("{} - TLS connection rate limit reached", client.peer);
        return;
    }
    // Boxed: the handshake's state stays out of the connection's future.
    match Box::pin(tokio::time::timeout(deadline, acceptor.accept(stream))).await {
        Ok(Ok(tls)) => {
            let client = ClientAddr {
                tls: crate::tls::describe(tls.get_ref().1),
                ..client
            };
            let halves = tokio::io::split(tls);
            run_connection(
                broker,
                halves,
                client,
                cid,
                Framing::Raw,
                Vec::new(),
                Some(nonce),
            )
            .await;
        }
        Ok(Err(error)) => tracing::debug!("{} - TLS handshake error: {error}", client.peer),
        Err(_) => tracing::debug!("{} - TLS handshake timeout", client.peer),
    }
}
