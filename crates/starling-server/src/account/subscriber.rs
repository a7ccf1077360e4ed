//! The receiving side of a connection: its subscriptions by sid, whether
//! it takes headers, and the permissions that still apply at delivery
//! (subscribe denies under a wildcard, `allow_responses`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use starling_auth::{Permissions, ResponsePermission};

use super::Subscription;
use super::interest::{Origin, OriginKind};
use crate::link::Link;

/// A connection that holds subscriptions.
#[derive(Debug)]
pub(crate) struct Subscriber {
    pub(crate) link: Arc<Link>,
    /// A client's, a leaf link's (and which role this server plays on
    /// it) or a route's.
    kind: OriginKind,
    /// On a route: the account its subscriptions are in (its deliveries
    /// are `RMSG <account> ...`).
    route_account: Option<Bytes>,
    subs: Mutex<HashMap<Bytes, Arc<Subscription>>>,
    /// Set at CONNECT: the client takes `HMSG`.
    headers: AtomicBool,
    /// Set at authentication when the client's subscribe permissions deny
    /// subjects: its wildcard subscriptions must not receive those.
    /// Subscribe denies a wildcard subscription's deliveries must respect
    /// (replaced by a configuration reload); the flag spares the lock.
    delivery_denies: (AtomicBool, RwLock<Option<Arc<Permissions>>>),
    /// With `allow_responses`: the reply subjects of messages it received,
    /// which it may then publish to (nats-server's `replies`).
    responses: OnceLock<ResponseTracker>,
    /// On a leaf link: the cluster of the server at the other end (its
    /// CONNECT's, or the hub's INFO's), what keeps a leaf cluster's own
    /// messages and interest from coming back into it.
    leaf_cluster: OnceLock<Bytes>,
    /// On a route: the peer said `lnoc` (it reads the leaf origin).
    lnoc: AtomicBool,
    /// Tagged requests from other servers' requesters it received for a
    /// latency-tracked service, by reply subject: its response is
    /// measured for the requester's server (nats-server's `rrTracking`).
    /// (With when it was last pruned.)
    remote_tracking: OnceLock<Mutex<(HashMap<Bytes, RemoteTrack>, Instant)>>,
}

/// A request measured for another server.
#[derive(Debug, Clone)]
pub(crate) struct RemoteTrack {
    /// The exporting account (this subscriber's).
    pub(crate) account: String,
    pub(crate) at: Instant,
    pub(crate) at_unix: u64,
    /// Forgotten after the export's response threshold.
    pub(crate) until: Instant,
}

/// Remote measurements past which expired ones are pruned (at each power
/// of two), and the most kept.
const TRACKING_PRUNE_AT: usize = 1024;
const TRACKING_MAX: usize = 65_536;

/// Reply subjects a client may answer, with `allow_responses`' limits.
#[derive(Debug)]
struct ResponseTracker {
    permission: ResponsePermission,
    replies: Mutex<HashMap<Vec<u8>, (u32, Instant)>>,
}

/// Tracked replies past which expired and used ones are pruned.
const REPLY_PRUNE_AT: usize = 4096;

impl Subscriber {
    pub(crate) fn new(link: Arc<Link>) -> Self {
        Self::of_kind(link, OriginKind::Local)
    }

    /// The receiving side of a connection of `kind` (a leaf link's).
    pub(crate) fn of_kind(link: Arc<Link>, kind: OriginKind) -> Self {
        Self {
            link,
            kind,
            route_account: None,
            subs: Mutex::new(HashMap::new()),
            headers: AtomicBool::new(false),
            delivery_denies: (AtomicBool::new(false), RwLock::new(None)),
            responses: OnceLock::new(),
            leaf_cluster: OnceLock::new(),
            lnoc: AtomicBool::new(false),
            remote_tracking: OnceLock::new(),
        }
    }

    /// The receiving side of a route in `account` (one per account that
    /// shares the route's link).
    pub(crate) fn for_route(link: Arc<Link>, account: Bytes) -> Self {
        Self {
            route_account: Some(account),
            ..Self::of_kind(link, OriginKind::Route)
        }
    }

    pub(crate) fn kind(&self) -> OriginKind {
        self.kind
    }

    /// On a route: the account, as its lines name it.
    pub(crate) fn route_account(&self) -> Option<&Bytes> {
        self.route_account.as_ref()
    }

    /// Where its subscriptions come from, for interest propagation (a
    /// subscription adds its leaf cluster).
    pub(crate) fn origin(&self) -> Origin {
        Origin {
            cid: self.link.cid,
            kind: self.kind,
            cluster: None,
        }
    }

    /// On a leaf link: the peer's cluster (empty names none).
    pub(crate) fn set_leaf_cluster(&self, cluster: &str) {
        if !cluster.is_empty() {
            let _ = self
                .leaf_cluster
                .set(Bytes::copy_from_slice(cluster.as_bytes()));
        }
    }

    /// On a leaf link: the peer's cluster, if it named one.
    pub(crate) fn leaf_cluster(&self) -> Option<&Bytes> {
        self.leaf_cluster.get()
    }

