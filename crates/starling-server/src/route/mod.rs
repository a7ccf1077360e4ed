//! Cluster routes (`cluster.md`): one connection to every other member of
//! the cluster, carrying every account's interest and messages, accepted
//! on the cluster port or dialled to the configured routes and to the
//! members gossip names.
//!
//! A route is a [`Link`] (its outbound buffer and writer, as a client's),
//! and per account a [`Subscriber`] of route kind holding what the peer
//! announced with `RS+` (so the account's router delivers to it, as
//! `RMSG`s naming the queue groups it must serve) and a [`RouteInterest`]
//! telling the peer the account's interest as it changes, in the same
//! ordered stream as the messages. The peer's `RMSG`s take the path a
//! client's publish takes, in a state per account whose kind stops them
//! from going on to another route (one hop).

mod handshake;
mod interest;
pub(crate) mod reload;
mod solicit;
mod steady;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

pub(crate) use solicit::{dial_configured, start_routes};

use crate::account::{InterestWatcher, Subscriber};
use crate::broker::{Broker, Cluster, RoutePeer};
use crate::client::Framing;
use crate::leaf::source::Plain;
use crate::leaf::{Conn, spawn_writer};
use crate::link::{CloseReason, Link};
use interest::RouteInterest;
use starling_proto::route::RouteInfo;

/// How a route ended, for the soliciting side's next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// It closed (or never came up): try again.
    Closed,
    /// The peer is already routed to: dial again only once that route is
    /// gone.
    Duplicate,
}

/// The accepting side: the TLS handshake first when the cluster has TLS,
/// then this server's INFO at once (a newer peer waits for it before
/// sending its own), the handshake and the route.
pub(crate) async fn accept(broker: Arc<Broker>, stream: TcpStream, peer: SocketAddr, cid: u64) {
    let Some(cluster) = &broker.cluster else {
        return;
    };
    match cluster.tls() {
        Some(tls) => {
            let handshake = tokio::time::timeout(tls.timeout, tls.acceptor.accept(stream));
            match Box::pin(handshake).await {
                Ok(Ok(secured)) => {
                    if !certificate_authorizes(&broker, secured.get_ref().1) {
                        tracing::error!(
                            "{peer} - rid:{cid} - Router authorization violation: the certificate names no configured route and no authorized user"
                        );
                        return;
                    }
                    let (reader, writer) = tokio::io::split(secured);
                    accepted(&broker, (reader, writer), peer, cid).await;
                }
                // nats-server's texts and level.
                Ok(Err(error)) => {
                    tracing::error!("{peer} - rid:{cid} - TLS route handshake error: {error}");
                }
                Err(_) => tracing::error!("{peer} - rid:{cid} - TLS handshake timeout"),
            }
        }
        None => accepted(&broker, stream.into_split(), peer, cid).await,
    }
}

/// Whether an accepted route's certificate authorizes it, as
/// nats-server's `isRouterAuthorized`: with `verify_cert_and_check_known_urls`,
/// a DNS name matching the host of a configured route (`dnsAltNameMatches`:
/// same number of labels, a leading `*` matching any one); with
/// `verify_and_map`, a name mapping to the `authorization` user. True
/// with neither (the CONNECT's credentials decide then).
fn certificate_authorizes(broker: &Broker, tls: &rustls::ServerConnection) -> bool {
    let Some(cluster) = broker.cluster.as_ref().map(|c| c.options()) else {
        return true;
    };
    let Some(settings) = cluster
        .tls
        .as_ref()
        .filter(|t| t.check_known_urls || t.verify_and_map)
    else {
        return true;
    };
    let Some(names) = crate::tls::describe(tls).and_then(|n| n.names) else {
        return false;
    };
    let mapped = || {
        let user = cluster.user.as_ref().map(|(user, _)| user.as_str());
        let users: Vec<&str> = user.into_iter().collect();
        starling_auth::mapped(&names, &users, |u| u, |_| true).is_some()
    };
    (settings.check_known_urls && known_url(&cluster.routes, &names))
        || (settings.verify_and_map && mapped())
}

/// A DNS name of the certificate matches the host of one of `routes`.
fn known_url(routes: &[String], names: &starling_auth::CertNames) -> bool {
    let hosts: Vec<Vec<String>> = routes
        .iter()
        .map(|url| {
            let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
            let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.to_ascii_lowercase()
                .split('.')
                .map(str::to_owned)
                .collect()
        })
        .collect();
    names.dns_names.iter().any(|name| {
        let labels: Vec<String> = name
            .to_ascii_lowercase()
            .split('.')
            .map(str::to_owned)
            .collect();
        hosts.iter().any(|host| {
            host.len() == labels.len()
                && labels
                    .iter()
                    .zip(host)
                    .enumerate()
                    .all(|(i, (label, theirs))| (i == 0 && label == "*") || label == theirs)
        })
    })
}

async fn accepted<R, W>(broker: &Arc<Broker>, (reader, writer): (R, W), peer: SocketAddr, cid: u64)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Send + 'static,
{
    let Some(cluster) = &broker.cluster else {
        return;
    };
    let link = Arc::new(Link::new(cid, broker.options.max_pending));
    let writer = spawn_writer(broker, &link, writer, Framing::Raw);
    let mut conn = Conn::for_route(broker, Plain(reader), Arc::clone(&link), peer);
    let nonce = crate::identity::nonce().unwrap_or_default();
    let info = cluster.own_info(broker, nonce);
    conn.send(&info.line(true));
    if let Ok(info) = handshake::handshake(broker, &mut conn, true, &info.cluster).await {
        establish(broker, conn, (None, false), info).await;
    }
    link.close(CloseReason::ClientClosed);
    let _ = writer.await;
}

