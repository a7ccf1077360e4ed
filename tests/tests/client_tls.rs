//! TLS on the client port: INFO in plaintext saying `tls_required`, then
//! the handshake the client starts, as with nats-server.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::time::Duration;

use futures_util::StreamExt;
use starling_tests::{RawClient, start_server};

#[tokio::test]
async fn clients_connect_over_tls() {
    let dir = std::env::temp_dir().join(format!("starling-client-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let server = start_server(|o| {
        o.tls = Some(starling_ws::TlsOptions {
            cert_file: cert_file.clone(),
            key_file: key_file.clone(),
            ca_file: None,
            verify: false,
        });
    })
    .await;
    let port = server.client_addr().port();

    let raw = RawClient::connect(server.client_addr()).await;
    assert!(raw.info.contains("\"tls_required\":true"), "{}", raw.info);

    let client = async_nats::ConnectOptions::new()
        .add_root_certificates(cert_file.clone())
        .require_tls(true)
        .connect(format!("tls://localhost:{port}"))
        .await
        .unwrap();
    let mut sub = client.subscribe("secure").await.unwrap();
    client.publish("secure", "over tls".into()).await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&message.payload[..], b"over tls");

    // A client that answers in plaintext gets nothing back and is closed.
    let mut plain = RawClient::connect(server.client_addr()).await;
    plain.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    let (reply, closed) = plain.read_to_close(Duration::from_secs(5)).await;
    assert!(closed && !reply.windows(4).any(|w| w == b"PONG"));
    let _ = std::fs::remove_dir_all(&dir);
}
