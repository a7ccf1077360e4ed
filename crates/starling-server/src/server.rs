//! The running broker: start (options checked, TLS loaded once, every
//! listener bound before any accepts), connections served from listeners
//! or handed in by an embedding application, and shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use starling_ws::handshake::Upgrade;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::broker::Broker;
use crate::client::{ClientAddr, Framing, run_connection};
use crate::link::CloseReason;
use crate::listen::{self, Handshake, Listener, WebsocketAcceptor};
use crate::monitor::{self, Monitor};
use crate::tls::{TlsSlot, load_tls};
use crate::{NATS_VERSION, STARLING_VERSION, ServerError, ServerOptions};

/// A running Starling server.
///
/// ```no_run
/// # async fn run() -> Result<(), starling_server::ServerError> {
/// use starling_server::{Server, ServerOptions};
///
/// let server = Server::start(ServerOptions { port: 0, ..ServerOptions::default() }).await?;
/// println!("clients connect to {}", server.client_addr());
/// server.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Server {
    broker: Arc<Broker>,
    client_addr: SocketAddr,
    websocket_addr: Option<SocketAddr>,
    leaf_addr: Option<SocketAddr>,
    route_addr: Option<SocketAddr>,
    monitor_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    accept: Mutex<Vec<JoinHandle<()>>>,
    /// The client and websocket listeners: lame-duck mode stops them
    /// before the rest.
    front_stop: watch::Sender<bool>,
    front: Mutex<Vec<JoinHandle<()>>>,
    /// The client port's and the websocket listener's TLS, which a reload
    /// replaces.
    pub(crate) tls_slots: Box<TlsSlots>,
}

/// The TLS a reload replaces: the client port's, the websocket
/// listener's and the leafnode port's acceptors, and the leaf remotes'
/// dialers, in `remotes` order.
#[derive(Debug)]
pub(crate) struct TlsSlots {
    pub(crate) client: Option<Arc<TlsSlot>>,
    pub(crate) websocket: Option<Arc<TlsSlot>>,
    pub(crate) leaf: Option<Arc<TlsSlot>>,
    pub(crate) dialers: Vec<Arc<crate::leaf::Dialer>>,
}

/// How the bytes of a connection handed to [`Server::serve_connection`]
/// travel.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Transport {
    /// The NATS protocol as it is: a TCP stream, or a TLS stream the
    /// embedding application terminated.
    Nats,
    /// Websocket frames, after an upgrade the embedding application
    /// answered (see [`starling_ws::handshake::check_http`]): the
    /// [`Upgrade`] says whether permessage-deflate was negotiated and
    /// carries the request's cookies and trusted `X-Forwarded-For`.
    Websocket(Upgrade),
}

impl Server {
    /// Checks `options` as start-up would (TLS files included) without
    /// binding anything: what `-t` runs.
    pub fn check(options: &ServerOptions) -> Result<(), ServerError> {
        options.validate()?;
        load_tls(options).map(|_| ())
    }

