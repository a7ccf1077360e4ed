//! Interest: which subjects (and queue groups, with how many members) an
//! account has subscribers for. Leaf and route links send it to their
//! peers (`LS+`/`RS+` with the queue weight), so a change is an event
//! their watchers receive in the order the changes happened.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

/// Where a subscription comes from, as interest propagation sees it: a
/// leaf link sends its peer the interest of some origins and not others
/// (never its own; a spoke only local and hub-side interest; nothing of
/// the peer's own leaf cluster).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    /// The connection holding the subscription.
    pub(crate) cid: u64,
    pub(crate) kind: OriginKind,
    /// The leaf cluster it comes from: a leaf link's peer's, or what a
    /// route's `LS+` named.
    pub(crate) cluster: Option<Bytes>,
}

/// The kind of connection a subscription belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum OriginKind {
    /// A client (or the server's own internal client).
    Local,
    /// A leaf link on which this server plays the hub (its peer's
    /// interest may go to every other leaf link).
    LeafHub,
    /// A leaf link on which this server plays the spoke (interest learnt
    /// from a hub, never sent to another hub).
    LeafSpoke,
    /// A route to another member of the cluster (interest learnt there
    /// goes to no other route, nor to a hub).
    Route,
}

/// One change of an account's interest, or one entry of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InterestChange {
    pub(crate) account: String,
    pub(crate) subject: Bytes,
    /// The queue group, for queue subscriptions.
    pub(crate) queue: Option<Bytes>,
    pub(crate) origin: Origin,
    /// Subscriptions added (positive) or removed (negative); a snapshot
    /// entry carries how many there are.
    pub(crate) delta: i64,
}

/// Something that follows an account's interest (a leaf or route link).
pub(crate) trait InterestWatcher: Send + Sync + std::fmt::Debug {
    /// Called for each change, in order, under the interest table's lock:
    /// it must only queue what it sends.
    fn changed(&self, change: &InterestChange);
}

/// What a link has told its peer: how many subscriptions it passes on
/// per subject and queue group. A change gives the count before and
/// after, from which the link decides what to send (`+` on 0→1 or on any
/// queue change, `-` on →0).
#[derive(Debug, Default)]
pub(crate) struct PassedOn(Mutex<HashMap<(Bytes, Option<Bytes>), u32>>);

impl PassedOn {
    /// Counts one subscription that never goes (a route's standing
    /// interest for imports).
    pub(crate) fn hold(&self, subject: Bytes) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry((subject, None)).or_insert(0) += 1;
    }

    /// Applies `change`; (before, after). Called under the interest
    /// table's lock, so changes arrive in order.
    pub(crate) fn apply(&self, change: &InterestChange) -> (u32, u32) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (change.subject.clone(), change.queue.clone());
        let before = counts.get(&key).copied().unwrap_or(0);
        let after = u32::try_from((i64::from(before) + change.delta).max(0)).unwrap_or(u32::MAX);
        if after == 0 {
            counts.remove(&key);
        } else {
            counts.insert(key, after);
        }
        (before, after)
    }
}

/// What a link tells its peer after a change it passes on: `+` (with the
/// queue group's new weight) or `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Announce {
    Sub(Option<u32>),
    Unsub,
}

impl PassedOn {
    /// Applies `change`; what to send, if anything: `+` on 0→1 or on any
    /// change of a queue group's count, `-` on →0.
    pub(crate) fn announce(&self, change: &InterestChange) -> Option<Announce> {
        let (before, after) = self.apply(change);
        match (change.queue.is_some(), before, after) {
            (false, 0, 1..) => Some(Announce::Sub(None)),
            (true, _, 1..) if after != before => Some(Announce::Sub(Some(after))),
            (_, 1.., 0) => Some(Announce::Unsub),
            _ => None,
        }
    }
}

type Key = (Bytes, Option<Bytes>, Origin);

/// Subscription counts by subject, queue group and origin, and their
/// watchers.
#[derive(Debug, Default)]
pub(crate) struct Interest {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    counts: HashMap<Key, u32>,
    watchers: Vec<Arc<dyn InterestWatcher>>,
}

