//! The embedding API: an axum application serves NATS over websocket on
//! its own route (`examples/embed-axum`), and real clients talk to the
//! broker through it, with clients on the broker's own TCP port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use starling_server::{Server, ServerOptions};
use starling_tests::{http_exchange, round_trip, url};
use starling_ws::handshake::HandshakePolicy;

/// The broker on a free loopback port, and the application on another.
async fn start(policy: HandshakePolicy) -> (Arc<Server>, SocketAddr) {
    let server = Server::start(ServerOptions {
        host: "127.0.0.1".to_owned(),
        port: 0,
        ..ServerOptions::default()
    })
    .await
    .expect("the broker starts");
    let server = Arc::new(server);
    let app = embed_axum::router(Arc::clone(&server), policy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let http = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    (server, http)
}

#[tokio::test]
async fn async_nats_over_the_applications_route_meets_tcp_clients() {
    let (server, http) = start(HandshakePolicy::default()).await;
    let embedded = async_nats::connect(format!("ws://{http}")).await.unwrap();
    let tcp = async_nats::connect(url(&server)).await.unwrap();
    assert_eq!(
        embedded.server_info().server_id,
        server.server_id(),
        "the INFO of the embedded broker"
    );

    let mut on_embedded = embedded.subscribe("greet.*").await.unwrap();
    let mut on_tcp = tcp.subscribe("reply.>").await.unwrap();
    round_trip(&embedded).await;
    round_trip(&tcp).await;
    tcp.publish("greet.ws", "from tcp".into()).await.unwrap();
    embedded
        .publish("reply.tcp", "from the route".into())
        .await
        .unwrap();
    let wait = Duration::from_secs(5);
    let got = tokio::time::timeout(wait, on_embedded.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got.payload[..], b"from tcp");
    let got = tokio::time::timeout(wait, on_tcp.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got.payload[..], b"from the route");

    // Request/reply across the two transports, with a 64 KB payload.
    let mut service = tcp.subscribe("svc").await.unwrap();
    round_trip(&tcp).await;
    let responder = tcp.clone();
    tokio::spawn(async move {
        while let Some(request) = service.next().await {
            if let Some(reply) = request.reply {
                let _ = responder.publish(reply, request.payload).await;
            }
        }
    });
    let payload = vec![b'x'; 64 * 1024];
    let answer = tokio::time::timeout(wait, embedded.request("svc", payload.clone().into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.payload.len(), payload.len());
    assert_eq!(server.connection_count(), 2);
}

#[tokio::test]
async fn the_route_refuses_as_nats_server_does() {
    let policy = HandshakePolicy {
        origins: starling_ws::origin::OriginPolicy::new(true, &[]).unwrap(),
        ..HandshakePolicy::default()
    };
    let (server, http) = start(policy).await;
    let request = format!(
        "GET /nats HTTP/1.1\r\nHost: {http}\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Origin: http://elsewhere.example\r\n\r\n"
    );
    let reply = String::from_utf8(http_exchange(http, request.as_bytes()).await).unwrap();
    assert!(reply.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{reply}");
    assert!(reply.ends_with("Forbidden\n"), "{reply}");
    let request = format!("GET /nats HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
    let reply = String::from_utf8(http_exchange(http, request.as_bytes()).await).unwrap();
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
    assert_eq!(server.connection_count(), 0);
}

#[tokio::test]
async fn shutdown_closes_connections_served_through_the_route() {
    let (server, http) = start(HandshakePolicy::default()).await;
    let client = async_nats::ConnectOptions::new()
        .max_reconnects(Some(0))
        .connect(format!("ws://{http}"))
        .await
        .unwrap();
    round_trip(&client).await;
    assert_eq!(server.connection_count(), 1);
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("shutdown waits for the embedded connection, and it closes");
    assert_eq!(server.connection_count(), 0);
}
