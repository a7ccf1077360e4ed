//! The cluster as this server sees it: its name (fixed, or dynamic until a
//! peer's fixed one is adopted), the routes registered by the peer's
//! server id, and the route INFO this server sends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use dashmap::DashMap;

use crate::account::{Account, InterestWatcher, Subscriber};
use crate::link::Link;
use crate::{ClusterOptions, NATS_VERSION, STARLING_VERSION};
use starling_proto::route::RouteInfo;

/// Route TLS: the accepting and the dialling side's, and the handshake's
/// deadline.
pub(crate) struct RouteTls {
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
    pub(crate) connector: tokio_rustls::TlsConnector,
    pub(crate) timeout: std::time::Duration,
}

impl std::fmt::Debug for RouteTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTls")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A watcher following an account's interest for a route.
pub(crate) type Watching = (Arc<Account>, Arc<dyn InterestWatcher>);

/// One registered route: the peer's INFO, the link, and per account the
/// subscriber holding what the peer announced and the watcher telling it
/// this server's interest.
#[derive(Debug)]
pub(crate) struct RoutePeer {
    pub(crate) link: Arc<Link>,
    pub(crate) info: RouteInfo,
    pub(crate) peer: SocketAddr,
    /// The URL this server dialled (a solicited route).
    pub(crate) url: Option<String>,
    /// Dialled from the configuration (not learnt by gossip).
    pub(crate) configured: bool,
    pub(crate) accounts: HashMap<String, (Arc<Account>, Arc<Subscriber>)>,
    pub(crate) watchers: Mutex<Vec<Watching>>,
    /// Its client URLs were taken out of the lists (it entered lame-duck
    /// mode, or the route closed): once only.
    pub(crate) urls_withdrawn: std::sync::atomic::AtomicBool,
}

/// The cluster state every route shares.
#[derive(Debug)]
pub(crate) struct Cluster {
    /// As configured now: a reload replaces it (only `routes`, the
    /// `authorization` and `connect_retries` may change).
    settings: std::sync::RwLock<Arc<ClusterOptions>>,
    /// The name, and whether it was made up (dynamic).
    name: Mutex<(String, bool)>,
    routes: DashMap<String, Arc<RoutePeer>>,
    /// Host, port and `ip` of the route INFO, once the listener is bound.
    pub(crate) listen: OnceLock<(String, u16, String)>,
    /// With `tls`: the accepting and the dialling side's TLS, and the
    /// handshake's deadline (a reload replaces them).
    tls: std::sync::RwLock<Option<Arc<RouteTls>>>,
    /// `permissions` (`import` as publish, `export` as subscribe); a
    /// reload replaces them.
    permissions: std::sync::RwLock<Option<Arc<starling_auth::Permissions>>>,
    /// Servers gossip named that a task is dialling now.
    dialling: Mutex<std::collections::HashSet<String>>,
    /// The peers' client and websocket URLs, for clients' `connect_urls`.
    urls: Mutex<PeerUrls>,
    /// Bumped whenever either list of peer URLs changes.
    urls_generation: std::sync::atomic::AtomicU64,
}

/// Peer URLs, each with how many routes named it.
#[derive(Debug, Default)]
struct PeerUrls {
    tcp: Vec<(String, usize)>,
    ws: Vec<(String, usize)>,
    leaf: Vec<(String, usize)>,
    /// A peer was ever known (before, clients get no `connect_urls`).
    ever: bool,
}

/// Counts `urls` in (or out of) `list`; whether an entry came or went.
fn count(list: &mut Vec<(String, usize)>, urls: &[String], add: bool) -> bool {
    let mut changed = false;
    for url in urls {
        match list.iter().position(|(known, _)| known == url) {
            Some(at) if add => list[at].1 += 1,
            Some(at) => {
                list[at].1 -= 1;
                if list[at].1 == 0 {
                    list.remove(at);
                    changed = true;
                }
            }
            None if add => {
                list.push((url.clone(), 1));
                changed = true;
            }
            None => {}
        }
    }
    changed
}

