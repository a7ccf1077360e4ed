//! A subscription keeps only its own bytes: its subject, queue and sid are
//! copied out of the read buffer they arrived in (as nats-server copies
//! them), so a client cannot pin a large read buffer, up to max_payload,
//! with every subscription it makes.
//!
//! Memory is the process's resident set (this test file runs alone in its
//! process), measured after a PING/PONG fence.

use std::time::Duration;

use starling_tests::{RawClient, start_server};

/// The process's resident memory, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

const MB: usize = 1024 * 1024;

async fn fence(client: &mut RawClient) {
    client.send(b"PING\r\n").await;
    let (_, closed) = client
        .read_until(b"PONG\r\n", Duration::from_secs(60))
        .await;
    assert!(!closed, "the server kept the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_do_not_pin_read_buffers() {
    let server = start_server(|_| {}).await;
    let mut client = RawClient::connect(server.client_addr()).await;
    client
        .send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
        .await;
    fence(&mut client).await;

    // Interleaved: 1,000 times a 60 KB PUB, then a SUB that arrives in the
    // same read buffer. Kept slices would pin about 60 MB.
    let payload = vec![b'x'; 60 * 1024];
    let before = rss();
    for i in 0..1000 {
        let mut batch = format!("PUB big {}\r\n", payload.len()).into_bytes();
        batch.extend_from_slice(&payload);
        batch.extend_from_slice(format!("\r\nSUB pinned.{i} {i}\r\n").as_bytes());
        client.send(&batch).await;
        if i % 100 == 99 {
            fence(&mut client).await;
        }
    }
    fence(&mut client).await;
    let interleaved = rss().saturating_sub(before);
    assert!(
        interleaved < 24 * MB,
        "1,000 subscriptions after 60 KB publishes grew memory by {} MB (bound: 24 MB)",
        interleaved / MB
    );

    // The case: a 1 MB PUB, then 100,000 SUBs on one connection.
    let before = rss();
    let mut batch = format!("PUB big {MB}\r\n").into_bytes();
    batch.extend(std::iter::repeat_n(b'y', MB));
    batch.extend_from_slice(b"\r\n");
    client.send(&batch).await;
    for chunk in 0..100 {
        let mut subs = Vec::with_capacity(1000 * 24);
        for i in 0..1000 {
            let n = chunk * 1000 + i;
            subs.extend_from_slice(format!("SUB many.{n} s{n}\r\n").as_bytes());
        }
        client.send(&subs).await;
    }
    fence(&mut client).await;
    let many = rss().saturating_sub(before);
    assert!(
        many < 96 * MB,
        "100,000 subscriptions after a 1 MB publish grew memory by {} MB (bound: 96 MB)",
        many / MB
    );
    eprintln!(
        "memory growth: {} KB for 1,000 interleaved, {} KB for 100,000 after 1 MB",
        interleaved / 1024,
        many / 1024
    );
}
