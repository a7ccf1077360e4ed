//! An established leaf link's reading side: the peer's `LS+`/`LS-` become
//! (or stop being) subscriptions of the link in its account, its
//! `LMSG`/`HMSG` are delivered as a client's publish is, PINGs are
//! answered and sent, and an `LS+` of this server's own loop-detection
//! subject closes the link as a loop.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use starling_proto::encode;
use starling_proto::leaf::{LeafOp, LeafSub};

use super::keepalive::{Pings, Waited};
use super::source::Source;
use super::{Conn, Ended};
use crate::account::{Account, Subscriber, Subscription};
use crate::broker::Broker;
use crate::client::{ClientState, Time, wait_for_room};
use crate::link::CloseReason;

/// Reads the peer's interest and messages until the link closes.
pub(super) async fn run<S: Source>(
    broker: &Broker,
    conn: &mut Conn<S>,
    (me, denies): (&Arc<Subscriber>, &super::Denies),
    account: &Arc<Account>,
    state: &mut ClientState,
) -> Ended {
    let link = Arc::clone(&conn.link);
    let stop = link.reader_stop.notified();
    tokio::pin!(stop);
    let mut pings = Pings::new();
    let mut ended = Ended::Normally;
    // Operations that came with CONNECT (pipelined) are handled first.
    let mut buffered = !conn.buf.is_empty();
    loop {
        if link.is_closed() {
            return ended;
        }
        if !std::mem::take(&mut buffered) {
            match conn.wait(stop.as_mut(), &mut pings, &broker.live).await {
                Waited::Read => {}
                Waited::Pinged => continue,
                Waited::Ended => return ended,
            }
        }
        let now = Time::now();
        loop {
            let op = match conn.parser.decode(&mut conn.buf) {
                Ok(Some(op)) => op,
                Ok(None) => break,
                Err(error) => {
                    conn.parse_error(&error);
                    return ended;
                }
            };
            match op {
                LeafOp::Sub(sub) => {
                    if sub.subject == account.loop_subject {
                        let text = format!(
                            "Loop detected for leafnode account={:?}. Delaying attempt to reconnect for 30s",
                            account.name
                        );
                        tracing::warn!(cid = link.cid, "{text}");
                        conn.send_err(&text);
                        link.close(CloseReason::ProtocolViolation);
                        return Ended::WaitLonger;
                    }
                    // Interest in what this side does not export is ignored.
                    if denies.exports(&sub.subject) {
                        subscribe(me, account, sub);
                    }
                }
                LeafOp::Unsub(unsub) => {
                    if let Some(sub) = me.subscription(&key(&unsub.subject, unsub.queue.as_ref())) {
                        sub.remove();
                    }
                }
                LeafOp::Msg(message) if denies.imports(message.subject()) => {
                    state.handle_leaf_message(&message, now);
                }
                LeafOp::Msg(_) => {}
                LeafOp::Ping => conn.send(encode::PONG),
                LeafOp::Pong => {
                    if let Some(rtt) = pings.pong(now.instant) {
                        link.meta().rtt = Some(rtt);
                    }
                }
                LeafOp::Err(text) => {
                    let text = String::from_utf8_lossy(&text);
                    tracing::warn!(cid = link.cid, "Leafnode Error {text}");
                    if text.contains("Loop detected") || text.contains("same cluster name") {
                        ended = Ended::WaitLonger;
                    }
                }
                _ => {}
            }
            if link.is_closed() {
                return ended;
            }
        }
        state.end_batch();
        let backlog = state.take_backlog();
        if !backlog.is_empty() {
            wait_for_room(&backlog, broker.options.stall_timeout).await;
        }
    }
}

/// The key of a peer's subscription: its subject, and queue group.
pub(crate) fn key(subject: &Bytes, queue: Option<&Bytes>) -> Bytes {
    match queue {
        None => subject.clone(),
        Some(queue) => {
            let mut key = BytesMut::with_capacity(subject.len() + queue.len() + 1);
            key.put_slice(subject);
            key.put_u8(b' ');
            key.put_slice(queue);
            key.freeze()
        }
    }
}

/// The peer's `LS+` (`RS+`): a subscription of the link in the account (a
/// repeated one updates a queue group's weight: its share of the group).
/// Its leaf cluster: what a route's `LS+` names, else a leaf link's peer's.
pub(crate) fn subscribe(me: &Arc<Subscriber>, account: &Arc<Account>, sub: LeafSub) {
    let LeafSub {
        origin,
        subject,
        queue,
        weight,
        ..
    } = sub;
    let origin_cluster = match origin {
        Some(origin) => Some(Bytes::copy_from_slice(&origin)),
        None => me.leaf_cluster().cloned(),
    };
    let sid = key(&subject, queue.as_ref());
    if let Some(existing) = me.subscription(&sid) {
        existing
            .weight
            .store(weight, std::sync::atomic::Ordering::Relaxed);
        return;
    }
    // Copied out of the read buffer, which a live subscription must not keep.
    let subscription = Arc::new(Subscription {
        subscriber: Arc::clone(me),
        account: Arc::clone(account),
        subject: Bytes::copy_from_slice(&subject),
        queue: queue.map(|q| Bytes::copy_from_slice(&q)),
        sid: Bytes::copy_from_slice(&sid),
        max: 0.into(),
        delivered: 0.into(),
        weight: weight.into(),
        origin_cluster,
    });
    if me.add_subscription(&subscription) && account.subscribe(&subscription).is_err() {
        me.forget_subscription(&subscription);
        tracing::debug!(
            cid = me.link.cid,
            "Leafnode LS+ with an invalid subject ignored"
        );
    }
}
