//! The running broker: the listener, the registry of connections, the router
//! they share, and shutdown.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use starling_auth::{Authenticator, ConnectionKind};
use starling_proto::ServerInfo;
use starling_router::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::client::{
    AccountRouter, ClientAddr, ClientLink, CloseReason, Framing, SubHandle, Subscription,
    run_connection,
};
use crate::websocket::WebsocketListener;
use crate::{NATS_VERSION, STARLING_VERSION, ServerError, ServerOptions, identity};

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
    shared: Arc<Shared>,
    client_addr: SocketAddr,
    websocket_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    accept: Vec<JoinHandle<()>>,
}

/// State every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) options: ServerOptions,
    /// The global account's router (`$G`).
    global: AccountRouter,
    /// Each configured account's router: accounts share no subjects.
    accounts: HashMap<String, AccountRouter>,
    /// Exports and imports, by account (only accounts that have some).
    links: HashMap<String, Arc<crate::links::AccountLinks>>,
    pub(crate) auth: Authenticator,
    info: ServerInfo,
    clients: DashMap<u64, Arc<ClientLink>>,
    connections: AtomicUsize,
    all_closed: Notify,
    next_cid: AtomicU64,
    epoch: Instant,
}

impl Server {
    /// Validates `options`, binds the client listener and starts accepting.
    pub async fn start(options: ServerOptions) -> Result<Self, ServerError> {
        options.validate()?;
        let addr = format!("{}:{}", options.host, options.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let client_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        let server_id = identity::server_id();
        let info = ServerInfo {
            server_name: options
                .server_name
                .clone()
                .unwrap_or_else(|| server_id.clone()),
            server_id,
            version: NATS_VERSION.to_owned(),
            proto: 1,
            go: format!("starling {STARLING_VERSION}"),
            host: options.host.clone(),
            port: client_addr.port(),
            headers: true,
            max_payload: options.max_payload,
            ..ServerInfo::default()
        };
        tracing::info!("Starting starling");
        tracing::info!("  Version:  {STARLING_VERSION} (protocol of nats-server {NATS_VERSION})");
        tracing::info!("  Name:     {}", info.server_name);
        tracing::info!("  ID:       {}", info.server_id);
        let accounts: HashMap<String, AccountRouter> = options
            .auth
            .accounts
            .iter()
            .map(|name| (name.clone(), Arc::new(Router::new())))
            .collect();
        let shared = Arc::new(Shared {
            global: Arc::new(Router::new()),
            links: crate::links::build(&options.auth, &accounts),
            accounts,
            auth: Authenticator::new(options.auth.clone()),
            info,
            clients: DashMap::new(),
            connections: AtomicUsize::new(0),
            all_closed: Notify::new(),
            next_cid: AtomicU64::new(1),
            epoch: Instant::now(),
            options,
        });
        // Bind everything before accepting anything, so a failed bind
        // leaves no listener running.
        let websocket = match &shared.options.websocket {
            Some(options) => Some(WebsocketListener::bind(options).await?),
            None => None,
        };
        let websocket_addr = websocket.as_ref().map(WebsocketListener::local_addr);
        let (stop, stopped) = watch::channel(false);
        let mut accept = vec![tokio::spawn(accept_loop(
            Arc::clone(&shared),
            listener,
            stopped.clone(),
        ))];
        tracing::info!("Listening for client connections on {client_addr}");
        if let Some(websocket) = websocket {
            accept.push(tokio::spawn(websocket.run(Arc::clone(&shared), stopped)));
        }
        tracing::info!("Server is ready");
        Ok(Self {
            shared,
            client_addr,
            websocket_addr,
            stop,
            accept,
        })
    }

    /// The address the client listener is bound to.
    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// The address the websocket listener is bound to, when configured.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket_addr
    }

    /// The server's id, as sent in INFO.
    pub fn server_id(&self) -> &str {
        &self.shared.info.server_id
    }

    /// Connections currently open.
    pub fn connection_count(&self) -> usize {
        self.shared.clients.len()
    }

