//! Accounts: each one's subscriptions (a router of its own, so accounts
//! share no subjects), the interest every connection kind reads from them,
//! and the exports and imports that carry messages between them.
//!
//! A subscription enters and leaves an account only through
//! [`Account::subscribe`] and [`Account::unsubscribe`], which keep the
//! router and the [`Interest`] table in step, so a leaf or route link that
//! watches the interest sees every change, in order.

mod interest;
pub(crate) mod latency;
pub(crate) mod links;
mod settings;
mod subscriber;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use starling_router::{Matches, Router};

use crate::link::Counters;
pub(crate) use settings::Settings;

pub(crate) use interest::{
    Announce, Interest, InterestChange, InterestWatcher, Origin, OriginKind, PassedOn,
};
pub(crate) use subscriber::{RemoteTrack, Subscriber};

/// The name of the account clients are in when no account is configured
/// for them (nats-server's global account).
pub(crate) const GLOBAL_ACCOUNT: &str = "$G";

/// One account's subject space.
#[derive(Debug)]
pub(crate) struct Account {
    pub(crate) name: String,
    /// Its leaf-node loop-detection subject (`$LDS.` and 22 random
    /// characters), sent as interest on every leaf link of the account: a
    /// server that gets its own back has a cycle.
    pub(crate) loop_subject: Bytes,
    router: Router<SubHandle>,
    interest: Interest,
    /// What its closed connections sent and received, and how many of
    /// them were cut off as slow consumers (`/accstatz` adds the open
    /// ones).
    closed: Mutex<(Counters, u64)>,
    /// Its subject mappings and `limits` (a reload replaces them).
    pub(crate) settings: Settings,
    /// Clients and accepted leaf links bound to it, and leaf links alone
    /// (what `limits` counts).
    bound: (AtomicUsize, AtomicUsize),
}

/// One subscription, shared between its connection and its account's router.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub(crate) subscriber: Arc<Subscriber>,
    /// The account it is in.
    pub(crate) account: Arc<Account>,
    /// The filter, copied out of the read buffer it arrived in, so a live
    /// subscription never keeps that buffer (up to max_payload) alive.
    pub(crate) subject: Bytes,
    pub(crate) queue: Option<Bytes>,
    pub(crate) sid: Bytes,
    /// Auto-unsubscribe after this many messages; 0 means never.
    pub(crate) max: AtomicU64,
    pub(crate) delivered: AtomicU64,
    /// A leaf link's queue subscription: the members behind it (its
    /// `LS+` weight), its share in the choice among leaf links.
    pub(crate) weight: std::sync::atomic::AtomicU32,
    /// The leaf cluster it comes from (a leaf link's peer's, or a route's
    /// `LS+` origin).
    pub(crate) origin_cluster: Option<Bytes>,
}

/// The router's handle: a subscription compared by identity.
#[derive(Debug, Clone)]
pub(crate) struct SubHandle(pub(crate) Arc<Subscription>);

impl PartialEq for SubHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The subject was not a valid filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidSubject;

