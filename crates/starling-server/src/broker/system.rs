//! The system account as the rest of the broker sees it: which account it
//! is, and the queue of connection events (a client connected, a
//! connection closed) its service turns into `$SYS` messages.
//!
//! Connections only enqueue (never wait): the queue is bounded, and an
//! event that finds it full is dropped and counted rather than slowing a
//! connection down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::account::RemoteTrack;
use crate::account::latency::{Report, server_hash};
use crate::account::links::Responses;
use crate::account::{Account, Subscriber};

/// Events waiting for the system service, at most.
const QUEUE: usize = 8192;

/// Something the system service announces.
#[derive(Debug)]
pub(crate) enum SystemEvent {
    /// A client completed CONNECT in an account other than the global one.
    Connected(Arc<Subscriber>),
    /// A connection closed (its reason and final counters are set).
    Closed(Arc<Subscriber>),
    /// Service latency tracking.
    Latency(LatencyEvent),
}

/// What service latency tracking tells the system service.
#[derive(Debug)]
pub(crate) enum LatencyEvent {
    /// A measurement is done (or, for a service on another server, half
    /// done): publish it.
    Report(Box<Report>),
    /// A measured request is out on `reply` in `responses`: at `until`,
    /// or when the connection `requestor` closes, it ends unanswered.
    Watch {
        responses: Weak<Responses>,
        reply: Bytes,
        until: Instant,
        requestor: u64,
    },
    /// `responder` answered on `reply` at `at` a request measured for the
    /// requester's server: send it this server's half.
    Remote {
        responder: Arc<Subscriber>,
        reply: String,
        track: RemoteTrack,
        at: Instant,
    },
}

/// The system account and its event queue.
#[derive(Debug)]
pub(crate) struct SystemAccount {
    pub(crate) account: Arc<Account>,
    /// This server's hash (of its name) in tracked reply subjects and in
    /// `$SYS.LATENCY.M2.<hash>`.
    pub(crate) latency_hash: String,
    events: mpsc::Sender<SystemEvent>,
    /// The receiving end, until the service takes it.
    inbox: Mutex<Option<mpsc::Receiver<SystemEvent>>>,
    /// Events dropped because the queue was full.
    pub(crate) dropped: AtomicU64,
}

impl SystemAccount {
    pub(crate) fn new(account: Arc<Account>, server_name: &str) -> Self {
        let (events, inbox) = mpsc::channel(QUEUE);
        Self {
            account,
            latency_hash: server_hash(server_name),
            events,
            inbox: Mutex::new(Some(inbox)),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues `event` for the service, or drops it if the queue is full.
    pub(crate) fn notify(&self, event: SystemEvent) {
        if self.events.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("system event dropped: the system service is behind");
        }
    }

    /// The queue's receiving end (the service takes it once).
    pub(crate) fn take_inbox(&self) -> Option<mpsc::Receiver<SystemEvent>> {
        self.inbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}
