//! Request/reply through `_INBOX.` subjects, and the no-responders status.

use std::time::Duration;

use futures_util::StreamExt;
use starling_tests::{round_trip, start_server, url};

#[tokio::test]
async fn request_gets_the_reply() {
    let server = start_server(|_| {}).await;
    let service = async_nats::connect(url(&server)).await.unwrap();
    let mut requests = service.subscribe("echo.service").await.unwrap();
    round_trip(&service).await;
    let responder = tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let reply = request.reply.expect("a reply subject");
            assert!(reply.starts_with("_INBOX."));
            let mut answer = b"re: ".to_vec();
            answer.extend_from_slice(&request.payload);
            service.publish(reply, answer.into()).await.unwrap();
        }
    });
    let client = async_nats::connect(url(&server)).await.unwrap();
    for i in 0..50 {
        let response = client
            .request("echo.service", format!("{i}").into())
            .await
            .unwrap();
        assert_eq!(response.payload, format!("re: {i}").as_bytes());
    }
    responder.abort();
}

#[tokio::test]
async fn request_with_no_responders_fails_fast() {
    let server = start_server(|_| {}).await;
    let client = async_nats::connect(url(&server)).await.unwrap();
    let started = std::time::Instant::now();
    let error = client.request("nobody.home", "?".into()).await.unwrap_err();
    assert_eq!(
        error.kind(),
        async_nats::RequestErrorKind::NoResponders,
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered by the 503 status, not a timeout"
    );
}
