//! Broker state every connection shares: the options, the INFO template,
//! the accounts and their links, authentication, the registry of open
//! connections and the ids they get, and what monitoring reads ([`stats`]).
//! It owns no socket.

mod accounts;
pub(crate) use accounts::AccountTable;
mod auth;
mod cluster;
pub(crate) mod counters;
mod leafs;
mod live;
mod reconfigure;
pub(crate) mod stats;
pub(crate) mod system;
mod urls;

pub(crate) use leafs::LeafPeer;
pub(crate) use live::Live;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use starling_auth::{Authenticator, ConnectionKind};
use starling_proto::ServerInfo;
use tokio::sync::{Notify, Semaphore};

use crate::account::{Account, GLOBAL_ACCOUNT, Subscriber};
use crate::link::CloseReason;
use crate::{NATS_VERSION, STARLING_VERSION, ServerOptions, identity};
pub(crate) use cluster::{Cluster, RoutePeer, RouteTls};
use system::{SystemAccount, SystemEvent};

/// State every connection shares.
#[derive(Debug)]
pub(crate) struct Broker {
    /// The options the server started with. A reload changes only the
    /// settings in `live` and authentication, the accounts and TLS (each
    /// held apart); a reload that changes anything else is refused.
    pub(crate) options: ServerOptions,
    /// The settings a reload changes while connections run.
    pub(crate) live: Live,
    /// The client port as bound (for `client_advertise` on a reload).
    pub(crate) client_port: u16,
    /// The global account (`$G`).
    global: Arc<Account>,
    /// The system account, unless there is none (`no_system_account`).
    pub(crate) system: Option<SystemAccount>,
    /// The accounts and their links (an account JWT update replaces it).
    pub(crate) table: std::sync::RwLock<Arc<AccountTable>>,
    /// Authentication as configured (a reload swaps it).
    pub(super) auth: std::sync::RwLock<Arc<Authenticator>>,
    pub(crate) info: ServerInfo,
    pub(super) connections: DashMap<u64, Arc<Subscriber>>,
    /// Where the leafnode listener is (as its INFO names it), once bound:
    /// leafs on the websocket port are accepted only when it is set.
    pub(crate) leaf_listen: std::sync::OnceLock<(String, u16)>,
    /// This server's client and websocket URLs, worked out once.
    own_urls: std::sync::OnceLock<(Vec<String>, Vec<String>)>,
    /// The websocket listener's bound port, once known.
    pub(crate) websocket_port: std::sync::OnceLock<u16>,
    /// This server's part of the `_R_.` reply subjects of requests that
    /// cross accounts (`_R_.<prefix>.<token>`), so responses routed back
    /// from other members come here.
    pub(crate) reply_prefix: String,
    /// Cluster routes, when a `cluster` block sets a port.
    pub(crate) cluster: Option<Cluster>,
    /// Says when the server stops (for tasks started later, such as a
    /// route learnt by gossip).
    pub(crate) stopped: std::sync::OnceLock<tokio::sync::watch::Receiver<bool>>,
    /// In lame-duck mode: this server's own URLs are no longer given to
    /// clients.
    pub(crate) lame_duck: std::sync::atomic::AtomicBool,
    /// Leaf links, accepted and solicited (not in `/connz`, as nats-server),
    /// with an accepted link's peer (its account, name and cluster).
    leafs: DashMap<u64, (Arc<Subscriber>, Option<LeafPeer>)>,
    pub(crate) stats: stats::Stats,
    /// Starling's own counters (beyond nats-server's figures).
    pub(crate) extra: counters::Extra,
    /// Connection tasks running (registered or still in a handshake).
    tasks: AtomicUsize,
    all_closed: Notify,
    next_cid: AtomicU64,
    /// Costly credentials checks (bcrypt) running at once, at most.
    pub(crate) auth_slots: Semaphore,
    /// The client port's TLS handshakes in the current second
    /// (`connection_rate_limit`): when it began, how many.
    pub(super) tls_rate: std::sync::Mutex<(std::time::Instant, u32)>,
}

