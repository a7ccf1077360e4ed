//! A client that stops answering PINGs is closed as stale; one that answers
//! stays.

use std::time::Duration;

use starling_tests::{RawClient, start_server};

#[tokio::test]
async fn unanswered_pings_close_the_connection() {
    let server = start_server(|o| {
        o.ping_interval = Duration::from_millis(300);
        o.ping_max = 1;
    })
    .await;
    let mut client = RawClient::connect(server.client_addr()).await;
    client.send(b"CONNECT {\"verbose\":false}\r\n").await;
    let (got, closed) = client.read_to_close(Duration::from_secs(5)).await;
    assert_eq!(got, b"PING\r\n-ERR 'Stale Connection'\r\n");
    assert!(closed);
}

#[tokio::test]
async fn answered_pings_keep_the_connection() {
    let server = start_server(|o| {
        o.ping_interval = Duration::from_millis(200);
        o.ping_max = 1;
    })
    .await;
    let mut client = RawClient::connect(server.client_addr()).await;
    client.send(b"CONNECT {\"verbose\":false}\r\n").await;
    for _ in 0..4 {
        let (got, closed) = client.read_until(b"PING\r\n", Duration::from_secs(5)).await;
        assert_eq!((got.as_slice(), closed), (&b"PING\r\n"[..], false));
        client.send(b"PONG\r\n").await;
    }
    client.send(b"PING\r\n").await;
    let (got, closed) = client.read_until(b"PONG\r\n", Duration::from_secs(5)).await;
    assert!(got.ends_with(b"PONG\r\n") && !closed);
}