impl Cluster {
    pub(crate) fn new(options: ClusterOptions) -> Self {
        let name = match &options.name {
            Some(name) => (name.clone(), false),
            None => (crate::identity::server_id()[..22].to_owned(), true),
        };
        Self {
            permissions: std::sync::RwLock::new(options.permissions.clone().map(Arc::new)),
            settings: std::sync::RwLock::new(Arc::new(options)),
            name: Mutex::new(name),
            routes: DashMap::new(),
            listen: OnceLock::new(),
            tls: std::sync::RwLock::new(None),
            dialling: Mutex::new(std::collections::HashSet::new()),
            urls: Mutex::new(PeerUrls::default()),
            urls_generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The `permissions` as configured now.
    pub(crate) fn permissions(&self) -> Option<Arc<starling_auth::Permissions>> {
        self.permissions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A reload's new `permissions` and `name` (the routes are closed
    /// after, to be made again under them).
    pub(crate) fn reconfigure(&self, options: &ClusterOptions) {
        *self
            .permissions
            .write()
            .unwrap_or_else(PoisonError::into_inner) = options.permissions.clone().map(Arc::new);
        if let Some(name) = &options.name {
            *self.name.lock().unwrap_or_else(PoisonError::into_inner) = (name.clone(), false);
        }
    }

    /// The routes' TLS as configured now.
    pub(crate) fn tls(&self) -> Option<Arc<RouteTls>> {
        self.tls
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sets the routes' TLS (at start, and on a reload).
    pub(crate) fn set_tls(&self, tls: RouteTls) {
        *self.tls.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(tls));
    }

    /// The cluster's options as configured now.
    pub(crate) fn options(&self) -> Arc<ClusterOptions> {
        let settings = self.settings.read();
        Arc::clone(&settings.unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the options (a reload, checked already).
    pub(crate) fn set_options(&self, options: ClusterOptions) {
        *self
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(options);
    }

    /// The cluster name, and whether it is dynamic.
    pub(crate) fn name(&self) -> (String, bool) {
        self.name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Meeting a peer of cluster `theirs` (`dynamic` if made up), having
    /// told it `told` on this route: whether the route may go on. A
    /// dynamic name here takes a fixed one, or a dynamic one that sorts
    /// after it (nats-server's rule). By the same rule a peer whose name
    /// is made up takes the name this server told it when that one is
    /// fixed or sorts after its own, so the route goes on under one name
    /// (nats-server refuses it and meets again a second later; a client
    /// meanwhile sees the peer come and go).
    pub(crate) fn meet(&self, theirs: &str, dynamic: bool, told: &str) -> bool {
        let mut name = self.name.lock().unwrap_or_else(PoisonError::into_inner);
        if theirs == name.0 {
            return true;
        }
        if dynamic && told == name.0 && (!name.1 || name.0.as_str() > theirs) {
            return true;
        }
        if name.1 && (!dynamic || theirs > name.0.as_str()) {
            tracing::info!("Cluster name updated to {theirs}");
            *name = (theirs.to_owned(), dynamic);
            drop(name);
            // As nats-server: the other routes go, and come back under it.
            for route in self.routes() {
                route.link.close(crate::link::CloseReason::ClientClosed);
            }
            return true;
        }
        false
    }

    /// Registers `peer` under its server id; `false` when one is already
    /// registered (the newcomer is the duplicate).
    pub(crate) fn register(&self, peer: &Arc<RoutePeer>) -> bool {
        match self.routes.entry(peer.info.server_id.clone()) {
            dashmap::mapref::entry::Entry::Occupied(_) => false,
            dashmap::mapref::entry::Entry::Vacant(slot) => {
                slot.insert(Arc::clone(peer));
                true
            }
        }
    }

    /// Forgets `peer` (if it is the one registered under its id).
    pub(crate) fn deregister(&self, peer: &RoutePeer) {
        self.routes.remove_if(&peer.info.server_id, |_, known| {
            known.link.cid == peer.link.cid
        });
    }

    /// A route's peer came (`add`) or went: its URLs join or leave the
    /// lists (client ones not with `no_advertise`). Which lists changed:
    /// (TCP, websocket, leafnode).
    pub(crate) fn peer_urls(&self, info: &RouteInfo, add: bool) -> (bool, bool, bool) {
        let mut urls = self.urls.lock().unwrap_or_else(PoisonError::into_inner);
        let leaf = count(&mut urls.leaf, &info.leafnode_urls, add);
        if self.options().no_advertise {
            return (false, false, leaf);
        }
        let tcp = count(&mut urls.tcp, &info.connect_urls, add);
        let ws = count(&mut urls.ws, &info.ws_connect_urls, add);
        urls.ever |= add;
        if tcp || ws {
            self.urls_generation
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        (tcp, ws, leaf)
    }

    /// The peers' leafnode URLs (for leafs' `leafnode_urls`).
    pub(crate) fn peer_leaf_urls(&self) -> Vec<String> {
        let urls = self.urls.lock().unwrap_or_else(PoisonError::into_inner);
        urls.leaf.iter().map(|(url, _)| url.clone()).collect()
    }

    pub(crate) fn urls_generation(&self) -> u64 {
        self.urls_generation
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A client's `connect_urls`: its own URLs first, then the peers'
    /// (websocket ones for a websocket client); none until a peer was
    /// ever known (a standalone server sends none).
    pub(crate) fn connect_urls(&self, own: Vec<String>, websocket: bool) -> Vec<String> {
        let urls = self.urls.lock().unwrap_or_else(PoisonError::into_inner);
        if !urls.ever {
            return Vec::new();
        }
        let peers = if websocket { &urls.ws } else { &urls.tcp };
        let mut list = own;
        for (url, _) in peers {
            if !list.contains(url) {
                list.push(url.clone());
            }
        }
        list
    }

    /// Claims the dialling of `server_id` (learnt by gossip); `false` when
    /// a task already dials it.
    pub(crate) fn start_dialling(&self, server_id: &str) -> bool {
        self.dialling
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(server_id.to_owned())
    }

    pub(crate) fn done_dialling(&self, server_id: &str) {
        self.dialling
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(server_id);
    }

    pub(crate) fn has_route_to(&self, server_id: &str) -> bool {
        self.routes.contains_key(server_id)
    }

    /// The routes up now, in no particular order.
    pub(crate) fn routes(&self) -> Vec<Arc<RoutePeer>> {
        self.routes.iter().map(|r| Arc::clone(r.value())).collect()
    }

    /// Lame-duck mode began: every route is told (an INFO saying `ldm`,
    /// once, as nats-server's `sendLDMToRoutes`), so the peers stop
    /// giving this server's URLs to their clients.
    pub(crate) fn push_lame_duck(&self, broker: &crate::broker::Broker) {
        let line = RouteInfo {
            ldm: true,
            ..self.own_info(broker, String::new())
        }
        .line(false);
        for route in self.routes() {
            if route.link.queue(|out| out.extend_from_slice(&line))
                == crate::link::Queued::WakeWriter
            {
                route.link.writer_wake.notify_one();
            }
        }
    }

    /// This server's route INFO (`nonce` for the initial one).
    pub(crate) fn own_info(&self, broker: &crate::broker::Broker, nonce: String) -> RouteInfo {
        let (host, port, ip) = self.listen.get().cloned().unwrap_or_default();
        let (cluster, cluster_dynamic) = self.name();
        let (connect_urls, ws_connect_urls) = if self.options().no_advertise {
            (Vec::new(), Vec::new())
        } else {
            broker.own_client_urls()
        };
        RouteInfo {
            server_id: broker.info.server_id.clone(),
            server_name: broker.info.server_name.clone(),
            version: NATS_VERSION.to_owned(),
            proto: 2,
            go: format!("starling {STARLING_VERSION}"),
            host,
            port,
            headers: !broker.options.no_header_support,
            auth_required: self.options().user.is_some(),
            tls_required: self.options().tls.is_some(),
            tls_verify: self.options().tls.is_some(),
            max_payload: i64::try_from(broker.live.max_payload()).unwrap_or(i64::MAX),
            nonce,
            ip,
            cluster,
            cluster_dynamic,
            lnoc: true,
            connect_urls,
            ws_connect_urls,
            import: self
                .options()
                .permissions
                .as_ref()
                .and_then(|p| rule_json(p.publish.as_ref())),
            export: self
                .options()
                .permissions
                .as_ref()
                .and_then(|p| rule_json(p.subscribe.as_ref())),
            leafnode_urls: broker
                .leaf_listen
                .get()
                .filter(|_| {
                    broker
                        .options
                        .leaf
                        .as_ref()
                        .is_some_and(|l| !l.no_advertise)
                })
                .map(|(host, port)| vec![format!("{host}:{port}")])
                .unwrap_or_default(),
            ..RouteInfo::default()
        }
    }
}

/// A permission rule as the route INFO shows it (`{"allow":[..],"deny":[..]}`).
fn rule_json(rule: Option<&starling_auth::SubjectPermission>) -> Option<serde_json::Value> {
    let rule = rule?;
    let subjects = |entries: &[starling_auth::PermissionEntry]| -> Vec<String> {
        entries.iter().map(|e| e.subject.clone()).collect()
    };
    let mut map = serde_json::Map::new();
    if let Some(allow) = &rule.allow {
        map.insert("allow".into(), serde_json::json!(subjects(allow)));
    }
    if !rule.deny.is_empty() {
        map.insert("deny".into(), serde_json::json!(subjects(&rule.deny)));
    }
    Some(serde_json::Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(name: Option<&str>) -> Cluster {
        Cluster::new(ClusterOptions {
            name: name.map(str::to_owned),
            ..ClusterOptions::default()
        })
    }

    #[test]
    fn names_meet_as_nats_server_settles_them_without_a_retry() {
        // Dynamic here, dynamic there: the name that sorts last wins on
        // both sides, at once.
        let dynamic = cluster(None);
        let ours = dynamic.name().0;
        assert!(dynamic.meet("A", true, &ours), "they take ours");
        assert_eq!(dynamic.name().0, ours);
        assert!(!dynamic.meet("A", true, "told them another"));
        assert!(dynamic.meet("ZZZ", true, &ours), "we take theirs");
        assert_eq!(dynamic.name(), ("ZZZ".to_owned(), true));
        assert!(dynamic.meet("B", false, "ZZZ"), "a fixed name wins");
        assert_eq!(dynamic.name(), ("B".to_owned(), false));
        // Fixed here: a dynamic peer takes it; another fixed one is refused.
        let fixed = cluster(Some("C"));
        assert!(fixed.meet("Z", true, "C"));
        assert!(!fixed.meet("D", false, "C"));
        assert_eq!(fixed.name(), ("C".to_owned(), false));
    }
}