/// Registers a route whose peer sent `info`, runs it until it closes,
/// then withdraws everything it brought.
async fn establish<S: crate::leaf::source::Source>(
    broker: &Arc<Broker>,
    mut conn: Conn<S>,
    (url, configured): (Option<String>, bool),
    info: RouteInfo,
) -> Ended {
    let Some(cluster) = &broker.cluster else {
        return Ended::Closed;
    };
    let link = Arc::clone(&conn.link);
    let accounts = broker
        .all_accounts()
        .into_iter()
        .map(|account| {
            let subscriber = Arc::new(Subscriber::for_route(
                Arc::clone(&link),
                Bytes::from(account.name.clone()),
            ));
            subscriber.set_headers(info.headers && !broker.options.no_header_support);
            subscriber.set_lnoc(info.lnoc);
            (account.name.clone(), (account, subscriber))
        })
        .collect::<HashMap<_, _>>();
    let peer = Arc::new(RoutePeer {
        link: Arc::clone(&link),
        info,
        peer: conn.peer,
        url,
        configured,
        accounts,
        watchers: Mutex::new(Vec::new()),
        urls_withdrawn: std::sync::atomic::AtomicBool::new(false),
    });
    if !cluster.register(&peer) {
        tracing::debug!(
            cid = link.cid,
            "Detected duplicate remote route {:?}",
            peer.info.server_id
        );
        link.close(CloseReason::DuplicateRoute);
        return Ended::Duplicate;
    }
    {
        let mut meta = link.meta();
        meta.transport = "route";
        meta.ip = conn.peer.ip().to_string();
        meta.port = conn.peer.port();
        meta.start_unix_nanos = crate::broker::stats::unix_nanos_now();
    }
    tracing::info!(
        cid = link.cid,
        "{} - rid:{} - Route connection created",
        conn.peer,
        link.cid
    );
    // The account's interest, then every change, in the link's order.
    for (name, (account, _)) in &peer.accounts {
        let watcher: Arc<dyn InterestWatcher> = Arc::new(RouteInterest::new(
            Arc::clone(&link),
            Bytes::from(name.clone()),
            &broker.standing_interest(account),
            (cluster.permissions(), peer.info.lnoc),
        ));
        account.watch_interest(Arc::clone(&watcher));
        peer.watchers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((Arc::clone(account), watcher));
    }
    gossip(broker, cluster, &peer);
    let (tcp, ws, leaf) = cluster.peer_urls(&peer.info, true);
    broker.push_info((tcp, ws));
    if leaf {
        crate::leaf::push_info(broker);
    }
    steady::run(broker, &mut conn, &peer).await;
    cluster.deregister(&peer);
    withdraw_urls(broker, &peer);
    let watchers = std::mem::take(
        &mut *peer
            .watchers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for (account, watcher) in watchers {
        account.unwatch_interest(&watcher);
    }
    for (_, subscriber) in peer.accounts.values() {
        subscriber.remove_all();
    }
    link.close(CloseReason::ClientClosed);
    let reason = link.close_reason().map_or("Unknown", CloseReason::as_str);
    tracing::info!(
        cid = link.cid,
        "{} - rid:{} - Router connection closed: {reason}",
        conn.peer,
        link.cid
    );
    Ended::Closed
}

/// The peer's client URLs leave the lists (once), and clients are told.
pub(super) fn withdraw_urls(broker: &Broker, peer: &RoutePeer) {
    if let Some(cluster) = &broker.cluster
        && !peer
            .urls_withdrawn
            .swap(true, std::sync::atomic::Ordering::AcqRel)
    {
        let (tcp, ws, leaf) = cluster.peer_urls(&peer.info, false);
        broker.push_info((tcp, ws));
        if leaf {
            crate::leaf::push_info(broker);
        }
    }
}

/// A new peer on a server with other routes: its INFO goes to each of
/// them, so they dial it and the mesh stays full (`cluster.md` §3.1).
fn gossip(broker: &Broker, cluster: &Cluster, peer: &RoutePeer) {
    let others: Vec<Arc<RoutePeer>> = cluster
        .routes()
        .into_iter()
        .filter(|other| other.link.cid != peer.link.cid)
        .collect();
    if others.is_empty() {
        return;
    }
    let mut info = peer.info.clone();
    info.nonce.clear();
    if info.ip.is_empty() {
        let host = match peer.peer.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip @ std::net::IpAddr::V4(_) => ip.to_string(),
        };
        info.ip = format!("nats-route://{host}:{}/", info.port);
    }
    let line = info.line(false);
    for other in others {
        other.link.queue(|out| out.extend_from_slice(&line));
        other.link.writer_wake.notify_one();
    }
    let _ = broker;
}

/// The cluster listener's address as the route INFO names it (`advertise`
/// sets it and the `ip` peers dial).
pub(crate) fn advertised(broker: &Broker, bound: SocketAddr) -> (String, u16, String) {
    let cluster = broker.cluster.as_ref().map(|c| c.options());
    if let Some(advertise) = cluster.as_ref().and_then(|c| c.advertise.as_deref()) {
        let (host, port) = match advertise.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') => (
                host.to_owned(),
                port.parse().unwrap_or_else(|_| bound.port()),
            ),
            _ => (advertise.to_owned(), bound.port()),
        };
        let ip = format!("nats-route://{host}:{port}/");
        return (host, port, ip);
    }
    let host = cluster.map_or_else(|| bound.ip().to_string(), |c| c.host.clone());
    (host, bound.port(), String::new())
}

/// Spawns `future` for a route; the handle is not awaited (shutdown
/// closes the route with the other links).
fn spawn(future: impl Future<Output = ()> + Send + 'static) -> JoinHandle<()> {
    tokio::spawn(future)
}