impl Account {
    #[cfg(test)]
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self::with_match_cache(name, true)
    }

    /// An account whose router keeps a match cache or not
    /// (`disable_sublist_cache`).
    pub(crate) fn with_match_cache(name: impl Into<String>, cached: bool) -> Self {
        let mut rng = crate::identity::FastRng::new();
        let loop_subject = format!("$LDS.{}{}", rng.token(), &rng.token()[..6]);
        Self {
            name: name.into(),
            loop_subject: Bytes::from(loop_subject),
            router: if cached {
                Router::new()
            } else {
                Router::without_cache()
            },
            interest: Interest::default(),
            closed: Mutex::new((Counters::default(), 0)),
            settings: Settings::default(),
            bound: (AtomicUsize::new(0), AtomicUsize::new(0)),
        }
    }

    /// The account with its `limits`.
    #[must_use]
    pub(crate) fn with_limits(self, limits: starling_auth::AccountLimits) -> Self {
        self.settings.set_limits(limits);
        self
    }

    /// Counts one more client (`leaf`: an accepted leaf link), unless the
    /// account's `max_connections` (for a leaf, `max_leafnodes` too) is
    /// reached: nats-server's `MaxTotalConnectionsReached`.
    pub(crate) fn admit(&self, leaf: bool) -> bool {
        let below = |limit: Option<u32>| {
            move |n: usize| match limit {
                Some(max) if n >= max as usize => None,
                _ => Some(n + 1),
            }
        };
        let (all, leafs) = &self.bound;
        let limits = self.settings.limits();
        if leaf
            && leafs
                .fetch_update(
                    Ordering::AcqRel,
                    Ordering::Acquire,
                    below(limits.max_leafnodes),
                )
                .is_err()
        {
            return false;
        }
        let admitted = leaf
            || all
                .fetch_update(
                    Ordering::AcqRel,
                    Ordering::Acquire,
                    below(limits.max_connections),
                )
                .is_ok();
        if leaf {
            all.fetch_add(1, Ordering::AcqRel);
        }
        admitted
    }

    /// A client (or accepted leaf link) counted by [`admit`](Self::admit) left.
    pub(crate) fn release(&self, leaf: bool) {
        let (all, leafs) = &self.bound;
        all.fetch_sub(1, Ordering::AcqRel);
        if leaf {
            leafs.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// The account with its subject mappings.
    #[must_use]
    pub(crate) fn with_mappings(self, mappings: Vec<starling_subject::Mapping>) -> Self {
        self.settings.set_mappings(mappings);
        self
    }

    /// A connection of this account closed with these counters.
    pub(crate) fn add_closed(&self, counters: &Counters, slow_consumer: bool) {
        let mut closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
        closed.0.add(counters);
        closed.1 += u64::from(slow_consumer);
    }

    /// The counters of its closed connections, and its slow consumers.
    pub(crate) fn closed_stats(&self) -> (Counters, u64) {
        *self.closed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything `subject` matches in this account.
    pub(crate) fn lookup(&self, subject: &[u8]) -> Arc<Matches<SubHandle>> {
        self.router.lookup(subject)
    }

    /// The router's counters (monitoring's sublist statistics).
    pub(crate) fn stats(&self) -> starling_router::RouterStats {
        self.router.stats()
    }

    /// Bumped by every subscription change (see [`Router::generation`]).
    pub(crate) fn generation(&self) -> u64 {
        self.router.generation()
    }

    /// Adds `sub` to the account: its router, then its interest.
    pub(crate) fn subscribe(&self, sub: &Arc<Subscription>) -> Result<(), InvalidSubject> {
        let handle = SubHandle(Arc::clone(sub));
        self.router
            .insert(sub.subject.clone(), sub.queue.clone(), handle)
            .map_err(|_| InvalidSubject)?;
        self.interest
            .add(&self.name, &sub.subject, sub.queue.as_ref(), sub.origin());
        Ok(())
    }

    /// Removes `sub` from the account (nothing if it was not there).
    pub(crate) fn unsubscribe(&self, sub: &Arc<Subscription>) {
        let handle = SubHandle(Arc::clone(sub));
        if self
            .router
            .remove(&sub.subject, sub.queue.as_deref(), &handle)
        {
            self.interest
                .remove(&self.name, &sub.subject, sub.queue.as_ref(), sub.origin());
        }
    }

    /// Starts sending this account's interest to `watcher`: what there is
    /// now, then every change, in order.
    pub(crate) fn watch_interest(&self, watcher: Arc<dyn InterestWatcher>) {
        self.interest.watch(&self.name, watcher);
    }

    /// Stops sending interest changes to `watcher`.
    pub(crate) fn unwatch_interest(&self, watcher: &Arc<dyn InterestWatcher>) {
        self.interest.unwatch(watcher);
    }
}

impl Subscription {
    /// Where it comes from, for interest propagation.
    pub(crate) fn origin(&self) -> Origin {
        Origin {
            cluster: self.origin_cluster.clone(),
            ..self.subscriber.origin()
        }
    }

    /// Removes the subscription from its account and its connection.
    pub(crate) fn remove(self: &Arc<Self>) {
        self.account.unsubscribe(self);
        self.subscriber.forget_subscription(self);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::link::Link;

    #[derive(Debug, Default)]
    struct Seen(Mutex<Vec<(String, i64)>>);

    impl InterestWatcher for Seen {
        fn changed(&self, change: &InterestChange) {
            let name = format!(
                "{}:{}",
                change.account,
                String::from_utf8_lossy(&change.subject)
            );
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((name, change.delta));
        }
    }

    fn subscription(
        account: &Arc<Account>,
        subject: &'static [u8],
        sid: &'static [u8],
    ) -> Arc<Subscription> {
        let link = Arc::new(Link::new(1, 1024));
        Arc::new(Subscription {
            subscriber: Arc::new(Subscriber::new(link)),
            account: Arc::clone(account),
            subject: Bytes::from_static(subject),
            queue: None,
            sid: Bytes::from_static(sid),
            max: 0.into(),
            delivered: 0.into(),
            weight: 1.into(),
            origin_cluster: None,
        })
    }

    #[test]
    fn subscriptions_move_router_and_interest_together() {
        let account = Arc::new(Account::new("A"));
        let first = subscription(&account, b"foo.*", b"1");
        account.subscribe(&first).expect("valid");
        let seen = Arc::new(Seen::default());
        account.watch_interest(Arc::clone(&seen) as Arc<dyn InterestWatcher>);
        let second = subscription(&account, b"bar", b"2");
        account.subscribe(&second).expect("valid");
        assert_eq!(account.lookup(b"bar").plain.len(), 1);
        account.unsubscribe(&second);
        account.unsubscribe(&second);
        assert!(account.lookup(b"bar").plain.is_empty());
        let bad = subscription(&account, b"foo..bar", b"3");
        assert_eq!(account.subscribe(&bad), Err(InvalidSubject));
        let seen = seen
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        // The snapshot (foo.*), then each change.
        let expected = [("A:foo.*", 1), ("A:bar", 1), ("A:bar", -1)];
        assert_eq!(seen, expected.map(|(s, d)| (s.to_owned(), d)));
    }
}
