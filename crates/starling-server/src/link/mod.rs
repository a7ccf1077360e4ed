//! A connection as other tasks see it, whatever its kind: the outbound
//! buffer publishers encode into, the close state, and the wake-ups of its
//! reader and writer.
//!
//! A publisher encodes straight into each receiver's [`Link`] outbound
//! buffer under a short mutex (never held across an `.await`), and wakes
//! that receiver's writer once per batch, not once per message.
//!
//! Flow control: a receiver whose backlog passes half of `max_pending` is
//! *backlogged*; the publisher that filled it waits (reads nothing more)
//! until the backlog is back under a quarter, as long as the receiver's
//! writer makes progress; one that makes none for the stall timeout is cut
//! off as a slow consumer. So a reader that is slower than a burst loses
//! nothing, and a stuck one holds its publishers for the stall timeout at
//! most. A buffer that would pass `max_pending` (several publishers at
//! once) still cuts its connection off at once.

mod close;
mod stats;

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::BytesMut;
use tokio::sync::Notify;

pub(crate) use close::CloseReason;
pub(crate) use stats::{ConnMeta, Counters};

/// The outcome of queueing bytes for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queued {
    /// Queued; the caller must wake the writer at the end of its batch.
    WakeWriter,
    /// Queued; a wake is already on its way.
    Ok,
    /// Refused: the connection is closing, or was just cut off as a slow
    /// consumer.
    Refused,
}

#[derive(Debug, Default)]
struct Outbound {
    buf: BytesMut,
    /// Bytes taken by the writer and not yet written.
    in_flight: usize,
    /// A wake has been promised (by a publisher's batch) or sent.
    wake_pending: bool,
    closing: Option<CloseReason>,
    /// Messages and bytes (headers and payload) queued for the peer, and
    /// when the last one was (nanoseconds since the broker started).
    out_msgs: u64,
    out_bytes: u64,
    last_delivery: u64,
    /// What was queued when the close began (monitoring shows a closed
    /// connection's pending bytes as of then, as nats-server does).
    pending_at_close: Option<u64>,
    /// The most bytes ever waiting at once (queued and in flight).
    high_water: u64,
}

/// A reload changed authentication: the client is checked again.
pub(crate) const RELOAD_AUTH: u8 = 1;
/// A reload changed `max_payload` or `max_control_line`: the parser takes
/// the new limits.
pub(crate) const RELOAD_LIMITS: u8 = 2;

/// A connection's outbound side and close state.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) cid: u64,
    max_pending: usize,
    outbound: Mutex<Outbound>,
    /// Wakes the writer: data queued or close requested.
    pub(crate) writer_wake: Notify,
    /// Wakes the reader when the connection must stop.
    pub(crate) reader_stop: Notify,
    /// What a configuration reload asks the client's reader to take up
    /// again ([`RELOAD_AUTH`], [`RELOAD_LIMITS`]); its reader is woken
    /// through `reader_stop`, so an idle reader waits on one notification,
    /// not two.
    pub(crate) reload: AtomicU8,
    /// Interrupts a write in progress when the backlog is discarded.
    pub(crate) writer_abort: Notify,
    closed: AtomicBool,
    /// The backlog passed the high-water mark and is not yet back under
    /// the low one.
    backlogged: AtomicBool,
    /// Bytes written so far: a backlogged link that does not add to it is
    /// stalled.
    written_total: AtomicU64,
    /// Wakes publishers waiting for room (bytes written, or closed).
    pub(crate) drained: Notify,
    /// Websocket control frames (pongs) to write ahead of the data.
    control: Mutex<BytesMut>,
    /// Messages and bytes the peer published (its reader adds per batch).
    in_msgs: AtomicU64,
    in_bytes: AtomicU64,
    /// Nanoseconds since the broker started of the last publish or
    /// subscription change (deliveries are stamped in the outbound state).
    last_activity: AtomicU64,
    meta: Mutex<ConnMeta>,
}

