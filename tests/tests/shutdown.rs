//! Shutdown closes the listener and writes what clients have pending before
//! closing them.

use std::time::Duration;

use starling_tests::{RawClient, start_server, url};
use tokio::net::TcpStream;

#[tokio::test]
async fn shutdown_flushes_pending_messages_then_closes() {
    let server = start_server(|_| {}).await;
    let addr = server.client_addr();
    let mut subscriber = RawClient::connect(addr).await;
    subscriber
        .send(b"CONNECT {\"verbose\":false}\r\nSUB data 1\r\nPING\r\n")
        .await;
    subscriber
        .read_until(b"PONG\r\n", Duration::from_secs(5))
        .await;

    // More than the socket buffers hold, so some stays queued in the server.
    const N: usize = 4000;
    let publisher = async_nats::connect(url(&server)).await.unwrap();
    let payload = bytes::Bytes::from(vec![b'p'; 1000]);
    for _ in 0..N {
        publisher.publish("data", payload.clone()).await.unwrap();
    }
    publisher.flush().await.unwrap();

    let shutdown = tokio::spawn(async move { server.shutdown().await });
    let (received, closed) = subscriber.read_to_close(Duration::from_secs(10)).await;
    assert!(closed, "connection closed at shutdown");
    let messages = received.windows(9).filter(|w| w == b"MSG data ").count();
    assert_eq!(
        messages, N,
        "every pending message written before the close"
    );
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}
