//! What monitoring reads of a connection: its counters and its
//! description, kept where the message path already writes, so reading
//! them never stops it.
//!
//! Inbound counters are the connection's own reader's (added once per read
//! batch); outbound ones sit in the outbound buffer's state and are added
//! by publishers under the lock they take anyway to queue the message. The
//! description is written at accept, CONNECT, authentication and each
//! measured round trip: rare, under its own small lock.

use std::sync::atomic::Ordering;
use std::sync::{MutexGuard, PoisonError};
use std::time::Duration;

use super::{Link, Queued};

/// A connection as monitoring describes it (nats-server's `ConnInfo`
/// fields that are not counters).
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnMeta {
    /// `"nats"` (TCP) or `"websocket"`.
    pub(crate) transport: &'static str,
    pub(crate) ip: String,
    pub(crate) port: u16,
    /// Accepted at, in nanoseconds since the Unix epoch.
    pub(crate) start_unix_nanos: u64,
    pub(crate) name: String,
    pub(crate) lang: String,
    pub(crate) version: String,
    /// The authenticated user (name, nkey or JWT subject).
    pub(crate) user: Option<String>,
    /// The account, once authenticated.
    pub(crate) account: Option<String>,
    /// Counted in its account's connections (see `Account::admit`).
    pub(crate) admitted: bool,
    pub(crate) tls_version: Option<String>,
    pub(crate) tls_cipher: Option<String>,
    /// The last round trip of a server PING.
    pub(crate) rtt: Option<Duration>,
    /// Takes INFO updates (CONNECT `protocol` 1, and its first PONG sent).
    pub(crate) async_info: bool,
}

/// A connection's message counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) in_msgs: u64,
    pub(crate) in_bytes: u64,
    pub(crate) out_msgs: u64,
    pub(crate) out_bytes: u64,
    /// Bytes queued and not yet written.
    pub(crate) pending: u64,
    /// The most bytes ever waiting to be written at once.
    pub(crate) high_water: u64,
}

impl Counters {
    /// Adds another connection's counters (pending bytes excepted).
    pub(crate) fn add(&mut self, other: &Self) {
        self.in_msgs += other.in_msgs;
        self.in_bytes += other.in_bytes;
        self.out_msgs += other.out_msgs;
        self.out_bytes += other.out_bytes;
    }
}

impl Link {
    /// Queues one message of `size` bytes (headers and payload, as counted
    /// by nats-server), delivered at `at` (nanoseconds since the broker
    /// started): counted under the lock the queueing takes anyway.
    pub(crate) fn queue_message(
        &self,
        size: usize,
        at: u64,
        encode: impl FnOnce(&mut bytes::BytesMut),
    ) -> Queued {
        self.queue_counted(Some((size, at)), encode)
    }

    /// For the reader, once per batch: what the client published.
    pub(crate) fn count_in(&self, msgs: u64, bytes: u64) {
        self.in_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.in_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// For the reader, once per batch: the connection published or
    /// (un)subscribed at `at` (nanoseconds since the broker started).
    pub(crate) fn touched(&self, at: u64) {
        self.last_activity.fetch_max(at, Ordering::Relaxed);
    }

    /// Nanoseconds since the broker started of the last activity: the
    /// reader's, or the last delivery's.
    pub(crate) fn last_activity(&self) -> u64 {
        let delivered = self.lock_outbound().last_delivery;
        self.last_activity.load(Ordering::Relaxed).max(delivered)
    }

    /// The counters now.
    pub(crate) fn counters(&self) -> Counters {
        let out = self.lock_outbound();
        Counters {
            in_msgs: self.in_msgs.load(Ordering::Relaxed),
            in_bytes: self.in_bytes.load(Ordering::Relaxed),
            out_msgs: out.out_msgs,
            out_bytes: out.out_bytes,
            pending: out
                .pending_at_close
                .unwrap_or((out.buf.len() + out.in_flight) as u64),
            high_water: out.high_water,
        }
    }

    /// The description, to read or to change.
    pub(crate) fn meta(&self) -> MutexGuard<'_, ConnMeta> {
        self.meta.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
