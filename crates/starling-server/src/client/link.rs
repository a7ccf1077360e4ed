//! What other tasks may touch of a connection: its outbound buffer, its
//! subscriptions and its close state.
//!
//! A publisher encodes straight into each subscriber's [`ClientLink`]
//! outbound buffer under a short mutex (never held across an `.await`), and
//! wakes that subscriber's writer once per batch, not once per message. A
//! buffer that would pass `max_pending` cuts its own client off; the
//! publisher never waits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use bytes::{Bytes, BytesMut};
use std::time::Instant;

use starling_auth::{Permissions, ResponsePermission};
use starling_router::Router;
use starling_ws::{CloseCode, FrameError};
use tokio::sync::Notify;

/// Why a connection ended; the texts are nats-server's close reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    ClientClosed,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    WriteError,
    ReadError,
    ParseError,
    StaleConnection,
    ProtocolViolation,
    BadClientProtocolVersion,
    MaxConnectionsExceeded,
    MaxPayloadExceeded,
    MaxControlLineExceeded,
    AuthenticationViolation,
    NoRespondersRequiresHeaders,
    ServerShutdown,
    /// The client sent a websocket close frame (echoed back).
    WebsocketClose(Option<CloseCode>),
    /// A malformed websocket frame.
    WebsocketFrame(FrameError),
    /// A websocket frame left half-sent for longer than write_deadline.
    WebsocketStalled,
    /// No CONNECT within the authorization timeout.
    AuthenticationTimeout,
    /// The user's JWT expired while connected.
    AuthenticationExpired,
}

impl CloseReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ClientClosed => "Client Closed",
            Self::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            Self::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            Self::WriteError => "Write Error",
            Self::ReadError => "Read Error",
            Self::ParseError => "Parse Error",
            Self::StaleConnection => "Stale Connection",
            Self::ProtocolViolation => "Protocol Violation",
            Self::BadClientProtocolVersion => "Bad Client Protocol Version",
            Self::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            Self::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            Self::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            Self::AuthenticationViolation => "Authentication Failure",
            Self::NoRespondersRequiresHeaders => "No Responders Requires Headers",
            Self::ServerShutdown => "Server Shutdown",
            Self::WebsocketClose(_) => "Client Closed",
            Self::WebsocketFrame(FrameError::MessageTooBig) => "Maximum Message Payload Exceeded",
            Self::WebsocketFrame(_) => "Protocol Violation",
            Self::WebsocketStalled => "Stale Connection",
            Self::AuthenticationTimeout => "Authentication Timeout",
            Self::AuthenticationExpired => "Authentication Expired",
        }
    }

    /// The close frame a websocket client gets for this reason (nats-server's
    /// codes; none where the socket is already unusable).
    pub(crate) fn websocket_close(self) -> Option<(CloseCode, &'static str)> {
        let code = match self {
            Self::WebsocketClose(code) => return Some((code.unwrap_or(CloseCode::Normal), "")),
            Self::WebsocketFrame(error) => error.close_code(),
            Self::ClientClosed => CloseCode::Normal,
            Self::ServerShutdown => CloseCode::GoingAway,
            Self::ParseError | Self::ProtocolViolation | Self::BadClientProtocolVersion => {
                CloseCode::ProtocolError
            }
            Self::MaxPayloadExceeded => CloseCode::MessageTooBig,
            Self::AuthenticationViolation
            | Self::MaxConnectionsExceeded
            | Self::MaxControlLineExceeded
            | Self::StaleConnection
            | Self::WebsocketStalled
            | Self::AuthenticationTimeout
            | Self::AuthenticationExpired => CloseCode::PolicyViolation,
            Self::NoRespondersRequiresHeaders => CloseCode::InternalError,
            Self::SlowConsumerPendingBytes
            | Self::SlowConsumerWriteDeadline
            | Self::ReadError
            | Self::WriteError => {
                return None;
            }
        };
        Some((code, self.as_str()))
    }

    /// Whether what is already queued should still be written before closing
    /// (an `-ERR` explaining the close, or messages before a shutdown).
    fn flushes(self) -> bool {
        !matches!(
            self,
            Self::SlowConsumerPendingBytes
                | Self::SlowConsumerWriteDeadline
                | Self::WriteError
                | Self::ReadError
                | Self::ClientClosed
        )
    }
}

