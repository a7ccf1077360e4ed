//! One connection's protocol logic: what each client operation does.
//!
//! The session is driven by its connection's reader task but does no I/O
//! itself: it changes the router, queues bytes on outbound buffers, and
//! returns a [`CloseReason`] when the connection must end. Writers it must
//! wake are collected and woken once per read batch ([`Session::flush_wakes`]),
//! which is what lets one socket write carry many messages.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{BufMut, Bytes, BytesMut};
use starling_proto::{
    ClientOp, Connect, ErrReply, ParserLimits, ProtoError, Publish, ServerInfo, Subscribe,
    Unsubscribe, encode,
};

use std::collections::HashMap;

use starling_auth::links::ResponseType;
use starling_auth::{AuthRequest, ConnectionKind, Permissions};
use starling_router::Matches;

use super::link::{AccountRouter, ClientLink, CloseReason, Queued, SubHandle, Subscription};
use crate::identity::FastRng;
use crate::links::{AccountLinks, Pending, RESPONSE_PREFIX};
use crate::server::Shared;

/// Reply prefixes reserved for the server's own use (nats-server's
/// `isReservedReply`), and the gateway prefix clients may not publish to.
const RESERVED_REPLY_PREFIXES: [&[u8]; 3] = [b"_R_.", b"$JS.ACK.", b"_GR_."];
const GATEWAY_REPLY_PREFIX: &[u8] = b"_GR_.";

pub(crate) struct Session {
    shared: Arc<Shared>,
    link: Arc<ClientLink>,
    verbose: bool,
    pedantic: bool,
    echo: bool,
    headers: bool,
    no_responders: bool,
    rng: FastRng,
    /// Writers to wake at the end of this read batch.
    wakes: Vec<Arc<ClientLink>>,
    /// Whether this batch had messages or subscription changes (activity
    /// for the ping timer; the clock is read once per batch, not per op).
    active: bool,
    /// The last subject published and its matches, valid while the
    /// router's generation is unchanged: a publisher repeating a subject
    /// skips even the router's read lock.
    last_lookup: LastLookup,
    /// How the client connected (what authentication sees).
    kind: ConnectionKind,
    /// Cookies of the websocket upgrade, for cookie credentials.
    cookies: Vec<(String, String)>,
    /// Authenticated, or no authentication required.
    authenticated: bool,
    /// The authenticated user's permissions; `None`: everything.
    permissions: Option<Arc<Permissions>>,
    /// Publish decisions already made, by subject (bounded).
    publish_allowed: HashMap<Vec<u8>, bool>,
    /// The account's router: publishes and subscriptions stay inside it.
    router: AccountRouter,
    /// The account's exports and imports, if it has any.
    links: Option<Arc<AccountLinks>>,
    /// The nonce sent in INFO, for nkey signatures.
    nonce: String,
    /// When the user's JWT expires: the connection is closed then.
    expires_at: Option<std::time::Instant>,
    /// The user's own payload limit (JWT `payload`), below the server's.
    user_max_payload: Option<usize>,
    /// The user's own subscription limit (JWT `subs`).
    user_max_subscriptions: Option<usize>,
}

/// Unix seconds now (JWT times are Unix seconds).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Publish decisions kept per connection before the cache is cleared.
const PUBLISH_CACHE: usize = 256;

#[derive(Default)]
struct LastLookup {
    generation: u64,
    subject: Vec<u8>,
    matches: Option<Arc<Matches<SubHandle>>>,
}

impl Session {
    pub(crate) fn new(
        shared: Arc<Shared>,
        link: Arc<ClientLink>,
        kind: ConnectionKind,
        cookies: Vec<(String, String)>,
        nonce: String,
    ) -> Self {
        let authenticated = !shared.auth.required(kind);
        let router = shared.account_router(None);
        // Until CONNECT, nats-server applies its defaults: verbose, pedantic, echo.
        Self {
            shared,
            link,
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            rng: FastRng::new(),
            wakes: Vec::new(),
            active: false,
            last_lookup: LastLookup::default(),
            kind,
            cookies,
            authenticated,
            permissions: None,
            publish_allowed: HashMap::new(),
            router,
            links: None,
            nonce,
            expires_at: None,
            user_max_payload: None,
            user_max_subscriptions: None,
        }
    }