impl Link {
    /// Asks the reader to take up what a reload changed (bits of
    /// [`RELOAD_AUTH`] and [`RELOAD_LIMITS`]).
    pub(crate) fn ask_reload(&self, what: u8) {
        self.reload.fetch_or(what, Ordering::AcqRel);
        self.reader_stop.notify_one();
    }

    pub(crate) fn new(cid: u64, max_pending: usize) -> Self {
        Self {
            cid,
            max_pending,
            outbound: Mutex::new(Outbound::default()),
            writer_wake: Notify::new(),
            reader_stop: Notify::new(),
            reload: AtomicU8::new(0),
            writer_abort: Notify::new(),
            closed: AtomicBool::new(false),
            backlogged: AtomicBool::new(false),
            written_total: AtomicU64::new(0),
            drained: Notify::new(),
            control: Mutex::new(BytesMut::new()),
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            last_activity: AtomicU64::new(0),
            meta: Mutex::new(ConnMeta::default()),
        }
    }

    /// Queues a websocket control frame and wakes the writer.
    pub(crate) fn queue_control(&self, encode: impl FnOnce(&mut BytesMut)) {
        encode(&mut self.control.lock().unwrap_or_else(PoisonError::into_inner));
        self.writer_wake.notify_one();
    }

    /// For the writer: the control frames queued so far.
    pub(crate) fn take_control(&self, into: &mut BytesMut) {
        let mut control = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        into.extend_from_slice(&control);
        control.clear();
    }

    /// Appends what `encode` writes to the outbound buffer, unless that
    /// would pass `max_pending`, in which case the connection is cut off as
    /// a slow consumer and nothing is queued.
    pub(crate) fn queue(&self, encode: impl FnOnce(&mut BytesMut)) -> Queued {
        self.queue_counted(None, encode)
    }

    /// [`queue`](Self::queue), counting one message of `message.0` bytes
    /// delivered at `message.1` when it was queued.
    fn queue_counted(
        &self,
        message: Option<(usize, u64)>,
        encode: impl FnOnce(&mut BytesMut),
    ) -> Queued {
        let mut out = self.lock_outbound();
        if out.closing.is_some() {
            return Queued::Refused;
        }
        let before = out.buf.len();
        encode(&mut out.buf);
        let pending = out.buf.len() + out.in_flight;
        if pending > self.max_pending {
            out.buf.truncate(before);
            drop(out);
            tracing::info!(
                cid = self.cid,
                "Slow Consumer Detected: MaxPending of {} Exceeded",
                self.max_pending
            );
            self.close(CloseReason::SlowConsumerPendingBytes);
            return Queued::Refused;
        }
        if pending > self.max_pending / 2 {
            self.backlogged.store(true, Ordering::Relaxed);
        }
        out.high_water = out.high_water.max(pending as u64);
        if let Some((size, at)) = message {
            out.out_msgs += 1;
            out.out_bytes += size as u64;
            out.last_delivery = out.last_delivery.max(at);
        }
        if out.wake_pending {
            Queued::Ok
        } else {
            out.wake_pending = true;
            Queued::WakeWriter
        }
    }

    /// Starts closing the connection (the first reason wins). Reasons that
    /// explain themselves keep what is queued so it is written first.
    pub(crate) fn close(&self, reason: CloseReason) {
        {
            let mut out = self.lock_outbound();
            if out.closing.is_some() {
                return;
            }
            out.closing = Some(reason);
            out.pending_at_close = Some((out.buf.len() + out.in_flight) as u64);
            if !reason.flushes() {
                out.buf.clear();
            }
        }
        self.closed.store(true, Ordering::Release);
        if !reason.flushes() {
            self.writer_abort.notify_one();
        }
        self.writer_wake.notify_one();
        self.reader_stop.notify_one();
        self.drained.notify_waiters();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.lock_outbound().closing
    }

