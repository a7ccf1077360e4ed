//! Leaf nodes (`leafnode.md`): links between servers that carry one
//! account's interest and messages, accepted on the leafnode port or
//! solicited to a remote's URLs.
//!
//! A link is a [`Link`] (its outbound buffer and writer, as a client's),
//! a [`Subscriber`] of leaf kind that holds the subscriptions its peer
//! announced with `LS+` (so the account's router delivers to it, as
//! `LMSG`s naming the queue groups it must serve), a [`ClientState`] that
//! takes the peer's `LMSG`s the path a client's publish takes (no echo,
//! named queue groups only), and a [`LeafInterest`] that tells the peer
//! the account's interest as it changes, in the same ordered stream as the
//! messages.

mod accept;
mod dial;
mod handshake;
mod interest;
pub(crate) mod keepalive;
mod remote;
mod run;
pub(crate) mod source;
pub(crate) mod steady;
mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use starling_proto::ParserLimits;
use starling_proto::leaf::{LeafOp, LeafParser};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub(crate) use accept::{accept, accept_websocket};
pub(crate) use dial::{Dialer, dialers};
pub(crate) use remote::start_remotes;
use run::run_link;

use starling_auth::{PermissionEntry, Permissions, SubjectPermission};

use crate::broker::Broker;
use crate::client::{Framing, write_loop};
use crate::link::{CloseReason, Link, Queued};
use source::Source;

/// The first PING on a link comes this soon (nats-server's).
pub(crate) const FIRST_PING: Duration = Duration::from_secs(1);
/// The system account's requests every other account imports.
const SYSTEM_IMPORTS: [&str; 3] = [
    "$SYS.REQ.ACCOUNT.PING.CONNZ",
    "$SYS.REQ.ACCOUNT.PING.STATZ",
    "$SYS.REQ.SERVER.PING.CONNZ",
];
/// The auth timeout of an accepted leaf unless `authorization.timeout`.
const AUTH_TIMEOUT: Duration = Duration::from_secs(2);

/// How a link ended, for the soliciting side's next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Try again after `reconnect`.
    Normally,
    /// A loop or a refused link: nats-server waits 30 s.
    WaitLonger,
}

/// A link's socket being read: the bytes, the parser, the link (a
/// route's too, with the route dialect).
pub(crate) struct Conn<S> {
    pub(crate) source: S,
    pub(crate) buf: BytesMut,
    pub(crate) parser: LeafParser,
    pub(crate) link: Arc<Link>,
    pub(crate) peer: SocketAddr,
}

impl<S: Source> Conn<S> {
    pub(crate) fn new(broker: &Broker, source: S, link: Arc<Link>, peer: SocketAddr) -> Self {
        let limits = ParserLimits {
            max_control_line: broker.live.max_control_line().max(4096),
            max_payload: broker.live.max_payload(),
        };
        Self {
            source,
            buf: BytesMut::with_capacity(4096),
            parser: LeafParser::new(limits),
            link,
            peer,
        }
    }

    /// A route's: nats-server sets no payload or control-line limit on
    /// routes (the publisher's server enforced its own); here a message
    /// is bounded by what a connection may have pending (`max_pending`).
    pub(crate) fn for_route(broker: &Broker, source: S, link: Arc<Link>, peer: SocketAddr) -> Self {
        let options = &broker.options;
        Self {
            source,
            buf: BytesMut::with_capacity(4096),
            parser: LeafParser::for_route(ParserLimits {
                max_control_line: broker.live.max_control_line().max(64 * 1024),
                max_payload: options.max_pending.max(broker.live.max_payload()),
            }),
            link,
            peer,
        }
    }

    /// Queues `bytes` for the peer.
    pub(crate) fn send(&self, bytes: &[u8]) {
        if self.link.queue(|out| out.put_slice(bytes)) == Queued::WakeWriter {
            self.link.writer_wake.notify_one();
        }
    }

    pub(crate) fn send_err(&self, text: &str) {
        tracing::debug!(cid = self.link.cid, "Leafnode sending -ERR '{text}'");
        self.send(format!("-ERR '{text}'\r\n").as_bytes());
    }

    /// A protocol error: nats-server's `-ERR` where it sends one (a broken
    /// operation name or payload: `Unknown Protocol Operation`), then the
    /// link closes; bad arguments close it without a word, as there.
    pub(crate) fn parse_error(&self, error: &starling_proto::ProtoError) {
        tracing::debug!(cid = self.link.cid, "Leafnode parser error: {error}");
        if let Some(reply) = error.reply() {
            let mut line = Vec::new();
            reply.encode(&mut line);
            self.send(&line);
        }
        self.link.close(CloseReason::ParseError);
    }

