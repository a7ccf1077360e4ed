//! What a leaf link's and a route's reader do between batches, written
//! once for both: wait for bytes, the stop signal or the next PING; a
//! peer that leaves `ping_max` PINGs unanswered is stale.

use std::pin::Pin;

use starling_proto::encode;
use tokio::sync::futures::Notified;
use tokio::time::{Instant, sleep_until};

use super::source::Source;
use super::{Conn, FIRST_PING};
use crate::broker::Live;
use crate::link::CloseReason;

/// The PINGs this side sent and the peer has not answered.
#[derive(Debug)]
pub(crate) struct Pings {
    next: Instant,
    out: u32,
    sent_at: Option<std::time::Instant>,
}

/// What a wait ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    /// Bytes to decode.
    Read,
    /// A PING went out; wait again.
    Pinged,
    /// The link is over (closed, stopped, stale or unreadable).
    Ended,
}

impl Pings {
    pub(crate) fn new() -> Self {
        Self {
            next: Instant::now() + FIRST_PING,
            out: 0,
            sent_at: None,
        }
    }

    /// The peer's PONG: nothing outstanding; the round trip, if timed.
    pub(crate) fn pong(&mut self, now: std::time::Instant) -> Option<std::time::Duration> {
        self.out = 0;
        self.sent_at
            .take()
            .map(|sent| now.saturating_duration_since(sent))
    }
}

impl<S: Source> Conn<S> {
    /// Waits for bytes (into `buf`), `stop`, or the next PING.
    pub(crate) async fn wait(
        &mut self,
        mut stop: Pin<&mut Notified<'_>>,
        pings: &mut Pings,
        live: &Live,
    ) -> Waited {
        tokio::select! {
            biased;
            read = self.source.fill(&mut self.buf) => match read {
                Ok(0) => {
                    self.link.close(CloseReason::ClientClosed);
                    Waited::Ended
                }
                Ok(_) => Waited::Read,
                Err(_) => {
                    self.link.close(CloseReason::ReadError);
                    Waited::Ended
                }
            },
            () = &mut stop => Waited::Ended,
            () = sleep_until(pings.next) => {
                if pings.out >= live.ping_max() {
                    self.send_err("Stale Connection");
                    self.link.close(CloseReason::StaleConnection);
                    return Waited::Ended;
                }
                pings.out += 1;
                pings.sent_at.get_or_insert_with(std::time::Instant::now);
                self.send(encode::PING);
                pings.next = Instant::now() + live.ping_interval();
                Waited::Pinged
            }
        }
    }
}