    /// Stops accepting, lets every client's pending messages be written
    /// (each bounded by `write_deadline`), and closes every connection.
    pub async fn shutdown(self) {
        tracing::info!("Initiating Shutdown...");
        let _ = self.stop.send(true);
        for accept in self.accept {
            let _ = accept.await;
        }
        for client in &self.shared.clients {
            client.close(CloseReason::ServerShutdown);
        }
        let drained = self.shared.wait_all_closed();
        let limit = self.shared.options.write_deadline + Duration::from_secs(1);
        if tokio::time::timeout(limit, drained).await.is_err() {
            tracing::warn!(
                "Shutdown: {} connections did not close in time",
                self.shared.clients.len()
            );
        }
        tracing::info!("Server Exiting..");
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stopped: watch::Receiver<bool>,
) {
    let tls = match shared.options.tls.as_ref().map(crate::tls::server_config) {
        Some(Ok(config)) => Some(TlsAcceptor::from(config)),
        Some(Err(error)) => {
            // validate() loaded the same files before the listener started.
            tracing::error!("client TLS: {error}");
            return;
        }
        None => None,
    };
    loop {
        let accepted = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                // Small writes are already coalesced by the writer task.
                let _ = stream.set_nodelay(true);
                let cid = shared.connection_started();
                let conn_shared = Arc::clone(&shared);
                let tls = tls.clone();
                tokio::spawn(async move {
                    let client = ClientAddr {
                        peer,
                        ip: peer.ip(),
                    };
                    match tls {
                        None => {
                            let halves = stream.into_split();
                            run_connection(
                                Arc::clone(&conn_shared),
                                halves,
                                client,
                                cid,
                                Framing::Raw,
                                Vec::new(),
                                None,
                            )
                            .await;
                        }
                        Some(acceptor) => {
                            serve_tls(Arc::clone(&conn_shared), stream, client, cid, acceptor).await
                        }
                    }
                    conn_shared.connection_ended();
                });
            }
            Err(error) => {
                // Out of file descriptors and the like: nats-server sleeps and retries.
                tracing::error!("Error accepting client connection: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// nats-server's TLS handshake timeout (`tls { timeout }` is not configurable yet).
const TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// A TLS client: INFO in plaintext (it says `tls_required`), then the
/// handshake the client starts, then the usual connection over TLS.
async fn serve_tls(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    client: ClientAddr,
    cid: u64,
    acceptor: TlsAcceptor,
) {
    use tokio::io::AsyncWriteExt;
    let nonce = shared.new_nonce();
    let info = shared.client_info(cid, client.ip, ConnectionKind::Standard, &nonce);
    let mut line = Vec::new();
    if starling_proto::encode::info(&mut line, &info).is_err()
        || stream.write_all(&line).await.is_err()
    {
        return;
    }
    match tokio::time::timeout(TLS_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            let halves = tokio::io::split(tls);
            run_connection(
                shared,
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

impl Shared {
    /// A fresh nonce when authentication needs one (nkeys, JWTs), else "".
    pub(crate) fn new_nonce(&self) -> String {
        // Without randomness from the system, nkey and JWT users can't log in.
        if self.auth.needs_nonce() {
            identity::nonce().unwrap_or_default()
        } else {
            String::new()
        }
    }

    /// The INFO for one new client.
    pub(crate) fn client_info(
        &self,
        cid: u64,
        client_ip: IpAddr,
        kind: ConnectionKind,
        nonce: &str,
    ) -> ServerInfo {
        ServerInfo {
            client_id: cid,
            client_ip: client_ip.to_string(),
            auth_required: self.auth.info_auth_required(kind),
            tls_required: kind == ConnectionKind::Standard && self.options.tls.is_some(),
            tls_verify: kind == ConnectionKind::Standard
                && self.options.tls.as_ref().is_some_and(|t| t.verify),
            nonce: nonce.to_owned(),
            ..self.info.clone()
        }
    }

    /// A new connection's id, counted as open until [`Self::connection_ended`].
    pub(crate) fn connection_started(&self) -> u64 {
        self.connections.fetch_add(1, Ordering::AcqRel);
        self.next_cid.fetch_add(1, Ordering::Relaxed)
    }

    /// A connection's task is done.
    pub(crate) fn connection_ended(&self) {
        if self.connections.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_closed.notify_waiters();
        }
    }

    /// Adds a connection to the registry unless `max_connections` is reached.
    pub(crate) fn register(&self, link: &Arc<ClientLink>) -> bool {
        if self.clients.len() >= self.options.max_connections {
            return false;
        }
        self.clients.insert(link.cid, Arc::clone(link));
        true
    }

    /// Removes a closed connection and every subscription it held.
    pub(crate) fn deregister(&self, link: &ClientLink) {
        self.clients.remove(&link.cid);
        for sub in link.take_subscriptions() {
            let handle = SubHandle(Arc::clone(&sub));
            sub.router
                .remove(&sub.subject, sub.queue.as_deref(), &handle);
        }
    }

    /// The router of `account` (`None` or unknown: the global account).
    pub(crate) fn account_router(&self, account: Option<&str>) -> AccountRouter {
        account
            .and_then(|name| self.accounts.get(name))
            .map_or_else(|| Arc::clone(&self.global), Arc::clone)
    }

    /// The account's exports and imports, if it has any.
    pub(crate) fn account_links(
        &self,
        account: Option<&str>,
    ) -> Option<Arc<crate::links::AccountLinks>> {
        account.and_then(|name| self.links.get(name)).cloned()
    }

    /// Removes one subscription from the router and from its connection.
    pub(crate) fn unsubscribe(&self, sub: &Arc<Subscription>) {
        let handle = SubHandle(Arc::clone(sub));
        sub.router
            .remove(&sub.subject, sub.queue.as_deref(), &handle);
        sub.client.forget_subscription(sub);
    }

    /// Milliseconds since the server started (the clock of `last_activity`).
    pub(crate) fn now_millis(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    async fn wait_all_closed(&self) {
        loop {
            let notified = self.all_closed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.connections.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}