    /// The next operation, read until `deadline`; `None` when the peer
    /// closed, broke the protocol (the link is then closing) or the
    /// deadline passed (the caller closes).
    pub(crate) async fn next_op(&mut self, deadline: Instant) -> Option<LeafOp> {
        loop {
            match self.parser.decode(&mut self.buf) {
                Ok(Some(op)) => return Some(op),
                Ok(None) => {}
                Err(error) => {
                    self.parse_error(&error);
                    return None;
                }
            }
            let read = tokio::time::timeout_at(deadline, self.source.fill(&mut self.buf));
            match read.await {
                Ok(Ok(0)) => {
                    self.link.close(CloseReason::ClientClosed);
                    return None;
                }
                Ok(Err(_)) => {
                    self.link.close(CloseReason::ReadError);
                    return None;
                }
                Ok(Ok(_)) => {}
                Err(_) => return None,
            }
        }
    }
}

/// The cluster's leafnode URLs changed: a fresh INFO (with the new
/// `leafnode_urls`) to every leaf accepted here, as nats-server's
/// `sendAsyncLeafNodeInfo`.
pub(crate) fn push_info(broker: &Broker) {
    let Some((host, port)) = broker.leaf_listen.get() else {
        return;
    };
    let tls_verify = broker
        .options
        .leaf
        .as_ref()
        .and_then(|l| l.tls.as_ref())
        .map(|t| t.verify);
    for leaf in broker.accepted_leafs() {
        let link = &leaf.link;
        let info = handshake::info(broker, (host, *port), link.cid, None, None, tls_verify);
        if link.queue(|out| out.put_slice(&info)) == Queued::WakeWriter {
            link.writer_wake.notify_one();
        }
    }
}

/// The listener's address as the leaf INFO names it.
pub(crate) fn advertised(broker: &Broker, bound: SocketAddr) -> (String, u16) {
    let leaf = broker.options.leaf.as_ref();
    if let Some((host, port)) = leaf
        .and_then(|l| l.advertise.as_deref())
        .and_then(|a| a.rsplit_once(':'))
        .and_then(|(h, p)| Some((h.to_owned(), p.parse().ok()?)))
    {
        return (host, port);
    }
    let ip = bound.ip();
    let host = if ip.is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        ip.to_string()
    };
    (host, bound.port())
}

/// Starts the link's writer task.
pub(crate) fn spawn_writer<W>(
    broker: &Arc<Broker>,
    link: &Arc<Link>,
    writer: W,
    framing: Framing,
) -> JoinHandle<()>
where
    W: tokio::io::AsyncWrite + Send + 'static,
{
    tokio::spawn(write_loop(
        Arc::clone(broker),
        Arc::clone(link),
        writer,
        framing,
    ))
}

/// A remote's `deny_imports` and `deny_exports`, as permissions: imports
/// as a publish deny (what the hub may not send here), exports as a
/// subscribe deny (what the hub may not get from here).
#[derive(Debug, Clone, Default)]
pub(crate) struct Denies {
    pub(crate) imports: Option<Arc<Permissions>>,
    pub(crate) exports: Option<Arc<Permissions>>,
}

impl Denies {
    pub(crate) fn of(imports: &[String], exports: &[String]) -> Self {
        let rule = |subjects: &[String]| {
            (!subjects.is_empty()).then(|| SubjectPermission {
                allow: None,
                deny: subjects
                    .iter()
                    .map(|s| PermissionEntry {
                        subject: s.clone(),
                        queue: None,
                    })
                    .collect(),
            })
        };
        Self {
            imports: rule(imports).map(|publish| {
                Arc::new(Permissions {
                    publish: Some(publish),
                    ..Permissions::default()
                })
            }),
            exports: rule(exports).map(|subscribe| {
                Arc::new(Permissions {
                    subscribe: Some(subscribe),
                    ..Permissions::default()
                })
            }),
        }
    }

    /// May the hub send a message on `subject` here?
    pub(crate) fn imports(&self, subject: &[u8]) -> bool {
        self.imports.as_ref().is_none_or(|p| p.can_publish(subject))
    }

    /// May the hub's interest in `filter` be served from here?
    pub(crate) fn exports(&self, filter: &[u8]) -> bool {
        self.exports
            .as_ref()
            .is_none_or(|p| p.can_subscribe(filter, None))
    }
}

/// Waits for the writer to flush what the close allows.
async fn finish(link: &Link, writer: JoinHandle<()>) {
    link.close(CloseReason::ClientClosed);
    let _ = writer.await;
}