    /// Validates `options`, loads TLS, binds every listener and starts
    /// accepting.
    pub async fn start(options: ServerOptions) -> Result<Self, ServerError> {
        options.validate()?;
        crate::resolver_url::check_home(&options.auth)
            .await
            .map_err(|reason| ServerError::InvalidOption {
                option: "resolver",
                reason,
            })?;
        let (client_tls, websocket_tls) = load_tls(&options)?;
        let tls_slots = (
            client_tls.map(TlsSlot::new),
            websocket_tls.map(TlsSlot::new),
        );
        // Bind everything before accepting anything, so a failed bind
        // leaves no listener running.
        // HTTPS monitoring uses the client port's certificate, without
        // asking for client certificates (nats-server's
        // getMonitoringTLSConfig), so a browser or curl needs none.
        let monitor_tls = match (options.monitor.port(), &options.tls) {
            (Some((_, true)), Some(tls)) => {
                let mut without_client_certs = starling_ws::TlsOptions {
                    ca_file: None,
                    verify: false,
                    verify_and_map: false,
                    ..tls.clone()
                };
                without_client_certs.tuning.pinned_certs.clear();
                let acceptor = crate::tls::acceptor(&without_client_certs);
                Some(acceptor.map_err(|source| ServerError::Tls {
                    option: "tls",
                    source,
                })?)
            }
            _ => None,
        };
        let client_handshake = tls_slots
            .0
            .clone()
            .map_or(Handshake::Client, Handshake::ClientTls);
        let client = Listener::bind(&options.host, options.port, client_handshake).await?;
        let websocket = match &options.websocket {
            Some(ws) => {
                let acceptor = WebsocketAcceptor::new(ws, tls_slots.1.clone());
                let listener = Listener::bind(&ws.host, ws.port, Handshake::Websocket(acceptor));
                Some(listener.await?)
            }
            None => None,
        };
        let leaf_listener = match options.leaf.as_ref().filter(|l| l.port != 0) {
            Some(leaf) => {
                let port = u16::try_from(leaf.port.max(0)).unwrap_or(0);

                // Where the leaf INFO says to dial is known once bound.
                let tls = leaf
                    .tls
                    .as_ref()
                    .map(crate::tls::acceptor)
                    .transpose()
                    .map_err(|source| ServerError::Tls {
                        option: "leafnodes.tls",
                        source,
                    })?;
                let unbound = Handshake::Leaf(String::new(), 0, None);
                let bound = Listener::bind(&leaf.host, port, unbound).await?;
                Some((bound, tls.map(TlsSlot::new)))
            }
            None => None,
        };
        let dialers = crate::leaf::dialers(&options)?;
        let route_tls = options
            .cluster
            .as_ref()
            .and_then(|c| c.tls.as_ref())
            .map(crate::tls::route)
            .transpose()
            .map_err(|source| ServerError::Tls {
                option: "cluster.tls",
                source,
            })?;
        let route_listener = match options.cluster.as_ref() {
            Some(cluster) => {
                let port = u16::try_from(cluster.port.max(0)).unwrap_or(0);
                Some(Listener::bind(&cluster.host, port, Handshake::Route).await?)
            }
            None => None,
        };
        let monitor_listener = match options.monitor.port() {
            Some((port, _)) => {
                let host = options.monitor.host.as_deref().unwrap_or(&options.host);
                let addr = format!(
                    "{}:{port}",
                    host.trim_start_matches('[').trim_end_matches(']')
                );
                let bound = tokio::net::TcpListener::bind(&addr).await;
                Some(bound.map_err(|source| ServerError::Bind { addr, source })?)
            }
            None => None,
        };
        let client_addr = client.local_addr();
        let websocket_addr = websocket.as_ref().map(Listener::local_addr);
        let monitor_addr = monitor_listener.as_ref().and_then(|l| l.local_addr().ok());
        let https = options.monitor.port().is_some_and(|(_, https)| https);
        let broker = Arc::new(Broker::new(options, client_addr.port()));
        tracing::info!("Starting starling");
        tracing::info!("  Version:  {STARLING_VERSION} (protocol of nats-server {NATS_VERSION})");
        tracing::info!("  Name:     {}", broker.info.server_name);
        tracing::info!("  ID:       {}", broker.info.server_id);
        let (stop, stopped) = watch::channel(false);
        let mut accept = Vec::new();
        let monitor_host = broker
            .options
            .monitor
            .host
            .clone()
            .unwrap_or_else(|| broker.options.host.clone());
        let leaf_port = leaf_listener.as_ref().map(|(l, _)| l.local_addr().port());
        let ports = (
            client_addr.port(),
            websocket_addr.map(|a| a.port()),
            leaf_port,
        );
        let monitor = Arc::new(Monitor::new(Arc::clone(&broker), ports, monitor_host));
        if let (Some(listener), Some(addr)) = (monitor_listener, monitor_addr) {
            let scheme = if https { "https" } else { "http" };
            tracing::info!("Starting {scheme} monitor on {addr}");
            accept.push(tokio::spawn(monitor::run(
                Arc::clone(&monitor),
                listener,
                monitor_tls,
                stopped.clone(),
            )));
        }
        // Shutdown waits for it: it announces the shutdown first.
        accept.extend(crate::system::start(&broker, monitor, stopped.clone()));
        let leaf_addr = leaf_listener.as_ref().map(|(l, _)| l.local_addr());
        let leaf_tls = leaf_listener.as_ref().and_then(|(_, tls)| tls.clone());
        let leaf_listener = leaf_listener.map(|(listener, tls)| {
            let (host, port) = crate::leaf::advertised(&broker, listener.local_addr());
            let _ = broker.leaf_listen.set((host.clone(), port));
            listener.with_handshake(Handshake::Leaf(host, port, tls))
        });
        if let Some(port) = websocket_addr.map(|a| a.port()) {
            let _ = broker.websocket_port.set(port);
        }
        let _ = broker.stopped.set(stopped.clone());
        let route_addr = route_listener.as_ref().map(Listener::local_addr);
        if let (Some(cluster), Some(addr)) = (&broker.cluster, route_addr) {
            let _ = cluster.listen.set(crate::route::advertised(&broker, addr));
            if let Some(tls) = route_tls {
                cluster.set_tls(tls);
            }
        }
        // Not waited for by shutdown: a remote's task stops by itself once
        // told to, and shutdown closes its link with the others.
        drop(crate::leaf::start_remotes(&broker, &dialers, &stopped));
        drop(crate::route::start_routes(&broker, &stopped));
        let (front_stop, front_stopped) = watch::channel(false);
        let mut front = Vec::new();
        for (listener, is_front) in [
            (Some(client), true),
            (websocket, true),
            (leaf_listener, false),
            (route_listener, false),
        ] {
            let Some(listener) = listener else { continue };
            listener.announce();
            let (tasks, stop) = if is_front {
                (&mut front, front_stopped.clone())
            } else {
                (&mut accept, stopped.clone())
            };
            tasks.push(tokio::spawn(listener.run(Arc::clone(&broker), stop)));
        }
        tokio::spawn(crate::memory::release_after_closes(
            Arc::clone(&broker),
            stopped,
        ));
        Ok(Self {
            broker,
            client_addr,
            websocket_addr,
            leaf_addr,
            route_addr,
            monitor_addr,
            stop,
            accept: Mutex::new(accept),
            front_stop,
            front: Mutex::new(front),
            tls_slots: Box::new(TlsSlots {
                client: tls_slots.0,
                websocket: tls_slots.1,
                leaf: leaf_tls,
                dialers,
            }),
        })
    }

