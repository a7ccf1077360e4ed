//! One client connection's protocol logic as a deterministic state machine,
//! in quinn-proto's shape: operations and time go in
//! ([`ClientState::handle`], [`ClientState::handle_timeout`]), and what
//! comes out is bytes queued on links (its own replies, and deliveries to
//! subscribers), the writers to wake ([`ClientState::end_batch`]), a close
//! reason, and when it next needs the time ([`ClientState::poll_timeout`]:
//! the next ping, the authentication deadline, the credentials' expiry).
//! It reads no clock and touches no socket; the tokio driver moves bytes
//! and timers.
//!
//! The operations live in their own files: [`connect`](super::connect),
//! [`publish`](super::publish), [`subscribe`](super::subscribe).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use starling_auth::{ConnectionKind, Permissions};
use starling_proto::{ClientOp, Connect, ErrReply, ParserLimits, ProtoError, ServerInfo, encode};
use starling_router::Matches;

use super::connect::{AuthJob, ConnectFlags};
pub(crate) use super::time::Time;
use crate::account::links::AccountLinks;
use crate::account::{Account, SubHandle, Subscriber};
use crate::broker::Broker;
use crate::identity::FastRng;
use crate::link::{CloseReason, Link, Queued};

/// The first ping after CONNECT comes after at most this (nats-server's).
const FIRST_PING_MAX: Duration = Duration::from_secs(2);

/// The ping timer (nats-server's `processPingTimer`).
#[derive(Debug)]
struct Pinger {
    next: Instant,
    /// Unanswered server PINGs.
    out: u32,
    /// A PONG has answered one of our PINGs.
    rtt_measured: bool,
    /// The last inbound message, subscription change or client PING; the
    /// timer skips active clients.
    last_activity: Instant,
    /// When the PING awaiting its PONG went out (its round trip is the
    /// connection's `rtt`).
    sent_at: Option<Instant>,
}

/// One client connection's state.
pub(crate) struct ClientState {
    pub(super) broker: Arc<Broker>,
    /// The connection as publishers see it.
    pub(super) me: Arc<Subscriber>,
    pub(super) flags: ConnectFlags,
    pub(super) rng: FastRng,
    /// Its measured requests still out (see `latency.rs`).
    pub(super) measured: Vec<super::latency::Measured>,
    /// Writers to wake at the end of this batch.
    wakes: Vec<Arc<Link>>,
    /// Receivers this batch left backlogged: the driver waits for room in
    /// them before reading more from this client.
    backlog: Vec<Arc<Link>>,
    /// The time of the operation being handled.
    pub(super) now: Time,
    /// The last subject published and its matches, valid while the
    /// account's generation is unchanged: a publisher repeating a subject
    /// skips even the router's read lock.
    pub(super) last_lookup: LastLookup,
    /// How the client connected (what authentication sees).
    pub(super) kind: ConnectionKind,
    /// Cookies of the websocket upgrade, for cookie credentials.
    pub(super) cookies: Vec<(String, String)>,
    /// The client's CONNECT, for the checks a configuration reload runs.
    pub(super) credentials: Option<Box<Connect>>,
    /// What the client's TLS certificate names (`verify_and_map`).
    pub(crate) certificate: Option<Arc<starling_auth::CertNames>>,
    /// The nonce sent in INFO, for nkey signatures.
    pub(super) nonce: String,
    /// Until authenticated (when authentication is required): the deadline.
    pub(super) auth_deadline: Option<Instant>,
    /// The authenticated user's permissions; `None`: everything.
    pub(super) permissions: Option<Arc<Permissions>>,
    /// Publish decisions already made, by subject (bounded).
    pub(super) publish_allowed: HashMap<Vec<u8>, bool>,
    /// The account: publishes and subscriptions stay inside it.
    pub(super) account: Arc<Account>,
    /// The account's exports and imports, if it has any.
    pub(super) links: Option<Arc<AccountLinks>>,
    /// When the user's JWT expires: the connection is closed then.
    pub(super) expires_at: Option<Instant>,
    /// The user's own payload limit (JWT `payload`), below the server's.
    pub(super) user_max_payload: Option<usize>,
    /// The user's own subscription limit (JWT `subs`).
    pub(super) user_max_subscriptions: Option<usize>,
    /// A CONNECT waiting for its costly credentials check (and the check,
    /// until the driver takes it); boxed, as it is rare and large.
    pub(super) pending_connect: Option<Box<(Connect, Option<AuthJob>)>>,
    ping: Pinger,
    pub(super) batch: super::counting::BatchCounts,
    /// When the connection was accepted (CONNECT estimates the RTT from it).
    pub(super) accepted: Instant,
    /// Deliveries to leaf links, gathered per publish (and what a message
    /// from a leaf link may reach).
    pub(super) leaf: super::leaf::LeafRouting,
    /// Subject mappings' buffer, and whether they apply to this connection.
    pub(super) mapper: super::mapping::Mapper,
}

