//! [`Router`]: the trie behind a read-write lock, with a bounded match cache.
//!
//! The cache maps a published subject to its shared [`Matches`]. nats-server
//! keeps a similar cache but invalidates every connection's copy on *any*
//! subscription change, so request/reply traffic (an inbox subscription per
//! request) keeps it empty. Here a change touches only the entries it
//! affects: a literal filter evicts its own subject, a wildcard filter the
//! cached subjects it matches. The cache is bounded (1024 entries, trimmed to
//! 512), because every distinct subject a client publishes could add one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use starling_subject::{SubjectError, has_wildcard, matches};

use crate::{Matches, SubscriptionTrie};

/// Entries kept in the match cache before it is trimmed.
const CACHE_MAX: usize = 1024;
/// Entries left after a trim.
const CACHE_TRIMMED: usize = CACHE_MAX / 2;

/// A thread-safe router: subscriptions in, shared match results out.
#[derive(Debug)]
pub struct Router<S> {
    inner: RwLock<Inner<S>>,
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    removes: AtomicU64,
    generation: AtomicU64,
    /// Off: every lookup walks the trie (nats-server's
    /// `disable_sublist_cache`).
    cached: bool,
}

#[derive(Debug)]
struct Inner<S> {
    trie: SubscriptionTrie<S>,
    cache: HashMap<Bytes, Arc<Matches<S>>>,
}

/// Counters for monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterStats {
    /// Subscriptions stored.
    pub subscriptions: usize,
    /// Entries in the match cache.
    pub cached_subjects: usize,
    /// Lookups answered from the cache.
    pub cache_hits: u64,
    /// Lookups that walked the trie.
    pub cache_misses: u64,
    /// Subscriptions added since the router was made.
    pub inserts: u64,
    /// Subscriptions removed since the router was made.
    pub removes: u64,
    /// The most receivers (plain subscriptions plus queue groups) one
    /// cached subject has.
    pub max_fanout: usize,
    /// Receivers summed over the cached subjects (divided by
    /// `cached_subjects`, the average fan-out).
    pub fanout_total: usize,
}

