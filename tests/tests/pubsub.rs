//! Publish/subscribe with async-nats: plain subjects, wildcards, UNSUB max,
//! echo, and the 1 MB payload limit.

use std::time::Duration;

use futures_util::StreamExt;
use starling_tests::{round_trip, start_server, url};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    timeout(WAIT, sub.next())
        .await
        .expect("a message in time")
        .expect("subscription open")
}

async fn nothing_more(sub: &mut async_nats::Subscriber) {
    assert!(
        timeout(Duration::from_millis(200), sub.next())
            .await
            .is_err(),
        "unexpected message"
    );
}

#[tokio::test]
async fn publish_reaches_subscriber() {
    let server = start_server(|_| {}).await;
    let client = async_nats::connect(url(&server)).await.unwrap();
    let mut sub = client.subscribe("greet.joe").await.unwrap();
    client.publish("greet.joe", "hello".into()).await.unwrap();
    let msg = next(&mut sub).await;
    assert_eq!(
        (msg.subject.as_str(), &msg.payload[..]),
        ("greet.joe", &b"hello"[..])
    );
}

#[tokio::test]
async fn wildcards_match_as_nats_does() {
    let server = start_server(|_| {}).await;
    let client = async_nats::connect(url(&server)).await.unwrap();
    let mut star = client.subscribe("orders.*").await.unwrap();
    let mut tail = client.subscribe("orders.>").await.unwrap();
    let mut middle = client.subscribe("*.eu.created").await.unwrap();
    client.flush().await.unwrap();
    for subject in ["orders.new", "orders.eu.created", "orders"] {
        client.publish(subject, "x".into()).await.unwrap();
    }
    assert_eq!(next(&mut star).await.subject.as_str(), "orders.new");
    assert_eq!(next(&mut tail).await.subject.as_str(), "orders.new");
    assert_eq!(next(&mut tail).await.subject.as_str(), "orders.eu.created");
    assert_eq!(
        next(&mut middle).await.subject.as_str(),
        "orders.eu.created"
    );
    nothing_more(&mut star).await;
    nothing_more(&mut tail).await;
}

#[tokio::test]
async fn unsubscribe_after_max_messages() {
    let server = start_server(|_| {}).await;
    let client = async_nats::connect(url(&server)).await.unwrap();
    let mut sub = client.subscribe("limited").await.unwrap();
    sub.unsubscribe_after(2).await.unwrap();
    for i in 0..5 {
        client
            .publish("limited", format!("{i}").into())
            .await
            .unwrap();
    }
    assert_eq!(&next(&mut sub).await.payload[..], b"0");
    assert_eq!(&next(&mut sub).await.payload[..], b"1");
    assert!(
        timeout(WAIT, sub.next()).await.unwrap().is_none(),
        "the subscription ends after 2"
    );
}

#[tokio::test]
async fn one_megabyte_payload_is_delivered() {
    let server = start_server(|_| {}).await;
    let client = async_nats::connect(url(&server)).await.unwrap();
    assert_eq!(client.server_info().max_payload, 1024 * 1024);
    let mut sub = client.subscribe("big").await.unwrap();
    let payload: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    client.publish("big", payload.clone().into()).await.unwrap();
    assert_eq!(next(&mut sub).await.payload.to_vec(), payload);
}

#[tokio::test]
async fn payload_over_max_payload_is_refused() {
    let server = start_server(|o| o.max_payload = 1024).await;
    // async-nats checks max_payload itself, so speak raw protocol here.
    let mut raw = starling_tests::RawClient::connect(server.client_addr()).await;
    assert!(raw.info.contains("\"max_payload\":1024"));
    raw.send(b"CONNECT {\"verbose\":false}\r\nPUB foo 1025\r\n")
        .await;
    let (reply, closed) = raw.read_to_close(WAIT).await;
    assert_eq!(reply, b"-ERR 'Maximum Payload Violation'\r\n");
    assert!(closed);
    let client = async_nats::connect(url(&server)).await.unwrap();
    let error = client
        .publish("foo", vec![0u8; 1025].into())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("payload"), "{error}");
}

#[tokio::test]
async fn echo_false_skips_own_messages() {
    let server = start_server(|_| {}).await;
    let quiet = async_nats::ConnectOptions::new()
        .no_echo()
        .connect(url(&server))
        .await
        .unwrap();
    let other = async_nats::connect(url(&server)).await.unwrap();
    let mut own = quiet.subscribe("echo").await.unwrap();
    // quiet gets nothing of its own, so prove its SUB is in place through
    // the other client: quiet's later publish arrives after its SUB.
    let mut probe = other.subscribe("probe").await.unwrap();
    round_trip(&other).await;
    quiet.publish("probe", "after sub".into()).await.unwrap();
    next(&mut probe).await;
    quiet.publish("echo", "mine".into()).await.unwrap();
    other.publish("echo", "theirs".into()).await.unwrap();
    assert_eq!(&next(&mut own).await.payload[..], b"theirs");
    nothing_more(&mut own).await;
}
