//! Headers travel as HMSG to clients that support them, and are stripped
//! for clients that do not.

use std::time::Duration;

use futures_util::StreamExt;
use starling_tests::{RawClient, start_server, url};
use tokio::time::timeout;

#[tokio::test]
async fn headers_reach_a_header_aware_subscriber() {
    let server = start_server(|_| {}).await;
    let client = async_nats::connect(url(&server)).await.unwrap();
    let mut sub = client.subscribe("with.headers").await.unwrap();
    client.flush().await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Trace-Id", "abc123");
    headers.append("Multi", "one");
    headers.append("Multi", "two");
    client
        .publish_with_headers("with.headers", headers, "body".into())
        .await
        .unwrap();
    let msg = timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    let got = msg.headers.expect("headers");
    assert_eq!(got.get("Trace-Id").map(|v| v.as_str()), Some("abc123"));
    assert_eq!(
        got.get_all("Multi").map(|v| v.as_str()).collect::<Vec<_>>(),
        vec!["one", "two"]
    );
    assert_eq!(&msg.payload[..], b"body");
}

#[tokio::test]
async fn headers_are_stripped_for_clients_without_header_support() {
    let server = start_server(|_| {}).await;
    let mut old = RawClient::connect(server.client_addr()).await;
    old.send(b"CONNECT {\"verbose\":false}\r\nSUB foo 7\r\nPING\r\n")
        .await;
    old.read_until(b"PONG\r\n", Duration::from_secs(5)).await;
    let client = async_nats::connect(url(&server)).await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("A", "B");
    client
        .publish_with_headers("foo", headers, "hi".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let (got, _) = old.read_until(b"hi\r\n", Duration::from_secs(5)).await;
    assert_eq!(got, b"MSG foo 7 2\r\nhi\r\n");
}