/// Costly credentials checks at once: half the cores, so the other half
/// keeps moving messages while a brute force runs.
fn auth_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

impl Broker {
    /// The broker for `options`, whose client port is `port` (the bound
    /// one, when the options asked for any free port).
    pub(crate) fn new(options: ServerOptions, port: u16) -> Self {
        let cached = !options.disable_sublist_cache;
        let new_account = |name: String| {
            let mappings = options.auth.mappings_of(&name);
            let limits = options.auth.limits_of(&name);
            Account::with_match_cache(name, cached)
                .with_mappings(mappings)
                .with_limits(limits)
        };
        let server_id = identity::server_id();
        let live = Live::new(&options, port);
        let client_port = port;
        // INFO's host and port: `client_advertise`'s, else the listener's.
        let (host, port) = live.advertise();
        let info = ServerInfo {
            server_name: options
                .server_name
                .clone()
                .unwrap_or_else(|| server_id.clone()),
            server_id,
            version: NATS_VERSION.to_owned(),
            proto: 1,
            go: format!("starling {STARLING_VERSION}"),
            host,
            port,
            headers: !options.no_header_support,
            max_payload: options.max_payload,
            ..ServerInfo::default()
        };
        let mut accounts: HashMap<String, Arc<Account>> = options
            .auth
            .accounts
            .iter()
            .map(|name| (name.clone(), Arc::new(new_account(name.clone()))))
            .collect();
        // nats-server creates `$SYS` when no account is the system one.
        let system = options.system_account_name().map(|name| {
            let account = accounts
                .entry(name.to_owned())
                .or_insert_with(|| Arc::new(new_account(name.to_owned())));
            SystemAccount::new(Arc::clone(account), &info.server_name)
        });
        let global = Arc::new(new_account(GLOBAL_ACCOUNT.to_owned()));
        let table = AccountTable::build(
            &options.auth,
            accounts,
            &global,
            system.as_ref().map(|s| &s.account),
            None,
        );
        let reply_prefix = info.server_id.chars().skip(1).take(6).collect();
        Self {
            system,
            global,
            table: std::sync::RwLock::new(Arc::new(table)),
            auth: std::sync::RwLock::new(Arc::new(Authenticator::new(auth::auth_config(&options)))),
            info,
            connections: DashMap::new(),
            leafs: DashMap::new(),
            leaf_listen: std::sync::OnceLock::new(),
            websocket_port: std::sync::OnceLock::new(),
            own_urls: std::sync::OnceLock::new(),
            stopped: std::sync::OnceLock::new(),
            lame_duck: std::sync::atomic::AtomicBool::new(false),
            reply_prefix,
            cluster: options.cluster.clone().map(Cluster::new),
            stats: stats::Stats::new(),
            extra: counters::Extra::default(),
            tasks: AtomicUsize::new(0),
            all_closed: Notify::new(),
            next_cid: AtomicU64::new(1),
            auth_slots: Semaphore::new(auth_concurrency()),
            tls_rate: std::sync::Mutex::new((std::time::Instant::now(), 0)),
            live,
            client_port,
            options,
        }
    }

