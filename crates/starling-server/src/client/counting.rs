//! What a read batch adds to the connection's monitoring counters: counted
//! in the state as operations are handled, added to the link once at the
//! end of the batch (one atomic add per batch, not per message).

use super::state::ClientState;

/// This batch's share of the connection's counters.
#[derive(Debug, Default)]
pub(crate) struct BatchCounts {
    in_msgs: u64,
    in_bytes: u64,
    /// A publish or subscription change happened (monitoring's
    /// `last_activity`; PINGs do not count).
    active: bool,
}

impl ClientState {
    /// A message arrived from the client (counted whether or not it goes
    /// anywhere, as nats-server counts `in_msgs`): headers and payload.
    pub(super) fn count_publish(&mut self, size: usize) {
        self.batch.in_msgs += 1;
        self.batch.in_bytes += size as u64;
        self.batch.active = true;
    }

    /// A subscription changed: activity, for monitoring.
    pub(super) fn count_activity(&mut self) {
        self.batch.active = true;
    }

    /// Adds the batch's counts to the link.
    pub(super) fn flush_counts(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        if batch.in_msgs > 0 {
            self.me.link.count_in(batch.in_msgs, batch.in_bytes);
        }
        if batch.active {
            let at = self.broker.stats.since_start(self.now.instant);
            self.me.link.touched(at);
        }
    }
}
