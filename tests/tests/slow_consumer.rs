//! A subscriber that stops reading is cut off at max_pending, while the
//! publisher and a healthy subscriber on the same subject carry on at full
//! speed (nats-server would hold them up for up to write_deadline).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use starling_tests::{RawClient, round_trip, start_server, url};
use tokio::time::timeout;

#[tokio::test]
async fn slow_consumer_is_cut_off_and_nobody_else_waits() {
    // The defaults' write_deadline (10 s) is what nats-server would stall for.
    let server = start_server(|o| o.max_pending = 1024 * 1024).await;
    let mut stuck = RawClient::connect(server.client_addr()).await;
    stuck
        .send(b"CONNECT {\"verbose\":false}\r\nSUB firehose 1\r\nPING\r\n")
        .await;
    stuck.read_until(b"PONG\r\n", Duration::from_secs(5)).await;
    // From here on `stuck` reads nothing until the end.

    let healthy = async_nats::connect(url(&server)).await.unwrap();
    let mut healthy_sub = healthy.subscribe("firehose").await.unwrap();
    round_trip(&healthy).await;
    let publisher = async_nats::connect(url(&server)).await.unwrap();

    const N: usize = 20_000;
    let payload = bytes::Bytes::from(vec![b'x'; 1000]);
    let started = Instant::now();
    let receiver = tokio::spawn(async move {
        for _ in 0..N {
            timeout(Duration::from_secs(5), healthy_sub.next())
                .await
                .expect("no stall")
                .expect("open");
        }
        started.elapsed()
    });
    for _ in 0..N {
        publisher
            .publish("firehose", payload.clone())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    let published_in = started.elapsed();
    let received_in = receiver.await.unwrap();
    assert!(
        received_in < Duration::from_secs(5),
        "healthy subscriber got all {N} in {received_in:?} (publisher took {published_in:?})"
    );

    // The server let go of the stuck client while it still reads nothing
    // (no waiting out write_deadline on its full socket).
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.connection_count() > 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        server.connection_count(),
        2,
        "only the healthy subscriber and the publisher remain"
    );

    // What the stuck client can still read ends in EOF, and holds far fewer
    // than N messages.
    let (backlog, closed) = stuck.read_to_close(Duration::from_secs(5)).await;
    assert!(closed, "slow consumer disconnected");
    assert!(
        backlog.len() < N * 1000 / 2,
        "backlog discarded, got {} bytes",
        backlog.len()
    );
}