#[derive(Default)]
pub(super) struct LastLookup {
    pub(super) generation: u64,
    pub(super) subject: Vec<u8>,
    pub(super) matches: Option<Arc<Matches<SubHandle>>>,
}

impl ClientState {
    /// A connection that has just been accepted at `now`; `nonce` is the
    /// one its INFO carried.
    pub(crate) fn new(
        broker: Arc<Broker>,
        me: Arc<Subscriber>,
        kind: ConnectionKind,
        cookies: Vec<(String, String)>,
        nonce: String,
        now: Time,
    ) -> Self {
        let auth_deadline = broker
            .auth()
            .required(kind)
            .then(|| now.instant + broker.auth().timeout(kind));
        let account = broker.account(None);
        let ping = Pinger {
            next: now.instant + broker.live.ping_interval(),
            out: 0,
            rtt_measured: false,
            sent_at: None,
            last_activity: now.instant,
        };
        let generation = broker.cluster.as_ref().map_or(0, |c| c.urls_generation());
        Self {
            broker,
            me,
            flags: ConnectFlags {
                verbose: true,
                pedantic: true,
                echo: true,
                headers: false,
                no_responders: false,
                protocol: false,
                info_generation: Some(generation),
            },
            rng: FastRng::new(),
            measured: Vec::new(),
            wakes: Vec::new(),
            backlog: Vec::new(),
            now,
            last_lookup: LastLookup::default(),
            kind,
            cookies,
            certificate: None,
            credentials: None,
            nonce,
            auth_deadline,
            permissions: None,
            publish_allowed: HashMap::new(),
            links: None,
            account,
            expires_at: None,
            user_max_payload: None,
            user_max_subscriptions: None,
            pending_connect: None,
            ping,
            batch: super::counting::BatchCounts::default(),
            accepted: now.instant,
            leaf: super::leaf::LeafRouting::default(),
            mapper: super::mapping::Mapper::default(),
        }
    }

    /// The parser's limits: the server's, or the user's own when lower.
    pub(crate) fn parser_limits(&self) -> ParserLimits {
        let server = self.broker.live.max_payload();
        ParserLimits {
            max_control_line: self.broker.live.max_control_line(),
            max_payload: self
                .user_max_payload
                .map_or(server, |user| user.min(server)),
        }
    }

    /// Handles one operation at `now`. `Err` means close with that reason
    /// (any `-ERR` that explains it is already queued).
    pub(crate) fn handle(&mut self, op: ClientOp, now: Time) -> Result<(), CloseReason> {
        self.now = now;
        if self.auth_deadline.is_some() && !matches!(op, ClientOp::Connect(_)) {
            self.authenticate_without_connect()?;
        }
        match op {
            ClientOp::Pub(publish) => self.handle_publish(&publish),
            ClientOp::Ping => {
                // A client PING counts as activity, as nats-server's `ping.last`.
                self.touch();
                // PONG first: nats.go's connect reads PONG or -ERR after
                // its CONNECT and PING, nothing else.
                self.send(encode::PONG);
                self.first_pong();
                Ok(())
            }
            ClientOp::Pong => {
                self.ping.out = 0;
                self.ping.rtt_measured = true;
                if let Some(sent) = self.ping.sent_at.take() {
                    self.me.link.meta().rtt = Some(now.instant.saturating_duration_since(sent));
                }
                Ok(())
            }
            ClientOp::Sub(sub) => {
                self.handle_subscribe(&sub);
                Ok(())
            }
            ClientOp::Unsub(unsub) => {
                self.handle_unsubscribe(&unsub);
                Ok(())
            }
            ClientOp::Connect(json) => self.handle_connect(&json),
            ClientOp::Info(json) => match ServerInfo::parse(&json) {
                Ok(_) => Ok(()),
                Err(_) => Err(CloseReason::ProtocolViolation),
            },
            ClientOp::Ok => Ok(()),
            ClientOp::Err(text) => {
                tracing::debug!(
                    cid = self.cid(),
                    "Client error: {}",
                    String::from_utf8_lossy(&text)
                );
                // nats-server's processErr: a client's -ERR closes it so.
                Err(CloseReason::ParseError)
            }
            _ => Err(CloseReason::ProtocolViolation),
        }
    }

    /// Queues the `-ERR` for a parse error and says how to close.
    pub(crate) fn handle_parse_error(&mut self, error: ProtoError) -> CloseReason {
        tracing::debug!(cid = self.cid(), "Client parser error: {error}");
        if let Some(reply) = error.reply() {
            self.send_err(reply);
        }
        match error {
            ProtoError::MaxPayloadExceeded => CloseReason::MaxPayloadExceeded,
            ProtoError::MaxControlLineExceeded => CloseReason::MaxControlLineExceeded,
            // nats-server closes on any other parse error as a protocol
            // violation (readLoop), as /connz shows.
            _ => CloseReason::ProtocolViolation,
        }
    }