/// The outcome of queueing bytes for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queued {
    /// Queued; the caller must wake the writer at the end of its batch.
    WakeWriter,
    /// Queued; a wake is already on its way.
    Ok,
    /// Refused: the client is closing, or was just cut off as a slow consumer.
    Refused,
}

#[derive(Debug, Default)]
struct Outbound {
    buf: BytesMut,
    /// Bytes taken by the writer and not yet written.
    in_flight: usize,
    /// A wake has been promised (by a publisher's batch) or sent.
    wake_pending: bool,
    closing: Option<CloseReason>,
}

/// A connection as other tasks see it.
#[derive(Debug)]
pub(crate) struct ClientLink {
    pub(crate) cid: u64,
    max_pending: usize,
    outbound: Mutex<Outbound>,
    /// Wakes the writer: data queued, close requested, or ping timer reset.
    pub(crate) writer_wake: Notify,
    /// Wakes the reader when the connection must stop.
    pub(crate) reader_stop: Notify,
    /// Interrupts a write in progress when the backlog is discarded.
    pub(crate) writer_abort: Notify,
    closed: AtomicBool,
    /// Set at CONNECT: the client takes `HMSG`.
    pub(crate) headers: AtomicBool,
    /// Unanswered server PINGs.
    pub(crate) pings_out: AtomicU32,
    /// Milliseconds (server clock) of the last inbound message, subscription
    /// change or client PING; the ping timer skips active clients.
    pub(crate) last_activity: AtomicU64,
    /// Set by the reader at CONNECT so the writer restarts its ping timer.
    pub(crate) ping_timer_reset: AtomicBool,
    /// Set once a PONG has answered one of our PINGs.
    pub(crate) rtt_measured: AtomicBool,
    subs: Mutex<HashMap<Bytes, Arc<Subscription>>>,
    /// Websocket control frames (pongs) to write ahead of the data.
    control: Mutex<BytesMut>,
    /// Set at authentication when the client's subscribe permissions deny
    /// subjects: its wildcard subscriptions must not receive those.
    delivery_denies: OnceLock<Arc<Permissions>>,
    /// With `allow_responses`: the reply subjects of messages it received,
    /// which it may then publish to (nats-server's `replies`).
    responses: OnceLock<ResponseTracker>,
}

/// Reply subjects a client may answer, with `allow_responses`' limits.
#[derive(Debug)]
pub(crate) struct ResponseTracker {
    permission: ResponsePermission,
    replies: Mutex<HashMap<Vec<u8>, (u32, Instant)>>,
}

/// Tracked replies past which expired and used ones are pruned.
const REPLY_PRUNE_AT: usize = 4096;

/// The subscriptions of one account.
pub(crate) type AccountRouter = Arc<Router<SubHandle>>;

/// One subscription, shared between its connection and the router.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub(crate) client: Arc<ClientLink>,
    /// The router (account) it is in.
    pub(crate) router: AccountRouter,
    pub(crate) subject: Bytes,
    pub(crate) queue: Option<Bytes>,
    pub(crate) sid: Bytes,
    /// Auto-unsubscribe after this many messages; 0 means never.
    pub(crate) max: AtomicU64,
    pub(crate) delivered: AtomicU64,
}

/// The router's handle: a subscription compared by identity.
#[derive(Debug, Clone)]
pub(crate) struct SubHandle(pub(crate) Arc<Subscription>);

impl PartialEq for SubHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl ClientLink {
    pub(crate) fn new(cid: u64, max_pending: usize) -> Self {
        Self {
            cid,
            max_pending,
            outbound: Mutex::new(Outbound::default()),
            writer_wake: Notify::new(),
            reader_stop: Notify::new(),
            writer_abort: Notify::new(),
            closed: AtomicBool::new(false),
            headers: AtomicBool::new(false),
            pings_out: AtomicU32::new(0),
            last_activity: AtomicU64::new(0),
            ping_timer_reset: AtomicBool::new(false),
            rtt_measured: AtomicBool::new(false),
            subs: Mutex::new(HashMap::new()),
            control: Mutex::new(BytesMut::new()),
            delivery_denies: OnceLock::new(),
            responses: OnceLock::new(),
        }
    }

