//! Interest: which subjects (and queue groups, with how many members) an
//! account has subscribers for. Leaf and route links send it to their
//! peers (`LS+`/`RS+` with the queue weight), so a change is an event
//! their watchers receive in the order the changes happened.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

/// One change of an account's interest, or one entry of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InterestChange {
    pub(crate) account: String,
    pub(crate) subject: Bytes,
    /// The queue group, for queue subscriptions.
    pub(crate) queue: Option<Bytes>,
    /// Subscriptions now behind this subject (and group): for a queue
    /// group its weight; 0 means the interest is gone. Plain interest is
    /// reported only when it appears (1) and when it goes (0).
    pub(crate) count: u32,
}

/// Something that follows an account's interest (a leaf or route link).
pub(crate) trait InterestWatcher: Send + Sync + std::fmt::Debug {
    /// Called for each change, in order, under the interest table's lock:
    /// it must only queue what it sends.
    fn changed(&self, change: &InterestChange);
}

/// Subscription counts by subject and queue group, and their watchers.
#[derive(Debug, Default)]
pub(crate) struct Interest {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    counts: HashMap<(Bytes, Option<Bytes>), u32>,
    watchers: Vec<Arc<dyn InterestWatcher>>,
}

impl Interest {
    /// One more subscription on `subject` (in `queue`).
    pub(crate) fn add(&self, account: &str, subject: &Bytes, queue: Option<&Bytes>) {
        let mut inner = self.lock();
        let count = inner
            .counts
            .entry((subject.clone(), queue.cloned()))
            .or_insert(0);
        *count += 1;
        let count = *count;
        if queue.is_some() || count == 1 {
            inner.notify(account, subject, queue, count);
        }
    }

    /// One subscription fewer on `subject` (in `queue`).
    pub(crate) fn remove(&self, account: &str, subject: &Bytes, queue: Option<&Bytes>) {
        let mut inner = self.lock();
        let key = (subject.clone(), queue.cloned());
        let Some(count) = inner.counts.get_mut(&key) else {
            return;
        };
        *count -= 1;
        let count = *count;
        if count == 0 {
            inner.counts.remove(&key);
        }
        if queue.is_some() || count == 0 {
            inner.notify(account, subject, queue, count);
        }
    }

    /// Adds `watcher` and returns the current interest, in one step.
    pub(crate) fn watch(
        &self,
        account: &str,
        watcher: Arc<dyn InterestWatcher>,
    ) -> Vec<InterestChange> {
        let mut inner = self.lock();
        inner.watchers.push(watcher);
        inner
            .counts
            .iter()
            .map(|((subject, queue), &count)| InterestChange {
                account: account.to_owned(),
                subject: subject.clone(),
                queue: queue.clone(),
                count,
            })
            .collect()
    }

    // The table is plain counts: a panic while holding it leaves them
    // usable, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn notify(&self, account: &str, subject: &Bytes, queue: Option<&Bytes>, count: u32) {
        if self.watchers.is_empty() {
            return;
        }
        let change = InterestChange {
            account: account.to_owned(),
            subject: subject.clone(),
            queue: queue.cloned(),
            count,
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
    struct Log(Mutex<Vec<(String, Option<String>, u32)>>);

    impl InterestWatcher for Log {
        fn changed(&self, change: &InterestChange) {
            let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push((
                text(&change.subject),
                change.queue.as_ref().map(text),
                change.count,
            ));
        }
    }

    fn entry(subject: &str, queue: Option<&str>, count: u32) -> (String, Option<String>, u32) {
        (subject.to_owned(), queue.map(str::to_owned), count)
    }

    #[test]
    fn plain_interest_appears_and_goes_queues_carry_weight() {
        let interest = Interest::default();
        let (foo, q) = (Bytes::from_static(b"foo"), Bytes::from_static(b"q"));
        interest.add("A", &foo, None);
        let log = Arc::new(Log::default());
        let now = interest.watch("A", Arc::clone(&log) as Arc<dyn InterestWatcher>);
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].count, 1);
        interest.add("A", &foo, None);
        interest.add("A", &foo, Some(&q));
        interest.add("A", &foo, Some(&q));
        interest.remove("A", &foo, Some(&q));
        interest.remove("A", &foo, None);
        interest.remove("A", &foo, None);
        interest.remove("A", &foo, Some(&q));
        interest.remove("A", &foo, None);
        let seen = log.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(
            seen,
            vec![
                entry("foo", Some("q"), 1),
                entry("foo", Some("q"), 2),
                entry("foo", Some("q"), 1),
                entry("foo", None, 0),
                entry("foo", Some("q"), 0),
            ]
        );
    }
}
