//! The client port's TLS settings beyond its files, with certificates made
//! in the test: `verify_and_map` (users named by a certificate's e-mail,
//! DNS name or subject), `cipher_suites`, `curve_preferences` and
//! `pinned_certs`. Each session runs against Starling and, when it is
//! installed, against nats-server with the same file; they must agree.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, SanType,
};
use rustls::crypto::ring::{cipher_suite, default_provider, kx_group};
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use starling_tests::nats_server::NatsServer;
use starling_tests::start_from_config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A CA, the server's certificate and the clients', written to `dir`.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("starling-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name = DistinguishedName::new();
        ca.distinguished_name.push(DnType::CommonName, "Test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        let issue = |file: &str, sans: Vec<SanType>, dn: &[(DnType, &str)]| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.subject_alt_names = sans;
            params.distinguished_name = DistinguishedName::new();
            for (kind, value) in dn {
                params.distinguished_name.push(kind.clone(), *value);
            }
            let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
            std::fs::write(dir.join(format!("{file}-cert.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{file}-key.pem")), key.serialize_pem()).unwrap();
        };
        let dns = |name: &str| SanType::DnsName(name.try_into().unwrap());
        issue(
            "server",
            vec![dns("localhost"), SanType::IpAddress([127, 0, 0, 1].into())],
            &[(DnType::CommonName, "server")],
        );
        issue(
            "alice",
            vec![SanType::Rfc822Name("alice@example.com".try_into().unwrap())],
            &[(DnType::CommonName, "alice")],
        );
        issue(
            "bob",
            Vec::new(),
            &[
                (DnType::OrganizationName, "Acme"),
                (DnType::CommonName, "bob"),
            ],
        );
        issue(
            "carol",
            vec![dns("carol.example.com")],
            &[(DnType::CommonName, "carol")],
        );
        issue("dave", Vec::new(), &[(DnType::CommonName, "dave")]);
        Self { dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    /// The `tls` block for the server with `extra` settings.
    fn block(&self, extra: &str) -> String {
        format!(
            "tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\"\n{extra} }}\n",
            self.path("server-cert.pem"),
            self.path("server-key.pem"),
            self.path("ca.pem")
        )
    }

    fn client(
        &self,
        who: Option<&str>,
        provider: CryptoProvider,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(self.dir.join("ca.pem")).unwrap())
            .unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
        let config = match who {
            Some(who) => {
                let cert = CertificateDer::from_pem_file(self.dir.join(format!("{who}-cert.pem")))
                    .unwrap();
                let key =
                    PrivateKeyDer::from_pem_file(self.dir.join(format!("{who}-key.pem"))).unwrap();
                builder.with_client_auth_cert(vec![cert], key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        Arc::new(config)
    }

    fn all(&self, who: Option<&str>) -> Arc<rustls::ClientConfig> {
        self.client(who, default_provider(), rustls::ALL_VERSIONS)
    }
}

/// One session: INFO in plaintext, the handshake, CONNECT, `ops`, PING.
/// "refused" when the handshake fails or the server closes before
/// answering; else the negotiated suite and the lines it sent.
async fn session(addr: SocketAddr, config: Arc<rustls::ClientConfig>, ops: &str) -> String {
    let Some(mut tls) = handshake(addr, config).await else {
        return "refused".to_owned();
    };
    // TLS 1.3 suites are the client's and server's choice among all three
    // (Go and rustls order them differently): only TLS 1.2's are named.
    let suite = format!(
        "{:?}",
        tls.get_ref().1.negotiated_cipher_suite().unwrap().suite()
    );
    let suite = if suite.starts_with("TLS13_") {
        "TLS 1.3".to_owned()
    } else {
        suite
    };
    let hello = format!("CONNECT {{\"verbose\":false}}\r\n{ops}PING\r\n");
    if tls.write_all(hello.as_bytes()).await.is_err() {
        return "refused".to_owned();
    }
    let text = read_until(&mut tls, b"PONG\r\n").await;
    if text.is_empty() {
        "refused".to_owned()
    } else {
        format!("{suite}: {text}")
    }
}

/// The INFO in plaintext, then the TLS handshake; `None` if it fails.
async fn handshake(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> Option<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut byte = [0u8; 1];
    let mut info = Vec::new();
    while !info.ends_with(b"\r\n") {
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "INFO");
        info.push(byte[0]);
    }
    let name = ServerName::try_from("localhost").unwrap();
    let connecting = TlsConnector::from(config).connect(name, stream);
    tokio::time::timeout(Duration::from_secs(10), connecting)
        .await
        .ok()?
        .ok()
}

/// What arrives until `pattern` (or the close), lines joined by " | ".
async fn read_until(
    tls: &mut tokio_rustls::client::TlsStream<TcpStream>,
    pattern: &[u8],
) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(pattern.len()).any(|w| w == pattern) {
        match tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&seen)
        .trim_end()
        .replace("\r\n", " | ")
}

/// Runs `sessions` against Starling and, when it is installed,
/// nats-server with `config`.
async fn both(config: &str, sessions: impl AsyncFn(SocketAddr) -> Vec<String>) -> Vec<String> {
    let server = start_from_config(config).await;
    let ours = sessions(server.client_addr()).await;
    if NatsServer::installed() {
        let nats = NatsServer::start(config, &[]).await;
        assert_eq!(sessions(nats.addr).await, ours, "nats-server differs");
    }
    server.shutdown().await;
    ours
}

#[tokio::test]
async fn verify_and_map_takes_the_user_from_the_certificate() {
    let pki = Pki::new("map");
    let config = pki.block("verify_and_map: true")
        + "authorization { users: [\n\
             { user: \"alice@example.com\", permissions: { publish: \"alice.>\" } }\n\
             { user: \"CN=bob,O=Acme\", permissions: { publish: \"bob.>\" } }\n\
             { user: \"carol.example.com\", permissions: { publish: \"carol.>\" } }\n\
           ] }\n";
    let pki = &pki;
    let got = both(&config, async |addr| {
        let mut out = Vec::new();
        for who in ["alice", "bob", "carol"] {
            let ops = "PUB alice.x 0\r\n\r\nPUB bob.x 0\r\n\r\nPUB carol.x 0\r\n\r\n";
            out.push(session(addr, pki.all(Some(who)), ops).await);
        }
        out.push(session(addr, pki.all(Some("dave")), "").await);
        out.push(session(addr, pki.all(None), "").await);
        out
    })
    .await;
    let only = |allowed: &str| {
        let denied: Vec<String> = ["alice", "bob", "carol"]
            .iter()
            .filter(|u| **u != allowed)
            .map(|u| format!("-ERR 'Permissions Violation for Publish to \"{u}.x\"'"))
            .collect();
        format!("{} | PONG", denied.join(" | "))
    };
    for (line, user) in got.iter().zip(["alice", "bob", "carol"]) {
        assert!(line.ends_with(&only(user)), "{user}: {line}");
    }
    assert!(
        got[3].ends_with("-ERR 'Authorization Violation'"),
        "{}",
        got[3]
    );
    assert_eq!(got[4], "refused", "no certificate, no handshake");
}

fn narrowed(
    suites: &[SupportedCipherSuite],
    groups: &[&'static dyn SupportedKxGroup],
) -> CryptoProvider {
    CryptoProvider {
        cipher_suites: suites.to_vec(),
        kx_groups: groups.to_vec(),
        ..default_provider()
    }
}

#[tokio::test]
async fn cipher_suites_and_curves_narrow_the_handshake() {
    let pki = Pki::new("suites");
    let config = pki.block(
        "cipher_suites: [\"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\"]\n\
         curve_preferences: [\"CurveP384\"]",
    );
    let pki = &pki;
    let tls12 = [&rustls::version::TLS12];
    let got = both(&config, async |addr| {
        let all12 = pki.client(
            None,
            narrowed(&default_provider().cipher_suites, &[kx_group::SECP384R1]),
            &tls12,
        );
        let aes128 = pki.client(
            None,
            narrowed(
                &[cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256],
                &[kx_group::SECP384R1],
            ),
            &tls12,
        );
        let x25519 = pki.client(
            None,
            narrowed(&default_provider().cipher_suites, &[kx_group::X25519]),
            rustls::ALL_VERSIONS,
        );
        vec![
            session(addr, all12, "").await,
            session(addr, aes128, "").await,
            session(addr, x25519, "").await,
        ]
    })
    .await;
    assert_eq!(
        got,
        [
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: PONG",
            "refused",
            "refused",
        ]
    );
}

fn spki_sha256(pem: &Path) -> String {
    let der = CertificateDer::from_pem_file(pem).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.public_key().raw);
    data_encoding::HEXLOWER.encode(digest.as_ref())
}

#[tokio::test]
async fn pinned_certs_take_only_the_pinned_clients() {
    let pki = Pki::new("pins");
    let pin = spki_sha256(&pki.dir.join("alice-cert.pem"));
    let config = pki.block(&format!("verify: true\npinned_certs: [\"{pin}\"]"));
    let pki = &pki;
    let got = both(&config, async |addr| {
        vec![
            session(addr, pki.all(Some("alice")), "").await,
            session(addr, pki.all(Some("bob")), "").await,
        ]
    })
    .await;
    assert!(got[0].ends_with("PONG"), "{}", got[0]);
    assert_eq!(got[1], "refused");
}

#[tokio::test]
async fn allow_non_tls_takes_both_on_one_port() {
    let pki = Pki::new("mixed");
    let config = format!("allow_non_tls: true\n{}", pki.block(""));
    let server = start_from_config(&config).await;
    let mut plain = starling_tests::RawClient::connect(server.client_addr()).await;
    assert!(
        plain.info.contains("\"tls_available\":true"),
        "{}",
        plain.info
    );
    assert!(!plain.info.contains("tls_required"), "{}", plain.info);
    plain.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    let (bytes, _) = plain.read_until(b"PONG\r\n", Duration::from_secs(10)).await;
    assert!(bytes.ends_with(b"PONG\r\n"));
    let over_tls = session(server.client_addr(), pki.all(None), "").await;
    assert!(over_tls.ends_with("PONG"), "{over_tls}");
    server.shutdown().await;
}

#[tokio::test]
async fn connection_rate_limit_turns_handshakes_away() {
    let pki = Pki::new("rate");
    let server = start_from_config(&pki.block("connection_rate_limit: 1")).await;
    // Twenty at once in the same second: one handshake, the rest told.
    let mut throttled = 0;
    for _ in 0..20 {
        let mut raw = starling_tests::RawClient::connect(server.client_addr()).await;
        let (bytes, _) = raw.read_until(b"\r\n", Duration::from_millis(200)).await;
        if String::from_utf8_lossy(&bytes).contains("Connection throttling is active") {
            throttled += 1;
        }
    }
    assert!(throttled >= 1, "no connection was throttled");
    server.shutdown().await;
}

#[tokio::test]
async fn a_must_staple_certificate_needs_ocsp_off() {
    let dir = std::env::temp_dir().join(format!("starling-ocsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    // The TLS feature extension asking for status_request (5).
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 24],
            vec![0x30, 0x03, 0x02, 0x01, 0x05],
        ));
    let cert = params.self_signed(&key).unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let block = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
        cert_file.display(),
        key_file.display()
    );
    let root = starling_conf::parse_str(&block).unwrap();
    let options = starling_server::options_from_config(&root).unwrap().server;
    let error = starling_server::Server::check(&options)
        .unwrap_err()
        .to_string();
    assert!(error.contains("must-staple"), "{error}");
    let root = starling_conf::parse_str(&format!("ocsp: false\n{block}")).unwrap();
    let options = starling_server::options_from_config(&root).unwrap().server;
    starling_server::Server::check(&options).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A leaf over TLS to the leafnode port: its CONNECT without