    /// On a route: whether the peer reads the leaf origin.
    pub(crate) fn set_lnoc(&self, lnoc: bool) {
        self.lnoc.store(lnoc, Ordering::Relaxed);
    }

    pub(crate) fn lnoc(&self) -> bool {
        self.lnoc.load(Ordering::Relaxed)
    }

    /// Whether it is a leaf link or a route (its deliveries are gathered
    /// per publish into one `LMSG`/`RMSG`).
    pub(crate) fn is_link(&self) -> bool {
        self.kind != OriginKind::Local
    }

    pub(crate) fn takes_headers(&self) -> bool {
        self.headers.load(Ordering::Relaxed)
    }

    pub(crate) fn set_headers(&self, headers: bool) {
        self.headers.store(headers, Ordering::Relaxed);
    }

    /// Starts tracking replies for `allow_responses`.
    pub(crate) fn track_responses(&self, permission: ResponsePermission) {
        let _ = self.responses.set(ResponseTracker {
            permission,
            replies: Mutex::new(HashMap::new()),
        });
    }

    /// At delivery: remembers a reply subject this client may answer.
    pub(crate) fn note_reply(&self, reply: &[u8], now: Instant) {
        let Some(tracker) = self.responses.get() else {
            return;
        };
        let mut replies = tracker
            .replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        replies.insert(reply.to_vec(), (0, now));
        if replies.len() > REPLY_PRUNE_AT {
            let ResponsePermission { max_msgs, expires } = tracker.permission;
            replies.retain(|_, (used, at)| *used < max_msgs && now.duration_since(*at) <= expires);
        }
    }

    /// At publish: may this client answer `subject` (and count it)?
    pub(crate) fn may_respond(&self, subject: &[u8], now: Instant) -> bool {
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
        if *used > max_msgs || now.duration_since(*at) > expires {
            replies.remove(subject);
            return false;
        }
        true
    }

    /// Measures its response to `reply` for the requester's server.
    pub(crate) fn track_remote(&self, reply: &[u8], track: RemoteTrack) {
        let mut map = self
            .remote_tracking
            .get_or_init(|| Mutex::new((HashMap::new(), track.at)))
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (entries, pruned_at) = &mut *map;
        let now = track.at;
        let len = entries.len();
        // At each power of two past the mark (O(1) per request amortized),
        // and at the cap once a second.
        let due = len.is_power_of_two()
            || (len >= TRACKING_MAX && now.duration_since(*pruned_at) >= Duration::from_secs(1));
        if len >= TRACKING_PRUNE_AT && due {
            entries.retain(|_, t| t.until > now);
            *pruned_at = now;
        }
        // A service that answers nothing cannot grow it without bound:
        // past the cap, requests go unmeasured.
        if entries.len() < TRACKING_MAX {
            entries.insert(Bytes::copy_from_slice(reply), track);
        }
    }

    /// At publish: the measurement its message on `subject` completes.
    pub(crate) fn remote_tracked(&self, subject: &[u8]) -> Option<RemoteTrack> {
        let map = self.remote_tracking.get()?;
        let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.0.is_empty() {
            return None;
        }
        map.0.remove(subject)
    }

    /// Records permissions whose subscribe denies apply at delivery.
    pub(crate) fn set_delivery_denies(&self, permissions: Option<&Arc<Permissions>>) {
        let denies = permissions.filter(|p| p.has_subscribe_denies()).cloned();
        let (flag, slot) = &self.delivery_denies;
        flag.store(denies.is_some(), Ordering::Release);
        *slot.write().unwrap_or_else(PoisonError::into_inner) = denies;
    }

    /// True when a message on `subject` must not reach `sub` (a wildcard
    /// subscription covering a denied subject).
    pub(crate) fn delivery_denied(&self, sub: &Subscription, subject: &[u8]) -> bool {
        let (flag, slot) = &self.delivery_denies;
        flag.load(Ordering::Acquire)
            && slot
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .is_some_and(|p| p.denies_delivery(&sub.subject, subject))
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

    /// Removes every subscription from its account (at close), breaking
    /// the subscriber ↔ subscription cycle.
    pub(crate) fn remove_all(&self) {
        let subs: Vec<Arc<Subscription>> = self.lock_subs().drain().map(|(_, s)| s).collect();
        for sub in subs {
            sub.account.unsubscribe(&sub);
        }
    }

    /// The first of this client's subscriptions whose filter matches `subject`.
    pub(crate) fn subscription_matching(&self, subject: &[u8]) -> Option<Arc<Subscription>> {
        self.lock_subs()
            .values()
            .find(|s| starling_subject::matches(&s.subject, subject))
            .cloned()
    }

    // A map of plain data: usable after a panic elsewhere, so poisoning is
    // ignored rather than spreading the panic to publishers.
    /// Its subscriptions now, in no particular order.
    pub(crate) fn subscriptions(&self) -> Vec<Arc<Subscription>> {
        self.lock_subs().values().cloned().collect()
    }

    fn lock_subs(&self) -> MutexGuard<'_, HashMap<Bytes, Arc<Subscription>>> {
        self.subs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
