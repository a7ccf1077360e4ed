//! The system account as the rest of the broker sees it: which account it
//! is, and the queue of connection events (a client connected, a
//! connection closed) its service turns into `$SYS` messages.
//!
//! Connections only enqueue (never wait): the queue is bounded, and an
//! event that finds it full is dropped and counted rather than slowing a
//! connection down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

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
}

/// The system account and its event queue.
#[derive(Debug)]
pub(crate) struct SystemAccount {
    pub(crate) account: Arc<Account>,
    events: mpsc::Sender<SystemEvent>,
    /// The receiving end, until the service takes it.
    inbox: Mutex<Option<mpsc::Receiver<SystemEvent>>>,
    /// Events dropped because the queue was full.
    pub(crate) dropped: AtomicU64,
}

impl SystemAccount {
    pub(crate) fn new(account: Arc<Account>) -> Self {
        let (events, inbox) = mpsc::channel(QUEUE);
        Self {
            account,
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