    /// Starts tracking replies for `allow_responses`.
    pub(crate) fn track_responses(&self, permission: ResponsePermission) {
        let _ = self.responses.set(ResponseTracker {
            permission,
            replies: Mutex::new(HashMap::new()),
        });
    }

    /// At delivery: remembers a reply subject this client may answer.
    pub(crate) fn note_reply(&self, reply: &[u8]) {
        let Some(tracker) = self.responses.get() else {
            return;
        };
        let mut replies = tracker
            .replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        replies.insert(reply.to_vec(), (0, Instant::now()));
        if replies.len() > REPLY_PRUNE_AT {
            let ResponsePermission { max_msgs, expires } = tracker.permission;
            replies.retain(|_, (used, at)| *used < max_msgs && at.elapsed() <= expires);
        }
    }

    /// At publish: may this client answer `subject` (and count it)?
    pub(crate) fn may_respond(&self, subject: &[u8]) -> bool {
        let Some(tracker) = self.responses.get() else {
            return false;
        };
        let mut replies = tracker
            .replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some((used, at)) = replies.get_mut(subject) else {
            return false;
        };
        *used += 1;
        let ResponsePermission { max_msgs, expires } = tracker.permission;
        if *used > max_msgs || at.elapsed() > expires {
            replies.remove(subject);
            return false;
        }
        true
    }

    /// Records permissions whose subscribe denies apply at delivery.
    pub(crate) fn set_delivery_denies(&self, permissions: &Arc<Permissions>) {
        if permissions.has_subscribe_denies() {
            let _ = self.delivery_denies.set(Arc::clone(permissions));
        }
    }

    /// True when a message on `subject` must not reach `sub` (a wildcard
    /// subscription covering a denied subject).
    pub(crate) fn delivery_denied(&self, sub: &Subscription, subject: &[u8]) -> bool {
        self.delivery_denies
            .get()
            .is_some_and(|p| p.denies_delivery(&sub.subject, subject))
    }

    /// Queues a websocket control frame and wakes the writer.
    pub(crate) fn queue_control(&self, encode: impl FnOnce(&mut BytesMut)) {
        encode(&mut self.control.lock().unwrap_or_else(PoisonError::into_inner));
        self.writer_wake.notify_one();
    }

    /// For the writer: the control frames queued so far.
    pub(crate) fn take_control(&self, into: &mut BytesMut) {
        let mut control = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        into.extend_from_slice(&control);
        control.clear();
    }

    /// Appends what `encode` writes to the outbound buffer, unless that
    /// would pass `max_pending`, in which case the client is cut off as a
    /// slow consumer and nothing is queued.
    pub(crate) fn queue(&self, encode: impl FnOnce(&mut BytesMut)) -> Queued {
        let mut out = self.lock_outbound();
        if out.closing.is_some() {
            return Queued::Refused;
        }
        let before = out.buf.len();
        encode(&mut out.buf);
        if out.buf.len() + out.in_flight > self.max_pending {
            out.buf.truncate(before);
            drop(out);
            tracing::info!(
                cid = self.cid,
                "Slow Consumer Detected: MaxPending of {} Exceeded",
                self.max_pending
            );
            self.close(CloseReason::SlowConsumerPendingBytes);
            return Queued::Refused;
        }
        if out.wake_pending {
            Queued::Ok
        } else {
            out.wake_pending = true;
            Queued::WakeWriter
        }
    }

    /// Starts closing the connection (the first reason wins). Reasons that
    /// explain themselves keep what is queued so it is written first.
    pub(crate) fn close(&self, reason: CloseReason) {
        {
            let mut out = self.lock_outbound();
            if out.closing.is_some() {
                return;
            }
            out.closing = Some(reason);
            if !reason.flushes() {
                out.buf.clear();
            }
        }
        self.closed.store(true, Ordering::Release);
        if !reason.flushes() {
            self.writer_abort.notify_one();
        }
        self.writer_wake.notify_one();
        self.reader_stop.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.lock_outbound().closing
    }

