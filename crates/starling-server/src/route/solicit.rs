//! The soliciting side (`cluster.md` §3.4): a task per configured route
//! dials it (1 s), sends CONNECT and INFO in one write, reads the peer's
//! INFO, runs the route, and after it ends waits 1 s (plus up to 100 ms)
//! before dialling again, forever. A route learnt by gossip is tried once
//! plus `connect_retries`, and once more after it closes. A route that
//! turned out to duplicate one already up waits for that one to go. A
//! configured route a reload removes is no longer dialled; one a reload
//! adds is dialled from then on.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::handshake::{Refused, connect_line, handshake};
use super::{Ended, establish};
use crate::broker::Broker;
use crate::client::Framing;
use crate::identity::FastRng;
use crate::leaf::source::Plain;
use crate::leaf::{Conn, spawn_writer};
use crate::link::{CloseReason, Link};
use crate::options::RouteUrl;

const DIAL_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_secs(1);

/// One task per configured route; they stop when `stopped` says so.
pub(crate) fn start_routes(
    broker: &Arc<Broker>,
    stopped: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let Some(cluster) = &broker.cluster else {
        return Vec::new();
    };
    cluster
        .options()
        .routes
        .iter()
        .map(|url| {
            super::spawn(solicit(
                Arc::clone(broker),
                url.clone(),
                None,
                stopped.clone(),
            ))
        })
        .collect()
}

/// Dials a route a reload added to `routes`, until a reload removes it.
pub(crate) fn dial_configured(broker: &Arc<Broker>, url: String) {
    if let Some(stopped) = broker.stopped.get().cloned() {
        super::spawn(solicit(Arc::clone(broker), url, None, stopped));
    }
}

/// Dials a member gossip named (`ip`), asking with this server's own
/// credentials when it said `auth_required`.
pub(crate) fn dial_gossiped(broker: &Arc<Broker>, url: String, auth_required: bool, id: String) {
    let Some(stopped) = broker.stopped.get().cloned() else {
        return;
    };
    let broker = Arc::clone(broker);
    super::spawn(async move {
        solicit(Arc::clone(&broker), url, Some(auth_required), stopped).await;
        if let Some(cluster) = &broker.cluster {
            cluster.done_dialling(&id);
        }
    });
}

/// Dials `url` until told to stop; `implicit` (learnt by gossip, with
/// whether the peer asks for credentials) limits the attempts.
async fn solicit(
    broker: Arc<Broker>,
    url: String,
    implicit: Option<bool>,
    mut stopped: watch::Receiver<bool>,
) {
    let (Some(cluster), Ok(parsed)) = (&broker.cluster, RouteUrl::parse(&url)) else {
        return;
    };
    let retries = u64::from(cluster.options().connect_retries);
    let mut rng = FastRng::new();
    let mut failures = 0u64;
    let mut ever_connected = false;
    // A configured route is dialled until a reload takes it out.
    let removed = || implicit.is_none() && !cluster.options().routes.contains(&url);
    loop {
        if *stopped.borrow() || removed() {
            return;
        }
        let (ended, peer_id) = attempt(&broker, &url, &parsed, implicit).await;
        let wait = match ended {
            Err(Refused::ToSelf) => return,
            Ok(Ended::Duplicate) => {
                if implicit.is_some() {
                    return;
                }
                // The route up now may go: check as often as a retry.
                RETRY
            }
            Ok(Ended::Closed) => {
                failures = 0;
                ever_connected = true;
                if implicit.is_some() {
                    // One more attempt after a short pause, then gossip
                    // must name it again.
                    let pause = Duration::from_millis(rng.below(100) as u64);
                    tokio::time::sleep(pause).await;
                    let _ = attempt(&broker, &url, &parsed, implicit).await;
                    return;
                }
                RETRY + Duration::from_millis(rng.below(100) as u64)
            }
            Err(Refused::Closed) => {
                failures += 1;
                if implicit.is_some() && failures > retries {
                    return;
                }
                if broker.live.reports_connect_error(ever_connected, failures) {
                    tracing::error!("Error trying to connect to route (attempt {failures}): {url}");
                } else {
                    tracing::debug!("Error trying to connect to route (attempt {failures}): {url}");
                }
                RETRY
            }
        };
        // A duplicate's peer stays routed: wait while it does.
        loop {
            tokio::select! {
                _ = stopped.changed() => return,
                () = tokio::time::sleep(wait) => {}
            }
            if !peer_id.as_ref().is_some_and(|id| cluster.has_route_to(id)) {
                break;
            }
        }
    }
}