impl Interest {
    /// One more subscription on `subject` (in `queue`) from `origin`.
    pub(crate) fn add(
        &self,
        account: &str,
        subject: &Bytes,
        queue: Option<&Bytes>,
        origin: Origin,
    ) {
        let mut inner = self.lock();
        *inner
            .counts
            .entry((subject.clone(), queue.cloned(), origin.clone()))
            .or_insert(0) += 1;
        inner.notify(account, subject, queue, origin, 1);
    }

    /// One subscription fewer on `subject` (in `queue`) from `origin`.
    pub(crate) fn remove(
        &self,
        account: &str,
        subject: &Bytes,
        queue: Option<&Bytes>,
        origin: Origin,
    ) {
        let mut inner = self.lock();
        let key = (subject.clone(), queue.cloned(), origin.clone());
        let Some(count) = inner.counts.get_mut(&key) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            inner.counts.remove(&key);
        }
        inner.notify(account, subject, queue, origin, -1);
    }

    /// Adds `watcher`, first telling it the current interest (one change
    /// per subject, queue group and origin, with its count), in one step:
    /// no change is missed or seen twice, and none comes before the
    /// snapshot.
    pub(crate) fn watch(&self, account: &str, watcher: Arc<dyn InterestWatcher>) {
        let mut inner = self.lock();
        for ((subject, queue, origin), &count) in &inner.counts {
            watcher.changed(&InterestChange {
                account: account.to_owned(),
                subject: subject.clone(),
                queue: queue.clone(),
                origin: origin.clone(),
                delta: i64::from(count),
            });
        }
        inner.watchers.push(watcher);
    }

    /// Stops sending changes to `watcher` (a closed link).
    pub(crate) fn unwatch(&self, watcher: &Arc<dyn InterestWatcher>) {
        self.lock().watchers.retain(|w| !Arc::ptr_eq(w, watcher));
    }

    // The table is plain counts: a panic while holding it leaves them
    // usable, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn notify(
        &self,
        account: &str,
        subject: &Bytes,
        queue: Option<&Bytes>,
        origin: Origin,
        delta: i64,
    ) {
        if self.watchers.is_empty() {
            return;
        }
        let change = InterestChange {
            account: account.to_owned(),
            subject: subject.clone(),
            queue: queue.cloned(),
            origin,
            delta,
        };
        for watcher in &self.watchers {
            watcher.changed(&change);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Log(Mutex<Vec<(String, u64, i64)>>);

    impl InterestWatcher for Log {
        fn changed(&self, change: &InterestChange) {
            let subject = String::from_utf8_lossy(&change.subject).into_owned();
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push((
                subject,
                change.origin.cid,
                change.delta,
            ));
        }
    }

    #[test]
    fn every_change_is_told_with_its_origin() {
        let interest = Interest::default();
        let foo = Bytes::from_static(b"foo");
        let local = Origin {
            cid: 1,
            kind: OriginKind::Local,
            cluster: None,
        };
        let leaf = Origin {
            cid: 2,
            kind: OriginKind::LeafHub,
            cluster: None,
        };
        interest.add("A", &foo, None, local.clone());
        interest.add("A", &foo, None, local.clone());
        let log = Arc::new(Log::default());
        let watcher = Arc::clone(&log) as Arc<dyn InterestWatcher>;
        interest.watch("A", Arc::clone(&watcher));
        interest.add("A", &foo, None, leaf.clone());
        interest.remove("A", &foo, None, local.clone());
        interest.remove("A", &foo, None, Origin { cid: 9, ..local });
        interest.unwatch(&watcher);
        interest.remove("A", &foo, None, leaf);
        let seen = log.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        // The snapshot (two local subscriptions), then each change.
        let expected = [("foo", 1, 2), ("foo", 2, 1), ("foo", 1, -1)];
        assert_eq!(seen, expected.map(|(s, c, d)| (s.to_owned(), c, d)));
    }
}