/// credentials and an interest in `greet`; then a message a client of
/// account A publishes, and what reached the leaf.
async fn leaf_session(
    client: SocketAddr,
    leaf_port: u16,
    config: Arc<rustls::ClientConfig>,
) -> String {
    let addr = SocketAddr::from(([127, 0, 0, 1], leaf_port));
    let Some(mut tls) = handshake(addr, config).await else {
        return "refused".to_owned();
    };
    let hello = "CONNECT {\"tls_required\":true,\"name\":\"LEAF\"}\r\nLS+ greet\r\nPING\r\n";
    if tls.write_all(hello.as_bytes()).await.is_err() {
        return "refused".to_owned();
    }
    let answer = read_until(&mut tls, b"PONG\r\n").await;
    if !answer.ends_with("PONG") {
        return answer;
    }
    let mut publisher = starling_tests::RawClient::connect(client).await;
    let hello = "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nPUB greet 2\r\nhi\r\nPING\r\n";
    publisher.send(hello.as_bytes()).await;
    publisher
        .read_until(b"PONG\r\n", Duration::from_secs(10))
        .await;
    let got = read_until(&mut tls, b"hi\r\n").await;
    got.rsplit(" | ").take(2).collect::<Vec<_>>().join(" < ")
}

#[tokio::test]
async fn verify_and_map_on_the_leafnode_port_binds_the_certificates_user() {
    let pki = Pki::new("leafmap");
    let leaf_port = starling_tests::nats_server::free_port();
    let config = format!(
        "accounts {{ A {{ users: [{{ user: a, password: a }}] }} }}\n\
         leafnodes {{\n  listen: \"127.0.0.1:{leaf_port}\"\n  {}\n  \
         authorization {{ users: [{{ user: \"alice@example.com\", account: A }}] }}\n}}\n",
        pki.block("verify_and_map: true")
    );
    let sessions = async |addr| {
        vec![
            leaf_session(addr, leaf_port, pki.all(Some("alice"))).await,
            leaf_session(addr, leaf_port, pki.all(Some("dave"))).await,
        ]
    };
    // One after the other: both listen on the same leafnode port.
    let server = start_from_config(&config).await;
    let ours = sessions(server.client_addr()).await;
    server.shutdown().await;
    assert_eq!(
        ours,
        ["hi < LMSG greet 2", "-ERR 'Authorization Violation'"]
    );
    if NatsServer::installed() {
        let nats = NatsServer::start(&config, &[]).await;
        assert_eq!(sessions(nats.addr).await, ours, "nats-server differs");
    }
}