/// One connection to `url`: the result, and the peer's id once known.
async fn attempt(
    broker: &Arc<Broker>,
    url: &str,
    parsed: &RouteUrl,
    implicit: Option<bool>,
) -> (Result<Ended, Refused>, Option<String>) {
    let Some(address) = parsed.address() else {
        tracing::debug!("Route {url}: missing port in address");
        return (Err(Refused::Closed), None);
    };
    let stream = match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&address)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!("Error trying to connect to route {address}: {error}");
            return (Err(Refused::Closed), None);
        }
        Err(_) => return (Err(Refused::Closed), None),
    };
    let _ = stream.set_nodelay(true);
    let Ok(peer) = stream.peer_addr() else {
        return (Err(Refused::Closed), None);
    };
    let Some(cluster) = &broker.cluster else {
        return (Err(Refused::Closed), None);
    };
    let (cid, _guard) = broker.task();
    match cluster.tls() {
        Some(tls) => {
            let Ok(name) = rustls_pki_types::ServerName::try_from(parsed.host.clone()) else {
                return (Err(Refused::Closed), None);
            };
            let handshake = tokio::time::timeout(tls.timeout, tls.connector.connect(name, stream));
            match Box::pin(handshake).await {
                Ok(Ok(secured)) => {
                    let halves = tokio::io::split(secured);
                    run(broker, halves, (url, parsed, implicit), (peer, cid)).await
                }
                Ok(Err(error)) => {
                    tracing::warn!("Route {address}: TLS handshake error: {error}");
                    (Err(Refused::Closed), None)
                }
                Err(_) => (Err(Refused::Closed), None),
            }
        }
        None => {
            run(
                broker,
                stream.into_split(),
                (url, parsed, implicit),
                (peer, cid),
            )
            .await
        }
    }
}

/// CONNECT and INFO in one write, without waiting for the peer's; then
/// its INFO, and the route.
async fn run<R, W>(
    broker: &Arc<Broker>,
    (reader, writer): (R, W),
    (url, parsed, implicit): (&str, &RouteUrl, Option<bool>),
    (peer, cid): (std::net::SocketAddr, u64),
) -> (Result<Ended, Refused>, Option<String>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Send + 'static,
{
    let Some(cluster) = &broker.cluster else {
        return (Err(Refused::Closed), None);
    };
    let link = Arc::new(Link::new(cid, broker.options.max_pending));
    let writer = spawn_writer(broker, &link, writer, Framing::Raw);
    let mut conn = Conn::for_route(broker, Plain(reader), Arc::clone(&link), peer);
    let tls = cluster.tls().is_some();
    let told = cluster.name();
    let mut hello = connect_line(
        broker,
        told.clone(),
        parsed.user.clone(),
        (implicit == Some(true), tls),
    );
    let nonce = crate::identity::nonce().unwrap_or_default();
    hello.extend_from_slice(&cluster.own_info(broker, nonce).line(true));
    conn.send(&hello);
    let result = match handshake(broker, &mut conn, false, &told.0).await {
        Ok(info) => {
            let id = info.server_id.clone();
            let ended = establish(
                broker,
                conn,
                (Some(url.to_owned()), implicit.is_none()),
                info,
            )
            .await;
            (Ok(ended), Some(id))
        }
        Err(refused) => (Err(refused), None),
    };
    link.close(CloseReason::ClientClosed);
    let _ = writer.await;
    result
}