    /// For the writer: swaps the queued bytes into `spare` (which must be
    /// empty) and returns the close reason, if closing.
    pub(crate) fn take_outbound(&self, spare: &mut BytesMut) -> Option<CloseReason> {
        let mut out = self.lock_outbound();
        std::mem::swap(&mut out.buf, spare);
        out.in_flight = spare.len();
        out.wake_pending = false;
        out.closing
    }

    /// For the writer: the bytes taken last have been written.
    pub(crate) fn written(&self) {
        let pending = {
            let mut out = self.lock_outbound();
            out.in_flight = 0;
            out.buf.len()
        };
        if pending <= self.max_pending / 4 {
            self.backlogged.store(false, Ordering::Relaxed);
        }
        self.drained.notify_waiters();
    }

    /// For the writer: `bytes` reached the socket (part of a flush).
    pub(crate) fn progress(&self, bytes: usize) {
        self.written_total
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The backlog passed half of `max_pending` and has not come back
    /// under a quarter: publishers should wait for it.
    pub(crate) fn is_backlogged(&self) -> bool {
        self.backlogged.load(Ordering::Relaxed)
    }

    /// Bytes written to the peer so far.
    pub(crate) fn written_total(&self) -> u64 {
        self.written_total.load(Ordering::Relaxed)
    }

    // A panic while holding the lock leaves plain bytes that are still
    // consistent enough to close the connection, so poisoning is ignored
    // rather than spreading the panic to publishers.
    fn lock_outbound(&self) -> MutexGuard<'_, Outbound> {
        self.outbound.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_consumer_is_cut_off_at_max_pending() {
        let link = Link::new(1, 10);
        assert_eq!(
            link.queue(|b| b.extend_from_slice(b"12345")),
            Queued::WakeWriter
        );
        assert_eq!(link.queue(|b| b.extend_from_slice(b"12345")), Queued::Ok);
        assert_eq!(link.queue(|b| b.extend_from_slice(b"x")), Queued::Refused);
        assert_eq!(
            link.close_reason(),
            Some(CloseReason::SlowConsumerPendingBytes)
        );
        let mut spare = BytesMut::new();
        link.take_outbound(&mut spare);
        assert!(spare.is_empty(), "a slow consumer's backlog is discarded");
    }

    #[test]
    fn in_flight_bytes_count_against_max_pending() {
        let link = Link::new(1, 10);
        link.queue(|b| b.extend_from_slice(b"12345678"));
        let mut spare = BytesMut::new();
        link.take_outbound(&mut spare);
        assert_eq!(link.queue(|b| b.extend_from_slice(b"123")), Queued::Refused);
    }

    #[test]
    fn backlogged_past_half_until_drained_under_a_quarter() {
        let link = Link::new(1, 100);
        link.queue(|b| b.extend_from_slice(&[b'x'; 50]));
        assert!(!link.is_backlogged());
        link.queue(|b| b.extend_from_slice(&[b'x'; 10]));
        assert!(link.is_backlogged());
        let mut spare = BytesMut::new();
        link.take_outbound(&mut spare);
        link.queue(|b| b.extend_from_slice(&[b'x'; 30]));
        link.progress(60);
        link.written();
        assert!(link.is_backlogged(), "30 still waiting: above a quarter");
        assert_eq!(link.written_total(), 60);
        let mut spare = BytesMut::new();
        link.take_outbound(&mut spare);
        link.progress(30);
        link.written();
        assert!(!link.is_backlogged());
        assert_eq!(link.written_total(), 90);
    }

    #[test]
    fn error_closes_keep_the_queue() {
        let link = Link::new(1, 100);
        link.queue(|b| b.extend_from_slice(b"-ERR 'x'\r\n"));
        link.close(CloseReason::ParseError);
        link.close(CloseReason::ReadError);
        let mut spare = BytesMut::new();
        assert_eq!(
            link.take_outbound(&mut spare),
            Some(CloseReason::ParseError)
        );
        assert_eq!(&spare[..], b"-ERR 'x'\r\n");
    }
}