#[tokio::test]
async fn verify_and_map_maps_a_leaf_over_wss() {
    use starling_tests::crossing::{client, until_linked};
    let pki = Pki::new("wssmap");
    let server_tls = |extra: &str| {
        pki.block(extra)
            .replace("\"\n", "\", ")
            .trim_end()
            .to_owned()
    };
    let hub = start_from_config(&format!(
        "accounts {{ A {{ users: [{{ user: a, password: a }}] }} }}\n\
         websocket {{ port: -1, {} }}\n\
         leafnodes {{ port: -1, {}\n  authorization {{ users: [{{ user: \"alice@example.com\", account: A }}] }} }}\n",
        server_tls("verify: true"),
        server_tls("verify_and_map: true"),
    ))
    .await;
    let ws_port = hub.websocket_addr().unwrap().port();
    let spoke = start_from_config(&format!(
        "leafnodes {{ remotes [ {{ url: \"wss://localhost:{ws_port}\", tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\" }} }} ] }}\n",
        pki.path("alice-cert.pem"),
        pki.path("alice-key.pem"),
        pki.path("ca.pem"),
    ))
    .await;
    // The spoke's messages land in account A, alice's.
    let in_a = async_nats::ConnectOptions::with_user_and_password("a".into(), "a".into())
        .connect(format!("nats://{}", hub.client_addr()))
        .await
        .unwrap();
    let on_spoke = client(spoke.client_addr()).await;
    until_linked(&on_spoke, &in_a, "from.spoke").await;
    spoke.shutdown().await;
    hub.shutdown().await;
}
