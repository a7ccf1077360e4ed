//! Flow control: a subscriber that reads, but slower than its publisher
//! writes, slows the publisher down and loses nothing (nats-server does the
//! same); `tests/tests/slow_consumer.rs` has the other half, a subscriber
//! that stops reading altogether and is cut off.

use std::time::Duration;

use starling_tests::{RawClient, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const N: usize = 20_000;
const PAYLOAD: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slower_reader_loses_nothing_and_slows_its_publisher() {
    // A small max_pending: the publisher gets about 80 times ahead of it.
    let server = start_server(|o| {
        o.max_pending = 256 * 1024;
        o.max_payload = 64 * 1024;
    })
    .await;
    let mut slow = RawClient::connect(server.client_addr()).await;
    slow.send(b"CONNECT {\"verbose\":false}\r\nSUB data 1\r\nPING\r\n")
        .await;
    let (pong, _) = slow.read_until(b"PONG\r\n", Duration::from_secs(5)).await;
    assert!(pong.ends_with(b"PONG\r\n"));

    let mut publisher = RawClient::connect(server.client_addr()).await;
    let publishing = tokio::spawn(async move {
        let mut batch = b"CONNECT {\"verbose\":false}\r\n".to_vec();
        let message = format!("PUB data {PAYLOAD}\r\n{}\r\n", "x".repeat(PAYLOAD));
        for i in 0..N {
            batch.extend_from_slice(message.as_bytes());
            if batch.len() > 64 * 1024 || i + 1 == N {
                publisher.stream().write_all(&batch).await.unwrap();
                batch.clear();
            }
        }
        publisher.send(b"PING\r\n").await;
        let (reply, closed) = publisher
            .read_until(b"PONG\r\n", Duration::from_secs(60))
            .await;
        assert!(
            !closed && reply.ends_with(b"PONG\r\n"),
            "the publisher is served"
        );
    });

    // The subscriber reads 16 KB at a time with a pause: about 16 MB/s at
    // most, well under what the publisher writes, until the publisher has
    // been answered (every message was queued by then)...
    let mut publishing = publishing;
    let mut received = Vec::with_capacity(N * (PAYLOAD + 20));
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = slow.stream().read(&mut chunk) => {
                let n = read.unwrap();
                assert!(n > 0, "the subscriber was cut off after {} bytes", received.len());
                received.extend_from_slice(&chunk[..n]);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            done = &mut publishing => {
                done.unwrap();
                break;
            }
        }
    }
    // ...then a PING/PONG fence: everything queued before it has arrived.
    slow.send(b"PING\r\n").await;
    let (rest, closed) = slow.read_until(b"PONG\r\n", Duration::from_secs(60)).await;
    assert!(!closed, "the subscriber was cut off");
    received.extend_from_slice(&rest);
    let line = format!("MSG data 1 {PAYLOAD}\r\n");
    let messages = received
        .windows(line.len())
        .filter(|w| *w == line.as_bytes())
        .count();
    assert_eq!(messages, N, "every message, once");
}