    pub(crate) fn parser_limits(&self) -> ParserLimits {
        let server = self.shared.options.max_payload;
        ParserLimits {
            max_control_line: self.shared.options.max_control_line,
            max_payload: self
                .user_max_payload
                .map_or(server, |user| user.min(server)),
        }
    }

    /// True until the client authenticated (when authentication is required).
    pub(crate) fn awaiting_auth(&self) -> bool {
        !self.authenticated
    }

    /// How long the client has to authenticate.
    pub(crate) fn auth_timeout(&self) -> std::time::Duration {
        self.shared.auth.timeout(self.kind)
    }

    /// When the authenticated user's credentials expire, if they do.
    pub(crate) fn expires_at(&self) -> Option<std::time::Instant> {
        self.expires_at
    }

    /// The user's JWT expired: says so (then the caller closes).
    pub(crate) fn credentials_expired(&mut self) {
        tracing::debug!(cid = self.link.cid, "User Authentication Expired");
        self.send_err(ErrReply::UserAuthenticationExpired);
        self.flush_wakes();
    }

    /// The authorization timeout passed: says so (then the caller closes).
    pub(crate) fn auth_timed_out(&mut self) {
        tracing::debug!(cid = self.link.cid, "Authentication Timeout");
        self.send_err(ErrReply::AuthenticationTimeout);
        self.flush_wakes();
    }