impl<S: Clone + PartialEq> Default for Router<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + PartialEq> Router<S> {
    /// An empty router.
    pub fn new() -> Self {
        Self {
            inner: RwLock::new(Inner {
                trie: SubscriptionTrie::new(),
                cache: HashMap::new(),
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            removes: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            cached: true,
        }
    }

    /// An empty router without the match cache: every lookup walks the
    /// trie (less memory for many distinct subjects, more work per
    /// message).
    pub fn without_cache() -> Self {
        Self {
            cached: false,
            ..Self::new()
        }
    }

    /// A counter bumped by every subscription change. A caller may keep a
    /// result of [`lookup`](Self::lookup) for as long as this is unchanged
    /// (a one-entry cache per publisher costs no lock at all).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Adds a subscription; see [`SubscriptionTrie::insert`].
    pub fn insert(
        &self,
        filter: impl Into<Bytes>,
        queue: Option<Bytes>,
        handle: S,
    ) -> Result<(), SubjectError> {
        let filter = filter.into();
        let mut inner = self.write();
        inner.trie.insert(&filter, queue.as_ref(), handle)?;
        inner.forget(&filter);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Removes a subscription; see [`SubscriptionTrie::remove`].
    pub fn remove(&self, filter: &[u8], queue: Option<&[u8]>, handle: &S) -> bool {
        let mut inner = self.write();
        let removed = inner.trie.remove(filter, queue, handle);
        if removed {
            inner.forget(filter);
            self.removes.fetch_add(1, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
        }
        removed
    }

    /// Everything `subject` matches, shared; from the cache when possible.
    pub fn lookup(&self, subject: &[u8]) -> Arc<Matches<S>> {
        if !self.cached {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Arc::new(self.read().trie.matches(subject));
        }
        if let Some(found) = self.read().cache.get(subject) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Arc::clone(found);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.write();
        if let Some(found) = inner.cache.get(subject) {
            return Arc::clone(found);
        }
        let result = Arc::new(inner.trie.matches(subject));
        if inner.cache.len() >= CACHE_MAX {
            // HashMap iteration order is randomly seeded, so this drops
            // arbitrary entries, like nats-server's random sweep.
            let keep: HashMap<_, _> = inner.cache.drain().take(CACHE_TRIMMED).collect();
            inner.cache = keep;
        }
        inner
            .cache
            .insert(Bytes::copy_from_slice(subject), Arc::clone(&result));
        result
    }

    /// Current counters.
    pub fn stats(&self) -> RouterStats {
        let inner = self.read();
        let fanouts = inner.cache.values().map(|m| m.plain.len() + m.queues.len());
        let (max_fanout, fanout_total) =
            fanouts.fold((0, 0), |(max, total), n| (max.max(n), total + n));
        RouterStats {
            subscriptions: inner.trie.len(),
            cached_subjects: inner.cache.len(),
            cache_hits: self.hits.load(Ordering::Relaxed),
            cache_misses: self.misses.load(Ordering::Relaxed),
            inserts: self.inserts.load(Ordering::Relaxed),
            removes: self.removes.load(Ordering::Relaxed),
            max_fanout,
            fanout_total,
        }
    }

    // A panic while holding the lock cannot leave the trie half-changed in a
    // way later readers could observe wrongly (each change is one call that
    // either completes or unwinds before touching the cache), so a poisoned
    // lock is still usable.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner<S>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner<S>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S> Inner<S> {
    /// Drops the cached results a change to `filter` could alter.
    fn forget(&mut self, filter: &[u8]) {
        if has_wildcard(filter) {
            self.cache.retain(|subject, _| !matches(filter, subject));
        } else {
            self.cache.remove(filter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_the_cache_lookups_walk_the_trie() {
        let router: Router<u32> = Router::without_cache();
        router.insert("a.*", None, 1).unwrap();
        assert_eq!(router.lookup(b"a.b").plain, vec![1]);
        assert_eq!(router.lookup(b"a.b").plain, vec![1]);
        router.insert("a.b", None, 2).unwrap();
        let mut both = router.lookup(b"a.b").plain.clone();
        both.sort_unstable();
        assert_eq!(both, vec![1, 2]);
        let stats = router.stats();
        assert_eq!((stats.cached_subjects, stats.cache_hits), (0, 0));
    }

    #[test]
    fn cache_is_patched_on_change() {
        let router: Router<u32> = Router::new();
        router.insert("a.b", None, 1).unwrap();
        assert_eq!(router.lookup(b"a.b").plain, vec![1]);
        assert_eq!(router.lookup(b"x.y").plain, Vec::<u32>::new());
        router.insert("a.*", None, 2).unwrap();
        assert_eq!(router.stats().cached_subjects, 1, "x.y stays cached");
        assert_eq!(router.lookup(b"a.b").plain, vec![1, 2]);
        let generation = router.generation();
        router.remove(b"a.b", None, &1);
        assert!(router.generation() > generation);
        assert_eq!(router.lookup(b"a.b").plain, vec![2]);
        let stats = router.stats();
        assert_eq!((stats.cache_hits, stats.cache_misses), (0, 4));
        router.lookup(b"x.y");
        let stats = router.stats();
        assert_eq!(stats.cache_hits, 1);
        assert_eq!((stats.inserts, stats.removes), (2, 1));
        // Cached: a.b (one receiver) and x.y (none).
        assert_eq!((stats.max_fanout, stats.fanout_total), (1, 1));
    }

    #[test]
    fn cache_stays_bounded() {
        let router: Router<u32> = Router::new();
        router.insert(">", None, 1).unwrap();
        for i in 0..5000 {
            router.lookup(format!("inbox.{i}").as_bytes());
        }
        assert!(router.stats().cached_subjects <= CACHE_MAX);
    }
}
