//! TLS on the client port: INFO in plaintext saying `tls_required`, then
//! the handshake the client starts, as with nats-server.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::time::Duration;

use futures_util::StreamExt;
use starling_tests::{RawClient, start_server};

/// A self-signed certificate for `localhost` and its key, written in `dir`.
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    (cert_file, key_file)
}

#[tokio::test]
async fn clients_connect_over_tls() {
    let dir = std::env::temp_dir().join(format!("starling-client-tls-{}", std::process::id()));
    let (cert_file, key_file) = self_signed(&dir);
    let server = start_server(|o| {
        o.tls = Some(starling_ws::TlsOptions {
            ..starling_ws::TlsOptions::new(cert_file.clone(), key_file.clone())
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

/// A TLS client that trusts `ca` and shows no certificate of its own.
fn tls_client(ca: &std::path::Path) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
}

#[tokio::test]
async fn monitoring_shows_tls_and_https_asks_no_client_certificate() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = std::env::temp_dir().join(format!("starling-https-{}", std::process::id()));
    let (cert_file, key_file) = self_signed(&dir);
    // Clients must show a certificate signed by the CA (the same one
    // here); the monitoring port must not ask for one.
    let server = start_server(|o| {
        o.tls = Some(starling_ws::TlsOptions {
            ca_file: Some(cert_file.clone()),
            verify: true,
            ..starling_ws::TlsOptions::new(cert_file.clone(), key_file.clone())
        });
        o.monitor.https_port = -1;
    })
    .await;
    let monitor = server.monitor_addr().unwrap();
    let tcp = tokio::net::TcpStream::connect(monitor).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tls_client(&cert_file).connect(name, tcp).await.unwrap();
    tls.write_all(b"GET /varz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    tls.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"tls_verify\": true"), "{reply}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn connz_names_the_tls_version_and_cipher_suite() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = std::env::temp_dir().join(format!("starling-tls-connz-{}", std::process::id()));
    let (cert_file, key_file) = self_signed(&dir);
    let server = start_server(|o| {
        o.tls = Some(starling_ws::TlsOptions {
            ..starling_ws::TlsOptions::new(cert_file.clone(), key_file.clone())
        });
        o.monitor.http_port = -1;
    })
    .await;
    let port = server.client_addr().port();
    let client = async_nats::ConnectOptions::new()
        .add_root_certificates(cert_file.clone())
        .require_tls(true)
        .connect(format!("tls://localhost:{port}"))
        .await
        .unwrap();
    starling_tests::round_trip(&client).await;
    let mut http = tokio::net::TcpStream::connect(server.monitor_addr().unwrap())
        .await
        .unwrap();
    http.write_all(b"GET /connz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    http.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply);
    let body = reply.split_once("\r\n\r\n").unwrap().1;
    let connz: serde_json::Value = serde_json::from_str(body).unwrap();
    let row = &connz["connections"][0];
    assert_eq!(row["tls_version"], "1.3", "{row}");
    let cipher = row["tls_cipher_suite"].as_str().unwrap();
    assert!(
        cipher.starts_with("TLS_") && !cipher.starts_with("TLS13"),
        "{cipher}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_silent_tls_peer_is_closed_at_the_blocks_timeout() {
    let dir = std::env::temp_dir().join(format!("starling-tls-timeout-{}", std::process::id()));
    let (cert_file, key_file) = self_signed(&dir);
    let config = format!(
        "tls {{ cert_file: {cert_file:?}, key_file: {key_file:?}, timeout: 3 }}\nhttp_port: -1\n"
    );
    let server = starling_tests::start_from_config(&config).await;
    // /varz says it, as nats-server's.
    let varz = starling_tests::http_exchange(
        server.monitor_addr().unwrap(),
        b"GET /varz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let varz = String::from_utf8_lossy(&varz);
    assert!(varz.contains("\"tls_timeout\": 3,"), "{varz}");
    // A peer that reads the INFO and never starts the handshake is closed
    // at the block's 3 s, not at the default 2 s (load can only delay it).
    let started = std::time::Instant::now();
    let mut silent = RawClient::connect(server.client_addr()).await;
    let (_, closed) = silent.read_to_close(Duration::from_secs(15)).await;
    assert!(closed, "still open after 15 s");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(2900),
        "closed after {waited:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