    /// Handles one operation. `Err` means close with that reason (any `-ERR`
    /// that explains it is already queued).
    pub(crate) fn handle(&mut self, op: ClientOp) -> Result<(), CloseReason> {
        if !self.authenticated && !matches!(op, ClientOp::Connect(_)) {
            // nats-server: any first operation other than CONNECT is refused,
            // unless a no_auth_user takes the connection in.
            match self.shared.auth.no_auth_user(self.kind) {
                Some(user) => {
                    tracing::debug!(
                        cid = self.link.cid,
                        user = user.name.as_str(),
                        "Bound to no_auth_user"
                    );
                    self.authenticated = true;
                    let permissions = user.permissions.clone();
                    let account = user.account.clone();
                    self.set_permissions(permissions);
                    self.set_account(account.as_deref());
                }
                None => {
                    self.send_err(ErrReply::AuthorizationViolation);
                    return Err(CloseReason::AuthenticationViolation);
                }
            }
        }
        match op {
            ClientOp::Pub(publish) => self.handle_publish(&publish),
            ClientOp::Ping => {
                // A client PING counts as activity, as nats-server's `ping.last`.
                self.touch();
                self.send(encode::PONG);
                Ok(())
            }
            ClientOp::Pong => {
                self.link.pings_out.store(0, Ordering::Relaxed);
                self.link.rtt_measured.store(true, Ordering::Relaxed);
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
                    cid = self.link.cid,
                    "Client error: {}",
                    String::from_utf8_lossy(&text)
                );
                Err(CloseReason::ParseError)
            }
            _ => Err(CloseReason::ParseError),
        }
    }

    /// Queues the `-ERR` for a parse error and says how to close.
    pub(crate) fn handle_parse_error(&mut self, error: ProtoError) -> CloseReason {
        tracing::debug!(cid = self.link.cid, "Client parser error: {error}");
        if let Some(reply) = error.reply() {
            self.send_err(reply);
        }
        match error {
            ProtoError::MaxPayloadExceeded => CloseReason::MaxPayloadExceeded,
            ProtoError::MaxControlLineExceeded => CloseReason::MaxControlLineExceeded,
            _ => CloseReason::ParseError,
        }
    }

    /// Ends a read batch: records activity and wakes every writer that got
    /// bytes during it.
    pub(crate) fn flush_wakes(&mut self) {
        if std::mem::take(&mut self.active) {
            self.link
                .last_activity
                .store(self.shared.now_millis(), Ordering::Relaxed);
        }
        for link in self.wakes.drain(..) {
            link.writer_wake.notify_one();
        }
    }

    fn handle_connect(&mut self, json: &[u8]) -> Result<(), CloseReason> {
        let connect = match Connect::parse(json) {
            Ok(connect) => connect,
            Err(error) => {
                tracing::debug!(cid = self.link.cid, "Invalid CONNECT: {error}");
                return Err(CloseReason::ProtocolViolation);
            }
        };
        self.link.ping_timer_reset.store(true, Ordering::Relaxed);
        self.link.writer_wake.notify_one();
        if self.shared.auth.required(self.kind) {
            let request = AuthRequest {
                kind: Some(self.kind),
                user: connect.user.as_deref(),
                pass: connect.pass.as_deref(),
                token: connect.auth_token.as_deref(),
                nkey: connect.nkey.as_deref(),
                sig: connect.sig.as_deref(),
                nonce: self.nonce.as_bytes(),
                jwt: connect.jwt.as_deref(),
                now: unix_now(),
                cookies: &self.cookies,
            };
            match self.shared.auth.authenticate(&request) {
                Ok(identity) => {
                    tracing::debug!(
                        cid = self.link.cid,
                        user = identity.user.as_deref().unwrap_or(""),
                        "Authenticated"
                    );
                    self.authenticated = true;
                    self.user_max_payload = identity.max_payload;
                    self.user_max_subscriptions = identity.max_subscriptions;
                    self.expires_at = identity.expires.map(|exp| {
                        let left = u64::try_from(exp - unix_now()).unwrap_or(0);
                        std::time::Instant::now() + std::time::Duration::from_secs(left)
                    });
                    self.set_permissions(identity.permissions);
                    self.set_account(identity.account.as_deref());
                }
                Err(error) => {
                    // The reason names users, never passwords or tokens.
                    tracing::info!(cid = self.link.cid, "Authorization Violation: {error}");
                    self.send_err(ErrReply::AuthorizationViolation);
                    return Err(CloseReason::AuthenticationViolation);
                }
            }
        }
        if connect.account.as_deref().is_some_and(|a| !a.is_empty())
            || connect.new_account == Some(true)
        {
            self.send_err(ErrReply::AuthorizationViolation);
            return Err(CloseReason::AuthenticationViolation);
        }
        if !matches!(connect.protocol, None | Some(0 | 1)) {
            self.send_err(ErrReply::InvalidClientProtocol);
            return Err(CloseReason::BadClientProtocolVersion);
        }
        let headers = connect.headers == Some(true);
        let no_responders = connect.no_responders == Some(true);
        if no_responders && !headers {
            self.send_err(ErrReply::NoRespondersRequiresHeaders);
            return Err(CloseReason::NoRespondersRequiresHeaders);
        }
        self.verbose = connect.verbose;
        self.pedantic = connect.pedantic;
        self.echo = connect.echo;
        self.headers = headers;
        self.no_responders = no_responders;
        self.link.headers.store(headers, Ordering::Relaxed);
        tracing::debug!(
            cid = self.link.cid,
            name = connect.name.as_deref().unwrap_or(""),
            lang = connect.lang.as_deref().unwrap_or(""),
            version = connect.version.as_deref().unwrap_or(""),
            "Client connected"
        );
        self.ok();
        Ok(())
    }

    fn handle_publish(&mut self, publish: &Publish) -> Result<(), CloseReason> {
        if publish.is_hpub() && !self.headers {
            tracing::debug!(cid = self.link.cid, "message headers not supported");
            return Err(CloseReason::ProtocolViolation);
        }
        self.touch();
        let subject = publish.subject();
        if self.pedantic && !starling_subject::is_valid_literal(subject) {
            // nats-server reports the subject and still routes the message.
            self.send_err(ErrReply::InvalidPublishSubject);
        }
        if has_prefix(subject, GATEWAY_REPLY_PREFIX) || !self.may_publish(subject) {
            tracing::debug!(
                cid = self.link.cid,
                "Publish Violation on {}",
                String::from_utf8_lossy(subject)
            );
            self.send_err(ErrReply::PublishViolation(subject));
            return Ok(());
        }
        if let Some(reply) = publish.reply()
            && RESERVED_REPLY_PREFIXES.iter().any(|p| has_prefix(reply, p))
        {
            self.send_err(ErrReply::PublishReplyViolation(reply));
            return Ok(());
        }
        self.ok();
        let matches = self.lookup(subject);
        let route = Route {
            subject,
            reply: publish.reply(),
            message: None,
        };
        let mut delivered = self.deliver_all(&matches, publish, route);
        if let Some(links) = self.links.clone() {
            delivered |= self.cross_accounts(&links, publish);
        }
        if !delivered
            && self.no_responders
            && let Some(reply) = publish.reply()
            && let Some(sub) = self.link.subscription_matching(reply)
        {
            self.send_with(|out| encode::no_responders(out, reply, &sub.sid));
        }
        Ok(())
    }

    /// Delivers to every plain match and one member of each queue group.
    fn deliver_all(
        &mut self,
        matches: &Matches<SubHandle>,
        publish: &Publish,
        route: Route<'_>,
    ) -> bool {
        let mut delivered = false;
        for SubHandle(sub) in &matches.plain {
            if self.is_own_echo(sub) {
                continue;
            }
            delivered |= self.deliver(sub, publish, route);
        }
        for group in &matches.queues {
            let members = &group.members;
            let start = self.rng.below(members.len());
            for i in 0..members.len() {
                let SubHandle(sub) = &members[(start + i) % members.len()];
                if !self.is_own_echo(sub) && self.deliver(sub, publish, route) {
                    delivered = true;
                    break;
                }
            }
        }
        delivered
    }

    /// Exports and imports: a response owed to another account, stream
    /// importers of this subject, and a service this account imports.
    fn cross_accounts(&mut self, links: &AccountLinks, publish: &Publish) -> bool {
        let subject = publish.subject();
        let mut delivered = false;
        let mut mapped = Vec::new();
        if subject.starts_with(RESPONSE_PREFIX)
            && let Some((importer, reply)) = links.responses.take(subject)
        {
            let matches = importer.lookup(&reply);
            let route = Route {
                subject: &reply,
                reply: None,
                message: None,
            };
            delivered |= self.deliver_all(&matches, publish, route);
        }
        for feed in &links.streams {
            if !starling_subject::matches(&feed.filter, subject) {
                continue;
            }
            let local = match &feed.transform {
                Some(transform) if transform.apply(subject, &mut mapped) => &mapped[..],
                Some(_) => continue,
                None => subject,
            };
            let matches = feed.importer.lookup(local);
            let route = Route {
                subject: local,
                reply: publish.reply(),
                message: None,
            };
            delivered |= self.deliver_all(&matches, publish, route);
        }
        let Some(service) = links
            .services
            .iter()
            .find(|s| starling_subject::matches(&s.local, subject))
        else {
            return delivered;
        };
        let target = match &service.transform {
            Some(transform) if transform.apply(subject, &mut mapped) => &mapped[..],
            Some(_) => return delivered,
            None => subject,
        };
        let reply = publish.reply().map(|reply| {
            let token = self.rng.token();
            service.responses.open(
                &token,
                Pending {
                    importer: Arc::clone(&self.router),
                    reply: Bytes::copy_from_slice(reply),
                    once: service.response == ResponseType::Singleton,
                    until: std::time::Instant::now() + service.threshold,
                },
            )
        });
        let message = HeadedMessage::with_request_info(publish, &links.request_info);
        let matches = service.exporter.lookup(target);
        let route = Route {
            subject: target,
            reply: reply.as_deref(),
            message: Some(&message),
        };
        delivered |= self.deliver_all(&matches, publish, route);
        delivered
    }

    fn lookup(&mut self, subject: &[u8]) -> Arc<Matches<SubHandle>> {
        let router = &self.router;
        let generation = router.generation();
        let last = &mut self.last_lookup;
        if let Some(matches) = &last.matches
            && last.generation == generation
            && last.subject == subject
        {
            return Arc::clone(matches);
        }
        let matches = router.lookup(subject);
        last.generation = generation;
        last.subject.clear();
        last.subject.extend_from_slice(subject);
        last.matches = Some(Arc::clone(&matches));
        matches
    }

    /// Moves the connection into its account (before any subscription:
    /// it happens at authentication).
    fn set_account(&mut self, account: Option<&str>) {
        self.router = self.shared.account_router(account);
        self.links = self.shared.account_links(account);
        self.last_lookup = LastLookup::default();
    }

    fn set_permissions(&mut self, permissions: Option<Arc<Permissions>>) {
        if let Some(permissions) = &permissions {
            self.link.set_delivery_denies(permissions);
            if let Some(responses) = permissions.responses {
                self.link.track_responses(responses);
            }
        }
        self.permissions = permissions;
        self.publish_allowed.clear();
    }

    fn may_publish(&mut self, subject: &[u8]) -> bool {
        let Some(permissions) = &self.permissions else {
            return true;
        };
        if let Some(&allowed) = self.publish_allowed.get(subject) {
            return allowed || self.link.may_respond(subject);
        }
        let allowed = permissions.can_publish(subject);
        if self.publish_allowed.len() >= PUBLISH_CACHE {
            self.publish_allowed.clear();
        }
        self.publish_allowed.insert(subject.to_vec(), allowed);
        // Replies are decided each time (they are counted), never cached.
        allowed || self.link.may_respond(subject)
    }

    fn is_own_echo(&self, sub: &Subscription) -> bool {
        !self.echo && Arc::ptr_eq(&sub.client, &self.link)
    }

    /// Queues one message for `sub`; false when it could not take it.
    fn deliver(&mut self, sub: &Arc<Subscription>, publish: &Publish, route: Route<'_>) -> bool {
        let client = &sub.client;
        if client.is_closed() || client.delivery_denied(sub, route.subject) {
            return false;
        }
        let count = sub.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        let max = sub.max.load(Ordering::Relaxed);
        if max > 0 && count > max {
            return false;
        }
        let with_headers = client.headers.load(Ordering::Relaxed);
        let queued = client.queue(|out| encode_delivery(out, sub, publish, route, with_headers));
        match queued {
            Queued::WakeWriter => self.wakes.push(Arc::clone(client)),
            Queued::Ok => {}
            Queued::Refused => return false,
        }
        if let Some(reply) = route.reply {
            client.note_reply(reply);
        }
        if max > 0 && count == max {
            self.shared.unsubscribe(sub);
        }
        true
    }

    fn handle_subscribe(&mut self, op: &Subscribe) {
        self.touch();
        if let Some(permissions) = &self.permissions {
            let (subject, queue) = (op.subject(), op.queue());
            if !permissions.can_subscribe(&subject, queue.as_deref()) {
                let reply = match &queue {
                    Some(queue) => ErrReply::QueueSubscriptionViolation(&subject, queue),
                    None => ErrReply::SubscriptionViolation(&subject),
                };
                tracing::debug!(
                    cid = self.link.cid,
                    "Subscription Violation on {}",
                    String::from_utf8_lossy(&subject)
                );
                self.send_err(reply);
                return;
            }
        }
        let server_max = Some(self.shared.options.max_subscriptions).filter(|&m| m > 0);
        let max_subs = match (server_max, self.user_max_subscriptions) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if max_subs.is_some_and(|max| self.link.subscription_count() >= max) {
            self.send_err(ErrReply::MaxSubscriptionsExceeded);
            return;
        }
        if !starling_subject::is_valid_filter(&op.subject()) {
            self.send_err(ErrReply::InvalidSubject);
            return;
        }
        let sub = Arc::new(Subscription {
            client: Arc::clone(&self.link),
            router: Arc::clone(&self.router),
            subject: op.subject(),
            queue: op.queue(),
            sid: op.sid_bytes(),
            max: 0.into(),
            delivered: 0.into(),
        });
        if self.link.add_subscription(&sub) {
            let handle = SubHandle(Arc::clone(&sub));
            if self
                .router
                .insert(sub.subject.clone(), sub.queue.clone(), handle)
                .is_err()
            {
                self.link.forget_subscription(&sub);
                self.send_err(ErrReply::InvalidSubject);
                return;
            }
        }
        self.ok();
    }

    fn handle_unsubscribe(&mut self, op: &Unsubscribe) {
        self.touch();
        self.ok();
        let Some(sub) = self.link.subscription(op.sid()) else {
            return;
        };
        match op.max() {
            Some(max) if max > 0 && max > sub.delivered.load(Ordering::Relaxed) => {
                sub.max.store(max, Ordering::Relaxed);
            }
            _ => self.shared.unsubscribe(&sub),
        }
    }

    fn touch(&self) {
        self.link
            .last_activity
            .store(self.shared.now_millis(), Ordering::Relaxed);
    }

    fn ok(&mut self) {
        if self.verbose {
            self.send(encode::OK);
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.send_with(|out| out.put_slice(bytes));
    }

    fn send_err(&mut self, reply: ErrReply<'_>) {
        tracing::debug!(cid = self.link.cid, "Sending {reply}");
        self.send_with(|out| reply.encode(out));
    }

    fn send_with(&mut self, encode: impl FnOnce(&mut BytesMut)) {
        if self.link.queue(encode) == Queued::WakeWriter {
            self.wakes.push(Arc::clone(&self.link));
        }
    }
}