    /// A fresh nonce when authentication needs one (nkeys, JWTs), else "".
    pub(crate) fn new_nonce(&self) -> String {
        // Without randomness from the system, nkey and JWT users can't log in.
        if self.auth().needs_nonce() {
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
        // What a reload may have changed since `info` was made.
        let (host, port) = self.live.advertise();
        ServerInfo {
            client_id: cid,
            client_ip: client_ip.to_string(),
            host,
            port,
            max_payload: self.live.max_payload(),
            auth_required: self.auth().info_auth_required(kind),
            tls_required: kind == ConnectionKind::Standard
                && self.options.tls.is_some()
                && !self.options.allow_non_tls,
            tls_available: kind == ConnectionKind::Standard
                && self.options.tls.is_some()
                && self.options.allow_non_tls,
            tls_verify: kind == ConnectionKind::Standard
                && self.live.options().tls.as_ref().is_some_and(|t| t.verify),
            nonce: nonce.to_owned(),
            cluster: self
                .cluster
                .as_ref()
                .map(|c| c.name().0)
                .unwrap_or_default(),
            connect_urls: self.connect_urls(kind),
            ..self.info.clone()
        }
    }

    /// A new connection task: its id, and a guard that counts the task as
    /// running (shutdown waits for it) until dropped.
    pub(crate) fn task(self: &Arc<Self>) -> (u64, TaskGuard) {
        self.tasks.fetch_add(1, Ordering::AcqRel);
        let cid = self.next_cid.fetch_add(1, Ordering::Relaxed);
        (cid, TaskGuard(Arc::clone(self)))
    }

    /// Adds a connection to the registry unless `max_connections` is reached.
    pub(crate) fn register(&self, connection: &Arc<Subscriber>) -> bool {
        if self.connections.len() >= self.live.max_connections() {
            return false;
        }
        self.connections
            .insert(connection.link.cid, Arc::clone(connection));
        true
    }

    /// Removes a closed connection from the registry; monitoring keeps
    /// its last figures.
    pub(crate) fn deregister(&self, connection: &Subscriber) {
        let (account, transport, admitted) = {
            let meta = connection.link.meta();
            (meta.account.clone(), meta.transport, meta.admitted)
        };
        let account = self.account(account.as_deref());
        if admitted {
            // Counted when it was bound (see ClientState::set_account).
            account.release(false);
        }
        self.stats.closed(connection, |counters, slow| {
            account.add_closed(counters, slow);
            self.connections.remove(&connection.link.cid);
            let reason = connection.link.close_reason();
            self.extra.closed(transport, reason, counters.high_water);
        });
    }

    /// A client completed CONNECT: the system account announces it (not
    /// for the global account, as nats-server).
    pub(crate) fn announce_connect(&self, connection: &Arc<Subscriber>, account: &Account) {
        if let Some(system) = &self.system
            && account.name != GLOBAL_ACCOUNT
        {
            system.notify(SystemEvent::Connected(Arc::clone(connection)));
        }
    }

    /// A connection closed: the system account announces the refused
    /// logins, and the disconnects of accounts other than the global one.
    pub(crate) fn announce_close(&self, connection: &Arc<Subscriber>) {
        let Some(system) = &self.system else {
            return;
        };
        let refused = connection.link.close_reason() == Some(CloseReason::AuthenticationViolation);
        let global = connection.link.meta().account.as_deref() == Some(GLOBAL_ACCOUNT);
        if refused || !global {
            system.notify(SystemEvent::Closed(Arc::clone(connection)));
        }
    }

    /// The open connection `cid`, if it is one.
    pub(crate) fn connection(&self, cid: u64) -> Option<Arc<Subscriber>> {
        self.connections.get(&cid).map(|c| Arc::clone(&c))
    }

    /// The open connections, in no particular order.
    pub(crate) fn connections(&self) -> Vec<Arc<Subscriber>> {
        self.connections.iter().map(|c| Arc::clone(&c)).collect()
    }

    /// Connections accepted since start (each got an id at accept, before
    /// any handshake, as nats-server counts `total_connections`).
    pub(crate) fn total_connections(&self) -> u64 {
        self.next_cid.load(Ordering::Relaxed) - 1
    }

    /// Connections open now.
    pub(crate) fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Closes every open connection (leaf links too) with `reason`.
    pub(crate) fn close_all(&self, reason: CloseReason) {
        for connection in &self.connections {
            connection.link.close(reason);
        }
        for leaf in &self.leafs {
            leaf.0.link.close(reason);
        }
        for route in self.cluster.iter().flat_map(Cluster::routes) {
            route.link.close(reason);
        }
    }

    /// Waits until every connection task has ended.
    pub(crate) async fn wait_all_closed(&self) {
        loop {
            let notified = self.all_closed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.tasks.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// A running connection task; dropping it (however the task ends) lets
/// shutdown stop waiting for it.
#[derive(Debug)]
pub(crate) struct TaskGuard(Arc<Broker>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.all_closed.notify_waiters();
        }
    }
}
