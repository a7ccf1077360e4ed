//! An established route's reading side: the peer's `RS+`/`RS-` (and
//! `LS+`/`LS-`) become (or stop being) subscriptions of the route in the
//! account they name (unknown accounts ignored, silently: a `-ERR` would
//! make nats-server drop the route), its `RMSG`/`HMSG`/`LMSG` are
//! delivered as a client's publish is in that account, PINGs are answered
//! and sent, and an INFO about another server (gossip) makes this server
//! dial it.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use starling_proto::encode;
use starling_proto::leaf::LeafOp;

use crate::broker::Broker;
use crate::broker::RoutePeer;
use crate::client::{ClientState, Time, wait_for_room};
use crate::leaf::Conn;
use crate::leaf::keepalive::{Pings, Waited};
use crate::leaf::source::Source;
use crate::leaf::steady::{key, subscribe};
use crate::link::CloseReason;
use crate::options::RouteUrl;
use starling_proto::route::RouteInfo;

/// Reads the peer's interest and messages until the route closes.
pub(super) async fn run<S: Source>(
    broker: &Arc<Broker>,
    conn: &mut Conn<S>,
    peer: &Arc<RoutePeer>,
) {
    let link = Arc::clone(&conn.link);
    let stop = link.reader_stop.notified();
    tokio::pin!(stop);
    let mut pings = Pings::new();
    // A state per account the peer's messages name, made on first use.
    let mut states: HashMap<Bytes, Box<ClientState>> = HashMap::new();
    let mut buffered = !conn.buf.is_empty();
    loop {
        if link.is_closed() {
            return;
        }
        if !std::mem::take(&mut buffered) {
            match conn.wait(stop.as_mut(), &mut pings, &broker.live).await {
                Waited::Read => {}
                Waited::Pinged => continue,
                Waited::Ended => return,
            }
        }
        let now = Time::now();
        loop {
            let op = match conn.parser.decode(&mut conn.buf) {
                Ok(Some(op)) => op,
                Ok(None) => break,
                Err(error) => {
                    conn.parse_error(&error);
                    return;
                }
            };
            match op {
                LeafOp::Sub(sub) => {
                    let account = sub.account.as_deref().and_then(|a| account_of(peer, a));
                    let exported = |filter: &[u8]| {
                        broker
                            .cluster
                            .as_ref()
                            .and_then(|c| c.permissions())
                            .is_none_or(|p| p.can_subscribe(filter, None))
                    };
                    match account {
                        Some(_) if !exported(&sub.subject) => tracing::debug!(
                            cid = link.cid,
                            "Can not export {:?}, ignoring remote subscription request",
                            String::from_utf8_lossy(&sub.subject)
                        ),
                        Some((account, me)) => {
                            subscribe(me, account, sub);
                        }
                        None => tracing::debug!(
                            cid = link.cid,
                            "Unknown account {:?} for remote subject {:?}",
                            String::from_utf8_lossy(sub.account.as_deref().unwrap_or_default()),
                            String::from_utf8_lossy(&sub.subject)
                        ),
                    }
                }
                LeafOp::Unsub(unsub) => {
                    let account = unsub.account.as_deref().and_then(|a| account_of(peer, a));
                    if let Some((_, me)) = account
                        && let Some(sub) =
                            me.subscription(&key(&unsub.subject, unsub.queue.as_ref()))
                    {
                        sub.remove();
                    }
                }
                LeafOp::Msg(message) => {
                    let Some(name) = message.account() else {
                        continue;
                    };
                    let Some((account, me)) = account_of(peer, name) else {
                        continue;
                    };
                    let state = states
                        .entry(Bytes::copy_from_slice(name))
                        .or_insert_with(|| {
                            Box::new(ClientState::for_link(
                                Arc::clone(broker),
                                Arc::clone(me),
                                Arc::clone(account),
                                peer.info.headers,
                                now,
                            ))
                        });
                    state.handle_leaf_message(&message, now);
                }
                LeafOp::Ping => conn.send(encode::PONG),
                LeafOp::Pong => {
                    if let Some(rtt) = pings.pong(now.instant) {
                        link.meta().rtt = Some(rtt);
                    }
                }
                LeafOp::Info(json) => gossiped(broker, peer, &json),
                LeafOp::Err(text) => {
                    // nats-server closes a route on any -ERR it receives.
                    tracing::warn!(
                        cid = link.cid,
                        "Route Error {}",
                        String::from_utf8_lossy(&text)
                    );
                    link.close(CloseReason::ParseError);
                }
                _ => {}
            }
            if link.is_closed() {
                return;
            }
        }
        for state in states.values_mut() {
            state.end_batch();
            let backlog = state.take_backlog();
            if !backlog.is_empty() {
                wait_for_room(&backlog, broker.options.stall_timeout).await;
            }
        }
    }
}

/// The account named `name` on this route, with the route's subscriber in it.
fn account_of<'a>(
    peer: &'a RoutePeer,
    name: &[u8],
) -> Option<&'a (
    Arc<crate::account::Account>,
    Arc<crate::account::Subscriber>,
)> {
    std::str::from_utf8(name)
        .ok()
        .and_then(|name| peer.accounts.get(name))
}

/// An INFO on an established route: about another server, a member to
/// dial unless it is this one, already routed to, or configured (its
/// explicit route will connect).
fn gossiped(broker: &Arc<Broker>, peer: &RoutePeer, json: &[u8]) {
    let Some(cluster) = &broker.cluster else {
        return;
    };
    let Some(info) = RouteInfo::parse(json) else {
        return;
    };
    if info.server_id == peer.info.server_id && info.ldm {
        // The peer entered lame-duck mode: clients stop being sent to it.
        tracing::info!("Peer {:?} entered lame duck mode", info.server_name);
        super::withdraw_urls(broker, peer);
        return;
    }
    if info.server_id == peer.info.server_id
        || info.server_id == broker.info.server_id
        || cluster.has_route_to(&info.server_id)
        || info.ip.is_empty()
    {
        return;
    }
    let Ok(url) = RouteUrl::parse(&info.ip) else {
        return;
    };
    let configured = cluster.options().routes.iter().any(|route| {
        RouteUrl::parse(route).is_ok_and(|r| r.host == url.host && r.port == url.port)
    });
    if configured || !cluster.start_dialling(&info.server_id) {
        return;
    }
    tracing::debug!("Connecting to implicit route {:?}", info.ip);
    super::solicit::dial_gossiped(broker, info.ip, info.auth_required, info.server_id);
}