    /// For the writer: swaps the queued bytes into `spare` (which must be
    /// empty) and returns the close reason, if closing.
    pub(crate) fn take_outbound(&self, spare: &mut BytesMut) -> Option<CloseReason> {
        let mut out = self.lock_outbound();
        std::mem::swap(&mut out.buf, spare);
        out.in_flight = spare.len();
        out.wake_pending = false;
        out.closing
    }

    /// For the writer: the bytes taken last have been written.
    pub(crate) fn written(&self) {
        self.lock_outbound().in_flight = 0;
    }

    pub(crate) fn subscription(&self, sid: &[u8]) -> Option<Arc<Subscription>> {
        self.lock_subs().get(sid).cloned()
    }

    pub(crate) fn subscription_count(&self) -> usize {
        self.lock_subs().len()
    }

    /// Registers `sub` under its sid unless the sid is taken (nats-server
    /// keeps the first). Returns whether it was added.
    pub(crate) fn add_subscription(&self, sub: &Arc<Subscription>) -> bool {
        let mut subs = self.lock_subs();
        if subs.contains_key(&sub.sid) {
            return false;
        }
        subs.insert(sub.sid.clone(), Arc::clone(sub));
        true
    }

    /// Forgets `sub` if it is still the one registered under its sid.
    pub(crate) fn forget_subscription(&self, sub: &Arc<Subscription>) {
        let mut subs = self.lock_subs();
        if subs.get(&sub.sid).is_some_and(|s| Arc::ptr_eq(s, sub)) {
            subs.remove(&sub.sid);
        }
    }

    /// Takes every subscription (at close), breaking the link ↔ subscription cycle.
    pub(crate) fn take_subscriptions(&self) -> Vec<Arc<Subscription>> {
        self.lock_subs().drain().map(|(_, s)| s).collect()
    }

    /// The first of this client's subscriptions whose filter matches `subject`.
    pub(crate) fn subscription_matching(&self, subject: &[u8]) -> Option<Arc<Subscription>> {
        self.lock_subs()
            .values()
            .find(|s| starling_subject::matches(&s.subject, subject))
            .cloned()
    }

    // A panic while holding either lock leaves plain data (bytes, a map)
    // that is still consistent enough to close the connection, so poisoning
    // is ignored rather than spreading the panic to publishers.
    fn lock_outbound(&self) -> MutexGuard<'_, Outbound> {
        self.outbound.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_subs(&self) -> MutexGuard<'_, HashMap<Bytes, Arc<Subscription>>> {
        self.subs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_consumer_is_cut_off_at_max_pending() {
        let link = ClientLink::new(1, 10);
        assert_eq!(
            link.queue(|b| b.extend_from_slice(b"12345")),
            Queued::WakeWriter
        );
        assert_eq!(link.queue(|b| b.extend_from_slice(b"12345")), Queued::Ok);
        assert_eq!(link.queue(|b| b.extend_from_slice(b"x")), Queued::Refused);
        assert_eq!(
            link.close_reason(),
            Some(CloseReason::SlowConsumerPendingBytes)
        );
        let mut spare = BytesMut::new();
        link.take_outbound(&mut spare);
        assert!(spare.is_empty(), "a slow consumer's backlog is discarded");
    }

    #[test]
    fn in_flight_bytes_count_against_max_pending() {
        let link = ClientLink::new(1, 10);
        link.queue(|b| b.extend_from_slice(b"12345678"));
        let mut spare = BytesMut::new();
        link.take_outbound(&mut spare);
        assert_eq!(link.queue(|b| b.extend_from_slice(b"123")), Queued::Refused);
    }

    #[test]
    fn error_closes_keep_the_queue() {
        let link = ClientLink::new(1, 100);
        link.queue(|b| b.extend_from_slice(b"-ERR 'x'\r\n"));
        link.close(CloseReason::ParseError);
        link.close(CloseReason::ReadError);
        let mut spare = BytesMut::new();
        assert_eq!(
            link.take_outbound(&mut spare),
            Some(CloseReason::ParseError)
        );
        assert_eq!(&spare[..], b"-ERR 'x'\r\n");
    }
}