/// The subject and reply a delivery carries: the publisher's, or mapped by
/// an account import (which may also add a header).
#[derive(Debug, Clone, Copy)]
struct Route<'a> {
    subject: &'a [u8],
    reply: Option<&'a [u8]>,
    /// Headers and payload that replace the publisher's.
    message: Option<&'a HeadedMessage>,
}

/// A message rebuilt with a header block of its own (built once per
/// publish, its size tokens with it, whatever the number of subscribers).
#[derive(Debug)]
struct HeadedMessage {
    bytes: Vec<u8>,
    header_len: usize,
    header_token: String,
    size_token: String,
}

impl HeadedMessage {
    /// The request with nats-server's `Nats-Request-Info` header line
    /// (`info`, naming the requester's account) in place of one the client
    /// set, as a service in another account receives it.
    fn with_request_info(publish: &Publish, info: &[u8]) -> Self {
        let mut bytes = Vec::with_capacity(publish.message().len() + info.len() + 12);
        let headers = publish.headers();
        if publish.has_headers() && headers.ends_with(b"\r\n\r\n") {
            let block = &headers[..headers.len() - 2];
            for line in block.split_inclusive(|&b| b == b'\n') {
                let name = line.split(|&b| b == b':').next().unwrap_or_default();
                if !name.eq_ignore_ascii_case(REQUEST_INFO_HEADER) {
                    bytes.extend_from_slice(line);
                }
            }
        } else {
            bytes.extend_from_slice(b"NATS/1.0\r\n");
        }
        bytes.extend_from_slice(info);
        bytes.extend_from_slice(b"\r\n");
        let header_len = bytes.len();
        bytes.extend_from_slice(publish.payload());
        Self {
            header_token: header_len.to_string(),
            size_token: bytes.len().to_string(),
            bytes,
            header_len,
        }
    }
}

