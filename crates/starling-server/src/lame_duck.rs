//! Lame-duck mode, as nats-server's `lameDuckMode` (SIGUSR2, or
//! [`Server::lame_duck`] for an embedding): the client and websocket
//! listeners close, routes and clients are told (`ldm: true` in an INFO;
//! clients get only the other members' URLs from then on), and after
//! `lame_duck_grace_period` the clients are closed one by one, spread over
//! the rest of `lame_duck_duration` (at most a second apart), so they
//! reconnect elsewhere a few at a time. Then the server shuts down.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::Server;
use crate::identity::FastRng;
use crate::link::CloseReason;

/// The longest pause between two closes (nats-server's).
const MAX_PAUSE: Duration = Duration::from_secs(1);

impl Server {
    /// Enters lame-duck mode and returns once the server has shut down (at
    /// once when no client is connected). A second call, or one during
    /// shutdown, does nothing; a [`shutdown`](Self::shutdown) meanwhile
    /// ends it early.
    pub async fn lame_duck(&self) {
        let broker = std::sync::Arc::clone(self.broker());
        if broker.lame_duck.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(mut stopped) = broker.stopped.get().cloned() else {
            return;
        };
        if *stopped.borrow() {
            return;
        }
        tracing::info!("Entering lame duck mode, stop accepting new clients");
        self.stop_accepting().await;
        let clients = broker.connections();
        if clients.is_empty() {
            self.shutdown().await;
            return;
        }
        let options = &broker.options;
        let grace = options.lame_duck_grace_period;
        let (pause, batch) = pacing(
            options.lame_duck_duration.saturating_sub(grace),
            clients.len(),
        );
        if let Some(cluster) = &broker.cluster {
            cluster.push_lame_duck(&broker);
        }
        broker.push_lame_duck_info();
        tokio::select! {
            () = tokio::time::sleep(grace) => {}
            _ = stopped.changed() => return,
        }
        tracing::info!("Closing existing clients");
        let mut rng = FastRng::new();
        let last = clients.len() - 1;
        for (i, client) in clients.iter().enumerate() {
            client.link.close(CloseReason::ServerShutdown);
            if i == last {
                break;
            }
            if batch == 1 || i % batch == 0 {
                // At least half the pause, at random up to all of it.
                let nanos = u64::try_from(pause.as_nanos()).unwrap_or(u64::MAX).max(1);
                let wait = (rng.next_u64() % nanos).max(nanos / 2);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_nanos(wait)) => {}
                    _ = stopped.changed() => return,
                }
            }
        }
        self.shutdown().await;
    }
}

/// The pause between closes, and how many clients each pause follows
/// (nats-server's: `spread` over the clients, at most a second; with
/// more clients than nanoseconds, batches after the shortest pause).
fn pacing(spread: Duration, clients: usize) -> (Duration, usize) {
    let spread = if spread.is_zero() { MAX_PAUSE } else { spread };
    let nanos = spread.as_nanos();
    let count = clients.max(1) as u128;
    let pause = nanos / count;
    if pause < 1 {
        let batch = usize::try_from(count / nanos).unwrap_or(usize::MAX);
        return (Duration::from_nanos(1), batch.max(1));
    }
    let pause = Duration::from_nanos(u64::try_from(pause).unwrap_or(u64::MAX));
    (pause.min(MAX_PAUSE), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_are_paced_as_nats_server_paces_them() {
        let second = Duration::from_secs(1);
        // 2 minutes less a 10 s grace over 50 clients: 2.2 s, capped at 1 s.
        assert_eq!(pacing(Duration::from_secs(110), 50), (second, 1));
        // Over 1,000 clients: 110 ms apart.
        assert_eq!(
            pacing(Duration::from_secs(110), 1000),
            (Duration::from_millis(110), 1)
        );
        // Nothing left after the grace period: a second.
        assert_eq!(pacing(Duration::ZERO, 1), (second, 1));
        // More clients than nanoseconds: batches.
        assert_eq!(
            pacing(Duration::from_nanos(10), 100),
            (Duration::from_nanos(1), 10)
        );
    }
}