    /// Until authenticated: when the client must have authenticated by.
    pub(crate) fn auth_deadline(&self) -> Option<Instant> {
        self.auth_deadline
    }

    /// When the state machine next needs [`Self::handle_timeout`].
    pub(crate) fn poll_timeout(&self) -> Instant {
        [self.auth_deadline, self.expires_at]
            .into_iter()
            .flatten()
            .fold(self.ping.next, Instant::min)
    }

    /// Runs whatever is due at `now`: the authentication deadline, the
    /// credentials' expiry, the ping timer.
    pub(crate) fn handle_timeout(&mut self, now: Time) -> Result<(), CloseReason> {
        self.now = now;
        let at = now.instant;
        if self.auth_deadline.is_some_and(|deadline| at >= deadline) {
            tracing::debug!(cid = self.cid(), "Authentication Timeout");
            self.send_err(ErrReply::AuthenticationTimeout);
            return Err(CloseReason::AuthenticationTimeout);
        }
        if self.expires_at.is_some_and(|expiry| at >= expiry) {
            tracing::debug!(cid = self.cid(), "User Authentication Expired");
            self.send_err(ErrReply::UserAuthenticationExpired);
            return Err(CloseReason::AuthenticationExpired);
        }
        if at >= self.ping.next {
            self.ping.next = at + self.broker.live.ping_interval();
            return self.ping_tick();
        }
        Ok(())
    }

    /// Ends a batch of operations: wakes every writer that got bytes during
    /// it, once (what lets one socket write carry many messages).
    pub(crate) fn end_batch(&mut self) {
        for link in self.wakes.drain(..) {
            link.writer_wake.notify_one();
        }
        self.flush_counts();
    }

    /// PING an idle client, or close it as stale when too many PINGs went
    /// unanswered (nats-server's `processPingTimer`).
    fn ping_tick(&mut self) -> Result<(), CloseReason> {
        let interval = self.broker.live.ping_interval();
        let idle = self.now.instant.duration_since(self.ping.last_activity) >= interval;
        if !idle && self.ping.rtt_measured {
            return Ok(());
        }
        if self.ping.out + 1 > self.broker.live.ping_max() {
            tracing::debug!(cid = self.cid(), "Stale Client Connection - Closing");
            self.send_err(ErrReply::StaleConnection);
            return Err(CloseReason::StaleConnection);
        }
        self.ping.out += 1;
        self.ping.sent_at.get_or_insert(self.now.instant);
        self.send(encode::PING);
        Ok(())
    }

    /// CONNECT restarts the ping timer: the first PING comes soon, with
    /// jitter, so a client's RTT is measured early.
    pub(super) fn restart_ping_timer(&mut self) {
        let first = self.broker.live.ping_interval().min(FIRST_PING_MAX);
        let jitter = first.mul_f64((self.rng.below(201) as f64) / 1000.0);
        self.ping.next = self.now.instant + first + jitter;
    }

    pub(super) fn cid(&self) -> u64 {
        self.me.link.cid
    }

    /// Records activity for the ping timer.
    pub(super) fn touch(&mut self) {
        self.ping.last_activity = self.now.instant;
    }

    pub(super) fn ok(&mut self) {
        if self.flags.verbose {
            self.send(encode::OK);
        }
    }

    pub(super) fn send(&mut self, bytes: &[u8]) {
        self.send_with(|out| out.put_slice(bytes));
    }

    pub(super) fn send_err(&mut self, reply: ErrReply<'_>) {
        tracing::debug!(cid = self.cid(), "Sending {reply}");
        self.send_with(|out| reply.encode(out));
    }

    pub(super) fn send_with(&mut self, encode: impl FnOnce(&mut BytesMut)) {
        let link = &self.me.link;
        if link.queue(encode) == Queued::WakeWriter {
            self.wakes.push(Arc::clone(link));
        }
    }

    /// A link that got bytes in this batch: its writer is woken at the end.
    pub(super) fn wake_later(&mut self, link: &Arc<Link>) {
        self.wakes.push(Arc::clone(link));
    }

    /// A receiver this batch left backlogged (its own link aside: a client
    /// does not wait for itself).
    pub(super) fn note_backlog(&mut self, link: &Arc<Link>) {
        if !Arc::ptr_eq(link, &self.me.link) && !self.backlog.iter().any(|l| Arc::ptr_eq(l, link)) {
            self.backlog.push(Arc::clone(link));
        }
    }

    /// The receivers to wait for before reading more from this client
    /// (after [`Self::end_batch`]).
    pub(crate) fn take_backlog(&mut self) -> Vec<Arc<Link>> {
        std::mem::take(&mut self.backlog)
    }
}