/// The header a service import adds, as nats-server does.
const REQUEST_INFO_HEADER: &[u8] = b"Nats-Request-Info";

/// `MSG` or `HMSG` for one subscriber. Headers go only to clients that
/// announced them; others get the payload alone, as nats-server does.
fn encode_delivery(
    out: &mut BytesMut,
    sub: &Subscription,
    publish: &Publish,
    route: Route<'_>,
    with_headers: bool,
) {
    let (subject, sid, reply) = (route.subject, &sub.sid[..], route.reply);
    if let Some(message) = route.message {
        if with_headers {
            encode::hmsg(
                out,
                subject,
                sid,
                reply,
                message.header_token.as_bytes(),
                message.size_token.as_bytes(),
                &message.bytes,
            );
        } else {
            encode::msg(
                out,
                subject,
                sid,
                reply,
                &message.bytes[message.header_len..],
            );
        }
        return;
    }
    match publish.header_token() {
        Some(header_token) if publish.has_headers() && with_headers => {
            encode::hmsg(
                out,
                subject,
                sid,
                reply,
                header_token,
                publish.size_token(),
                publish.message(),
            );
        }
        _ if publish.has_headers() => encode::msg(out, subject, sid, reply, publish.payload()),
        _ => encode::msg_with_size_token(
            out,
            subject,
            sid,
            reply,
            publish.size_token(),
            publish.payload(),
        ),
    }
}

fn has_prefix(subject: &[u8], prefix: &[u8]) -> bool {
    subject.len() > prefix.len() && subject.starts_with(prefix)
}
