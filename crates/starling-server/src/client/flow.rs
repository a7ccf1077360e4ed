//! Flow control for a publisher: after a batch that left receivers
//! backlogged (past half their `max_pending`), the publisher's reader waits
//! until each has room again (under a quarter), so a receiver that reads
//! slower than a burst loses nothing, while its writer makes progress. A
//! receiver whose writer writes nothing for the stall timeout is cut off as
//! a slow consumer, so a stuck one holds its publishers that long at most.

use std::sync::Arc;
use std::time::Duration;

use crate::link::{CloseReason, Link};

/// Waits until every link in `backlog` has room, is closed, or is cut off
/// for making no progress within `stall`.
pub(crate) async fn wait_for_room(backlog: &[Arc<Link>], stall: Duration) {
    for link in backlog {
        loop {
            let drained = link.drained.notified();
            tokio::pin!(drained);
            // Registered before the check, so a write in between is seen.
            drained.as_mut().enable();
            if link.is_closed() || !link.is_backlogged() {
                break;
            }
            let progress = link.written_total();
            if tokio::time::timeout(stall, drained).await.is_err()
                && link.written_total() == progress
            {
                tracing::info!(
                    cid = link.cid,
                    "Slow Consumer Detected: no progress for {stall:?} with its publishers waiting"
                );
                link.close(CloseReason::SlowConsumerWriteDeadline);
                break;
            }
        }
    }
}
