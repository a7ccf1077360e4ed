//! What the broker keeps for monitoring beyond the open connections: the
//! clocks the counters are read against, the totals of connections that
//! closed, the slow-consumer count, the ring of the last closed
//! connections (nats-server's, 10,000 of them) and the requests served
//! per monitoring path.
//!
//! Open connections are read where they are (their [`Link`] counters);
//! a connection's counters join the closed totals when it leaves, so a
//! total is the closed ones plus a pass over the open ones, and nothing on
//! the message path adds to a shared counter.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::account::Subscriber;
use crate::link::{CloseReason, ConnMeta, Counters, Link};

/// Closed connections remembered (nats-server's `DEFAULT_MAX_CLOSED_CLIENTS`).
pub(crate) const CLOSED_KEPT: usize = 10_000;

/// One subscription as monitoring shows it.
#[derive(Debug, Clone)]
pub(crate) struct SubSnapshot {
    pub(crate) account: String,
    pub(crate) subject: String,
    pub(crate) queue: Option<String>,
    pub(crate) sid: String,
    pub(crate) msgs: u64,
    pub(crate) max: u64,
    pub(crate) cid: u64,
}

/// One connection as monitoring shows it, open or closed.
#[derive(Debug, Clone)]
pub(crate) struct ConnSnapshot {
    pub(crate) cid: u64,
    pub(crate) meta: ConnMeta,
    pub(crate) counters: Counters,
    /// Nanoseconds since the Unix epoch.
    pub(crate) last_activity_unix_nanos: u64,
    pub(crate) subs: Vec<SubSnapshot>,
    /// Closed connections: when, and why.
    pub(crate) stop_unix_nanos: Option<u64>,
    pub(crate) reason: Option<CloseReason>,
}

/// The broker's monitoring state.
#[derive(Debug)]
pub(crate) struct Stats {
    started: Instant,
    pub(crate) started_unix_nanos: u64,
    /// The closed connections' counters added up. Held while a connection
    /// leaves the registry and while totals are read, so a total never
    /// counts a connection twice or not at all.
    closed_totals: Mutex<Counters>,
    /// Connections closed since start.
    closed_count: AtomicU64,
    slow_consumers: AtomicU64,
    closed: Mutex<VecDeque<ConnSnapshot>>,
    http_requests: Mutex<BTreeMap<String, u64>>,
}

/// Nanoseconds since the Unix epoch, now.
pub(crate) fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Stats {
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            started_unix_nanos: unix_nanos_now(),
            closed_totals: Mutex::new(Counters::default()),
            closed_count: AtomicU64::new(0),
            slow_consumers: AtomicU64::new(0),
            closed: Mutex::new(VecDeque::new()),
            http_requests: Mutex::new(BTreeMap::new()),
        }
    }

    /// `at`, in nanoseconds since the broker started (how connections
    /// stamp their activity without reading the wall clock).
    pub(crate) fn since_start(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.started).as_nanos()).unwrap_or(u64::MAX)
    }

    /// A stamp of [`since_start`](Self::since_start) as Unix nanoseconds.
    pub(crate) fn to_unix_nanos(&self, since_start: u64) -> u64 {
        self.started_unix_nanos.saturating_add(since_start)
    }

    /// Every connection's counters added up: those that closed, and
    /// `open()`'s, read while no connection can move from one to the other.
    pub(crate) fn totals(&self, open: impl FnOnce() -> Vec<Arc<Subscriber>>) -> (Counters, usize) {
        let closed = self
            .closed_totals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut totals = *closed;
        let open = open();
        for connection in &open {
            totals.add(&connection.link.counters());
        }
        (totals, open.len())
    }

    /// Connections closed since start.
    pub(crate) fn closed_count(&self) -> u64 {
        self.closed_count.load(Ordering::Relaxed)
    }

    pub(crate) fn slow_consumers(&self) -> u64 {
        self.slow_consumers.load(Ordering::Relaxed)
    }

    /// The closed connections remembered, oldest first.
    pub(crate) fn closed_connections(&self) -> Vec<ConnSnapshot> {
        let closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
        closed.iter().cloned().collect()
    }

    /// Counts one request to a monitoring path.
    pub(crate) fn count_request(&self, path: &str) {
        let mut requests = self
            .http_requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *requests.entry(path.to_owned()).or_default() += 1;
    }

    pub(crate) fn http_requests(&self) -> BTreeMap<String, u64> {
        self.http_requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A connection as it is now.
    pub(crate) fn snapshot(&self, subscriber: &Subscriber) -> ConnSnapshot {
        let link: &Link = &subscriber.link;
        let subs = subscriber
            .subscriptions()
            .iter()
            .map(|sub| SubSnapshot {
                account: sub.account.name.clone(),
                subject: String::from_utf8_lossy(&sub.subject).into_owned(),
                queue: sub
                    .queue
                    .as_ref()
                    .map(|q| String::from_utf8_lossy(q).into_owned()),
                sid: String::from_utf8_lossy(&sub.sid).into_owned(),
                msgs: sub.delivered.load(Ordering::Relaxed),
                max: sub.max.load(Ordering::Relaxed),
                cid: link.cid,
            })
            .collect();
        let meta = link.meta().clone();
        let last = match link.last_activity() {
            // Nothing yet: the connection's start, as nats-server shows it.
            0 => meta.start_unix_nanos,
            at => self.to_unix_nanos(at),
        };
        ConnSnapshot {
            cid: link.cid,
            counters: link.counters(),
            last_activity_unix_nanos: last,
            meta,
            subs,
            stop_unix_nanos: None,
            reason: None,
        }
    }

    /// A connection left: `deregister` takes it out of the open ones in
    /// the same step as its counters join the totals, and it joins the
    /// ring of closed connections.
    /// `deregister` gets the connection's counters and whether it was
    /// cut off as a slow consumer.
    pub(crate) fn closed(&self, subscriber: &Subscriber, deregister: impl FnOnce(&Counters, bool)) {
        let mut snapshot = self.snapshot(subscriber);
        let reason = subscriber.link.close_reason();
        let slow = reason.is_some_and(CloseReason::is_slow_consumer);
        if slow {
            self.slow_consumers.fetch_add(1, Ordering::Relaxed);
        }
        {
            let mut totals = self
                .closed_totals
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            totals.add(&snapshot.counters);
            deregister(&snapshot.counters, slow);
        }
        self.closed_count.fetch_add(1, Ordering::Relaxed);
        snapshot.stop_unix_nanos = Some(unix_nanos_now());
        snapshot.reason = reason;
        let mut closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
        if closed.len() == CLOSED_KEPT {
            closed.pop_front();
        }
        closed.push_back(snapshot);
    }
}
