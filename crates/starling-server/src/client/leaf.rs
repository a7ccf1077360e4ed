//! A client state on a leaf link, and deliveries to leaf links.
//!
//! Messages from a leaf peer (`LMSG`/`HMSG`) take the path a client's
//! publish does, with nats-server's rules for them: no echo to the link
//! they came from, and only the queue groups the message names (none
//! named: no queue delivery). Deliveries to leaf links are gathered per
//! publish, so a link with several matching subscriptions gets one message
//! naming the queue groups it must serve. A message of a leaf cluster (from
//! one of its links, or a route's `LMSG <origin>`) goes back to no link of
//! that cluster (`cluster.md` §5.6), and to `lnoc` routes as `LMSG
//! <origin>`.

use std::sync::Arc;

use bytes::Bytes;
use starling_auth::ConnectionKind;
use starling_proto::leaf::LeafMessage;

use super::delivery::Route;
use super::mapping::Mapped;
use super::state::{ClientState, LastLookup, Time};
use crate::account::{Account, OriginKind, Subscriber};
use crate::broker::Broker;

/// Deliveries to leaf links gathered during one publish, and the queue
/// groups a message from a leaf link may reach.
#[derive(Default)]
pub(crate) struct LeafRouting {
    /// Each leaf link to send to, with the queue groups it must serve.
    targets: Vec<(Arc<Subscriber>, Vec<Bytes>)>,
    /// Handling a message from a leaf link: only these groups are served.
    named: Option<Vec<Bytes>>,
    /// Handling a message of a leaf cluster: its name.
    origin: Option<Bytes>,
}

impl LeafRouting {
    /// `subscriber` (a leaf link) gets this message, serving `queue`.
    pub(super) fn target(&mut self, subscriber: &Arc<Subscriber>, queue: Option<&Bytes>) {
        let at = match self
            .targets
            .iter()
            .position(|(s, _)| Arc::ptr_eq(s, subscriber))
        {
            Some(at) => at,
            None => {
                self.targets.push((Arc::clone(subscriber), Vec::new()));
                self.targets.len() - 1
            }
        };
        if let Some(queue) = queue {
            self.targets[at].1.push(queue.clone());
        }
    }

    pub(super) fn has_targets(&self) -> bool {
        !self.targets.is_empty()
    }

    pub(super) fn take_targets(&mut self) -> Vec<(Arc<Subscriber>, Vec<Bytes>)> {
        std::mem::take(&mut self.targets)
    }

    /// Gives back the (emptied) list, keeping its room.
    pub(super) fn restore_targets(&mut self, mut targets: Vec<(Arc<Subscriber>, Vec<Bytes>)>) {
        targets.clear();
        self.targets = targets;
    }

    /// Whether `link` leads back into the leaf cluster the message came
    /// from.
    pub(super) fn back_to_origin(&self, link: &Subscriber) -> bool {
        matches!(link.kind(), OriginKind::LeafHub | OriginKind::LeafSpoke)
            && self.origin.is_some()
            && link.leaf_cluster() == self.origin.as_ref()
    }

    /// The leaf cluster the message comes from, if any.
    pub(super) fn origin(&self) -> Option<&Bytes> {
        self.origin.as_ref()
    }

    /// Whether queue group `name` may get this message.
    pub(super) fn serves(&self, name: &Bytes) -> bool {
        self.named
            .as_ref()
            .is_none_or(|named| named.iter().any(|n| n == name))
    }
}

impl ClientState {
    /// The state of a leaf link, or of a route in one account (its
    /// subscriber's kind tells deliveries what may go where): bound to
    /// `account`, authenticated by the link's handshake, never echoing,
    /// taking headers if the peer does.
    pub(crate) fn for_link(
        broker: Arc<Broker>,
        me: Arc<Subscriber>,
        account: Arc<Account>,
        headers: bool,
        now: Time,
    ) -> Self {
        let route = me.kind() == OriginKind::Route;
        let mut state = Self::bound(broker, me, ConnectionKind::Leafnode, account, headers, now);
        // A route's messages were mapped where they were published.
        state.mapper.off = route;
        state
    }

    /// A state already bound to `account` (no CONNECT, no authentication:
    /// an internal client's or a leaf link's), quiet (no `+OK`), never
    /// echoing, taking headers if `headers`.
    pub(super) fn bound(
        broker: Arc<Broker>,
        me: Arc<Subscriber>,
        kind: ConnectionKind,
        account: Arc<Account>,
        headers: bool,
        now: Time,
    ) -> Self {
        me.set_headers(headers);
        let mut state = Self::new(
            Arc::clone(&broker),
            me,
            kind,
            Vec::new(),
            String::new(),
            now,
        );
        state.auth_deadline = None;
        state.links = broker.account_links(&account);
        state.account = account;
        state.last_lookup = LastLookup::default();
        state.flags.verbose = false;
        state.flags.pedantic = false;
        state.flags.echo = false;
        state.flags.headers = headers;
        state
    }

    /// A message from the leaf (or route) peer, at `now`.
    pub(crate) fn handle_leaf_message(&mut self, message: &LeafMessage, now: Time) {
        self.now = now;
        self.touch();
        self.count_publish(message.message().len());
        let publish = message.to_publish();
        let mut named = self.leaf.named.take().unwrap_or_default();
        named.clear();
        named.extend(message.queue_bytes());
        self.leaf.named = Some(named);
        self.leaf.origin = match message.origin_bytes() {
            Some(origin) => Some(origin),
            None => self.me.leaf_cluster().cloned(),
        };
        // A leaf's messages are mapped; a route's were mapped already.
        let mut mapped = std::mem::take(&mut self.mapper.buffer);
        let subject = match self.map_own(publish.subject(), &mut mapped) {
            Mapped::Same => Some(publish.subject()),
            Mapped::To => Some(&mapped[..]),
            Mapped::Lost => None,
        };
        if let Some(subject) = subject {
            let matches = self.lookup(subject);
            let route = Route {
                subject,
                reply: publish.reply(),
                message: None,
            };
            self.deliver_all(&matches, &publish, route);
            if let Some(links) = self.links.clone() {
                self.cross_accounts(&links, &publish, subject);
            }
            self.system_request(&publish, subject);
        }
        self.mapper.buffer = mapped;
        self.leaf.origin = None;
        // Keep the list's room for the next message.
        if let Some(mut named) = self.leaf.named.take() {
            named.clear();
            self.leaf.named = Some(named);
        }
    }
}
