//! Configuration reload applied to connected clients, compared session by
//! session with nats-server (reloaded by SIGHUP over a rewritten file):
//! a removed user is closed, a user whose permissions changed keeps its
//! connection with the new ones and loses the subscriptions they no longer
//! allow; an option that cannot be reloaded is refused by name and the
//! running configuration kept; the client port's certificate is replaced
//! for the next connections without touching the current ones.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::net::SocketAddr;
use std::time::Duration;

use starling_tests::nats_server::NatsServer;
use starling_tests::{RawClient, start_from_config};

const BEFORE: &str = r#"
authorization { users: [
  { user: alice, password: a, permissions: { publish: "a.>", subscribe: ["a.>", "b.>"] } }
  { user: bob, password: b }
] }
"#;

const AFTER: &str = r#"
authorization { users: [
  { user: alice, password: a, permissions: { publish: "b.>", subscribe: "b.>" } }
] }
"#;

const WAIT: Duration = Duration::from_secs(10);

async fn login(addr: SocketAddr, user: &str, pass: &str, ops: &str) -> RawClient {
    let mut raw = RawClient::connect(addr).await;
    let connect = format!(
        "CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n{ops}PING\r\n"
    );
    raw.send(connect.as_bytes()).await;
    let (bytes, _) = raw.read_until(b"PONG\r\n", WAIT).await;
    assert!(
        bytes.ends_with(b"PONG\r\n"),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    raw
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end()
        .replace("\r\n", " | ")
}

/// The two sessions before the reload; `reload` runs it; what each saw.
async fn sessions(addr: SocketAddr, reload: impl AsyncFnOnce()) -> Vec<String> {
    let mut alice = login(addr, "alice", "a", "SUB a.> 1\r\nSUB b.> 2\r\n").await;
    let mut bob = login(addr, "bob", "b", "").await;
    reload().await;
    let (revoked, _) = alice.read_until(b"(sid \"1\")'\r\n", WAIT).await;
    let (closed, gone) = bob.read_to_close(WAIT).await;
    assert!(gone, "bob is closed");
    alice
        .send(b"PUB a.1 0\r\n\r\nPUB b.1 0\r\n\r\nPING\r\n")
        .await;
    let (after, _) = alice.read_until(b"PONG\r\n", WAIT).await;
    vec![text(&revoked), text(&closed), text(&after)]
}

#[tokio::test]
async fn a_reload_applies_to_connected_clients_as_in_nats_server() {
    let server = start_from_config(BEFORE).await;
    let reloaded = |text: &str| {
        let root = starling_conf::parse_str(text).unwrap();
        let mut options = starling_server::options_from_config(&root).unwrap().server;
        (options.host, options.port) = ("127.0.0.1".into(), 0);
        options
    };
    let ours = sessions(server.client_addr(), async || {
        server.reload(reloaded(AFTER)).await.unwrap();
    })
    .await;
    assert_eq!(
        ours,
        [
            "-ERR 'Permissions Violation for Subscription to \"a.>\" (sid \"1\")'",
            "-ERR 'Authorization Violation'",
            // b.1 reaches alice's own subscription (echo is on).
            "-ERR 'Permissions Violation for Publish to \"a.1\"' | MSG b.1 2 0 |  | PONG",
        ]
    );
    // What cannot change is refused by name, and nothing else changes.
    let mut moved = reloaded(AFTER);
    moved.max_pending = 1 << 27;
    let error = server.reload(moved).await.unwrap_err().to_string();
    assert_eq!(
        error,
        "config reload not supported for max_pending: old=67108864, new=134217728"
    );
    if NatsServer::installed() {
        let nats = NatsServer::start(BEFORE, &[]).await;
        let mut theirs = sessions(nats.addr, async || nats.reload(AFTER)).await;
        // nats-server queues the error and closes at once: the line may
        // not reach bob there. Starling sends it, then closes.
        if theirs[1].is_empty() {
            theirs[1].clone_from(&ours[1]);
        }
        assert_eq!(theirs, ours);
    }
    server.shutdown().await;
}

/// A self-signed certificate for `localhost` in `dir`, named `name`.
fn self_signed(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_file, key_file) = (
        dir.join(format!("{name}-cert.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    (cert_file, key_file)
}

/// A client that trusts only `root`, or the refusal.
async fn tls_client(port: u16, root: &std::path::Path) -> Result<async_nats::Client, String> {
    let client = async_nats::ConnectOptions::new()
        .add_root_certificates(root.to_path_buf())
        .require_tls(true)
        .connect(format!("tls://localhost:{port}"))
        .await
        .map_err(|e| e.to_string())?;
    Ok(client)
}

#[tokio::test]
async fn a_reload_replaces_the_certificate_for_new_clients_only() {
    let dir = std::env::temp_dir().join(format!("starling-reload-tls-{}", std::process::id()));
    let (first_cert, first_key) = self_signed(&dir, "first");
    let (second_cert, second_key) = self_signed(&dir, "second");
    let tls = |cert: &std::path::Path, key: &std::path::Path| {
        format!(
            "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
            cert.display(),
            key.display()
        )
    };
    let server = start_from_config(&tls(&first_cert, &first_key)).await;
    let port = server.client_addr().port();
    let before = tls_client(port, &first_cert).await.unwrap();
    starling_tests::round_trip(&before).await;
    let root = starling_conf::parse_str(&tls(&second_cert, &second_key)).unwrap();
    let mut options = starling_server::options_from_config(&root).unwrap().server;
    (options.host, options.port) = ("127.0.0.1".into(), 0);
    server.reload(options).await.unwrap();
    let after = tls_client(port, &second_cert).await.unwrap();
    starling_tests::round_trip(&after).await;
    assert!(
        tls_client(port, &first_cert).await.is_err(),
        "the old certificate is gone"
    );
    // The client that came before keeps its session.
    starling_tests::round_trip(&before).await;
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether a TLS handshake with the leafnode port on `port` succeeds for
/// a leaf that trusts only `root` (INFO in plaintext first).
async fn leaf_handshake(port: u16, root: &std::path::Path) -> bool {
    handshake(port, root, true).await
}

/// Whether a TLS handshake on `port` succeeds for a peer that trusts
/// only `root`, after the INFO line when `info_first` (the cluster port
/// starts with the handshake).
async fn handshake(port: u16, root: &std::path::Path, info_first: bool) -> bool {
    use rustls_pki_types::pem::PemObject;
    use tokio::io::AsyncReadExt;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    let mut info = Vec::new();
    while info_first && !info.ends_with(b"\r\n") {
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "INFO");
        info.push(byte[0]);
    }
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from_pem_file(root).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let connecting =
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, stream);
    matches!(tokio::time::timeout(WAIT, connecting).await, Ok(Ok(_)))
}

#[tokio::test]
async fn a_reload_replaces_the_leafnode_ports_certificate() {
    let dir = std::env::temp_dir().join(format!("starling-reload-leaf-{}", std::process::id()));
    let (first_cert, first_key) = self_signed(&dir, "first");
    let (second_cert, second_key) = self_signed(&dir, "second");
    let leafnodes = |cert: &std::path::Path, key: &std::path::Path| {
        format!(
            "leafnodes {{ listen: \"127.0.0.1:-1\", tls {{ cert_file: \"{}\", key_file: \"{}\" }} }}\n",
            cert.display(),
            key.display()
        )
    };
    let server = start_from_config(&leafnodes(&first_cert, &first_key)).await;
    let port = server.leaf_addr().unwrap().port();
    assert!(leaf_handshake(port, &first_cert).await);
    let root = starling_conf::parse_str(&leafnodes(&second_cert, &second_key)).unwrap();
    let mut options = starling_server::options_from_config(&root).unwrap().server;
    (options.host, options.port) = ("127.0.0.1".into(), 0);
    server.reload(options).await.unwrap();
    assert!(
        leaf_handshake(port, &second_cert).await,
        "the new certificate"
    );
    assert!(
        !leaf_handshake(port, &first_cert).await,
        "the old one is gone"
    );
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_reload_replaces_the_cluster_ports_certificate() {
    let dir = std::env::temp_dir().join(format!("starling-reload-route-{}", std::process::id()));
    let (first_cert, first_key) = self_signed(&dir, "first");
    let (second_cert, second_key) = self_signed(&dir, "second");
    let cluster = |cert: &std::path::Path, key: &std::path::Path| {
        format!(
            "cluster {{ name: C, listen: \"127.0.0.1:-1\", tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\" }} }}\n",
            cert.display(),
            key.display(),
            cert.display()
        )
    };
    let server = start_from_config(&cluster(&first_cert, &first_key)).await;
    let port = server.route_addr().unwrap().port();
    assert!(handshake(port, &first_cert, false).await);
    let root = starling_conf::parse_str(&cluster(&second_cert, &second_key)).unwrap();
    let mut options = starling_server::options_from_config(&root).unwrap().server;
    (options.host, options.port) = ("127.0.0.1".into(), 0);
    server.reload(options).await.unwrap();
    assert!(
        handshake(port, &second_cert, false).await,
        "the new certificate"
    );
    assert!(
        !handshake(port, &first_cert, false).await,
        "the old one is gone"
    );
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