    /// Serves one connection the caller accepted (an embedding: a route of
    /// its own axum or hyper server, behind its own TLS and middleware)
    /// exactly as a listener's connection is served, until it closes.
    ///
    /// The returned future is `'static`: spawn it. The connection counts
    /// toward `max_connections`, and shutdown closes it with the others.
    pub fn serve_connection<IO>(
        &self,
        io: IO,
        peer: SocketAddr,
        transport: Transport,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let broker = Arc::clone(&self.broker);
        let (cid, guard) = broker.task();
        async move {
            let halves = tokio::io::split(io);
            match transport {
                Transport::Nats => {
                    let client = ClientAddr::plain(peer);
                    run_connection(broker, halves, client, cid, Framing::Raw, Vec::new(), None)
                        .await;
                }
                Transport::Websocket(upgrade) => {
                    listen::run_upgraded(broker, halves, peer, cid, upgrade, None).await;
                }
            }
            drop(guard);
        }
    }

    /// The address the client listener is bound to.
    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// The address the websocket listener is bound to, when configured.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket_addr
    }

    /// Where the cluster port listens, when one is configured.
    pub fn route_addr(&self) -> Option<SocketAddr> {
        self.route_addr
    }

    /// Where the leafnode port listens, when one is configured.
    pub fn leaf_addr(&self) -> Option<SocketAddr> {
        self.leaf_addr
    }

    /// Where the monitoring port listens, when one is configured.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor_addr
    }

    /// The server's id, as sent in INFO.
    pub fn server_id(&self) -> &str {
        &self.broker.info.server_id
    }

    /// Connections currently open.
    pub fn connection_count(&self) -> usize {
        self.broker.connection_count()
    }

    /// Stops accepting, lets every client's pending messages be written
    /// (each bounded by `write_deadline`), and closes every connection.
    pub async fn shutdown(&self) {
        tracing::info!("Initiating Shutdown...");
        self.stop_accepting().await;
        let _ = self.stop.send(true);
        let accept =
            std::mem::take(&mut *self.accept.lock().unwrap_or_else(PoisonError::into_inner));
        for task in accept {
            let _ = task.await;
        }
        self.broker.close_all(CloseReason::ServerShutdown);
        let drained = self.broker.wait_all_closed();
        let limit = self.broker.live.write_deadline() + Duration::from_secs(1);
        if tokio::time::timeout(limit, drained).await.is_err() {
            tracing::warn!(
                "Shutdown: {} connections did not close in time",
                self.broker.connection_count()
            );
        }
        tracing::info!("Server Exiting..");
    }
}

impl Server {
    /// Stops the client and websocket listeners, and waits until they no
    /// longer accept (their ports are closed).
    pub(crate) async fn stop_accepting(&self) {
        let _ = self.front_stop.send(true);
        let front = std::mem::take(&mut *self.front.lock().unwrap_or_else(PoisonError::into_inner));
        for task in front {
            let _ = task.await;
        }
    }

    pub(crate) fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }
}
