//! An established leaf link's life: admitted by its account's `limits`,
//! registered, told the account's interest (its loop-detection subject,
//! the system services it imports, its mappings' sources), then read until
//! it closes.

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use tokio::task::JoinHandle;

use super::interest::LeafInterest;
use super::source::Source;
use super::{Conn, Denies, Ended, SYSTEM_IMPORTS, steady};
use crate::account::{Account, InterestWatcher, OriginKind, Subscriber};
use crate::broker::{Broker, LeafPeer};
use crate::client::{ClientState, Time};
use crate::link::{CloseReason, Queued};

/// Runs an established link until it closes: registers it, sends the
/// account's interest (and its loop-detection subject), then reads.
pub(super) async fn run_link<S: Source>(
    broker: &Arc<Broker>,
    conn: Conn<S>,
    writer: JoinHandle<()>,
    account: Arc<Account>,
    kind: OriginKind,
    headers: bool,
    (peer, denies, cluster): (Option<LeafPeer>, Denies, &str),
) -> Ended {
    let link = Arc::clone(&conn.link);
    // The account's `limits` count leaf links on both sides.
    if !account.admit(true) {
        tracing::error!(
            cid = link.cid,
            "Leafnode connection to account {} refused: maximum account active connections exceeded",
            account.name
        );
        conn.send(b"-ERR 'maximum account active connections exceeded'\r\n");
        link.close(CloseReason::MaxAccountConnectionsExceeded);
        let _ = writer.await;
        return Ended::Normally;
    }
    let ended = run_admitted(
        broker,
        conn,
        writer,
        &account,
        kind,
        headers,
        (peer, denies, cluster),
    )
    .await;
    account.release(true);
    ended
}

/// [`run_link`] once the account took the link.
async fn run_admitted<S: Source>(
    broker: &Arc<Broker>,
    mut conn: Conn<S>,
    writer: JoinHandle<()>,
    account: &Arc<Account>,
    kind: OriginKind,
    headers: bool,
    (peer, denies, cluster): (Option<LeafPeer>, Denies, &str),
) -> Ended {
    let account = Arc::clone(account);
    let link = Arc::clone(&conn.link);
    let me = Arc::new(Subscriber::of_kind(Arc::clone(&link), kind));
    me.set_leaf_cluster(cluster);
    if let Some(exports) = &denies.exports {
        // What this side will not send: wildcard interest of the hub gets
        // no message on those subjects.
        me.set_delivery_denies(Some(exports));
    }
    {
        let mut meta = link.meta();
        meta.transport = "leafnode";
        meta.ip = conn.peer.ip().to_string();
        meta.port = conn.peer.port();
        meta.start_unix_nanos = crate::broker::stats::unix_nanos_now();
        meta.account = Some(account.name.clone());
    }
    for old in broker.register_leaf(&me, peer) {
        tracing::info!(cid = old.link.cid, "Replacing connection from same server");
        if old
            .link
            .queue(|out| out.put_slice(b"-ERR 'Duplicate Remote LeafNode Connection'\r\n"))
            == Queued::WakeWriter
        {
            old.link.writer_wake.notify_one();
        }
        old.link.close(CloseReason::DuplicateRemoteLeafnode);
    }
    let watcher: Arc<dyn InterestWatcher> = Arc::new(LeafInterest::new(
        Arc::clone(&link),
        kind == OriginKind::LeafSpoke,
        denies.imports.clone(),
        me.leaf_cluster().cloned(),
    ));
    account.watch_interest(Arc::clone(&watcher));
    let mut line = BytesMut::new();
    starling_proto::leaf::encode_sub(&mut line, &account.loop_subject, None);
    // The system account's services the account imports are interest too
    // (nats-server sends these three on every link).
    if broker.system_imports(&account).is_some() {
        for subject in SYSTEM_IMPORTS {
            starling_proto::leaf::encode_sub(&mut line, subject.as_bytes(), None);
        }
    }
    // So are the sources of the account's mappings: what the peer
    // publishes there is mapped here (nats-server's rule, the spoke side
    // within what it may import).
    for mapping in account.settings.mappings().iter() {
        let source = mapping.source();
        let allowed = kind != OriginKind::LeafSpoke
            || denies
                .imports
                .as_ref()
                .is_none_or(|d| d.can_publish(source));
        if allowed {
            starling_proto::leaf::encode_sub(&mut line, source, None);
        }
    }
    conn.send(&line);
    let mut state = Box::new(ClientState::for_link(
        Arc::clone(broker),
        Arc::clone(&me),
        Arc::clone(&account),
        headers,
        Time::now(),
    ));
    let ended = steady::run(broker, &mut conn, (&me, &denies), &account, &mut state).await;
    account.unwatch_interest(&watcher);
    me.remove_all();
    broker.deregister_leaf(&me);
    link.close(CloseReason::ClientClosed);
    let _ = writer.await;
    let reason = link.close_reason().map_or("Unknown", CloseReason::as_str);
    tracing::info!(
        cid = link.cid,
        "{} - lid:{} - Leafnode connection closed: {reason}",
        conn.peer,
        link.cid
    );
    ended
}
