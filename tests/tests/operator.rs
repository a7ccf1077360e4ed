//! Operator mode end to end with creds made by nats-io tooling
//! (tests/fixtures/operator, recipe in make.mjs): users over TCP and
//! websocket, signing keys, connection types, bearer JWTs through the
//! websocket jwt_cookie, expiry, revocation, unknown signers, and
//! permissions from the claims.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::path::PathBuf;
use std::time::Duration;

use bytes::BytesMut;
use starling_tests::{
    RawClient, raw_upgrade, read_frames, round_trip_ok, start_from_config, url, ws_url,
};
use starling_ws::encode_client_frame;
use starling_ws::frame::OpCode;
use tokio::io::AsyncWriteExt;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/operator")
        .join(name)
}

async fn server() -> starling_server::Server {
    start_from_config(&std::fs::read_to_string(fixture("server.conf")).unwrap()).await
}

async fn connects_with(creds: &str, url: String) -> bool {
    let options =
        async_nats::ConnectOptions::with_credentials_file(fixture(&format!("{creds}.creds")))
            .await
            .unwrap();
    match options
        .max_reconnects(Some(0))
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
    {
        Ok(client) => round_trip_ok(&client).await,
        Err(_) => false,
    }
}

#[tokio::test]
async fn creds_over_tcp_and_websocket() {
    let server = server().await;
    let table = [
        ("plain", true, true),
        ("signed_by_signing_key", true, true),
        ("websocket_only", false, true),
        ("standard_only", true, false),
        ("bearer", true, true),
        ("expired", false, false),
        ("revoked", false, false),
        ("unknown_signer", false, false),
    ];
    for (creds, over_tcp, over_ws) in table {
        assert_eq!(
            connects_with(creds, url(&server)).await,
            over_tcp,
            "{creds} over TCP"
        );
        assert_eq!(
            connects_with(creds, ws_url(&server)).await,
            over_ws,
            "{creds} over websocket"
        );
    }
}

fn jwt_of(creds: &str) -> String {
    let text = std::fs::read_to_string(fixture(&format!("{creds}.creds"))).unwrap();
    starling_auth_jwt(&text)
}

/// The JWT between the creds file's JWT markers.
fn starling_auth_jwt(creds: &str) -> String {
    let start = creds.find("-----BEGIN NATS USER JWT-----").unwrap()
        + "-----BEGIN NATS USER JWT-----".len();
    let end = creds.find("------END NATS USER JWT------").unwrap();
    creds[start..end].trim().to_owned()
}

/// CONNECT without credentials over websocket, with `cookie`; what comes back.
async fn websocket_connect_with_cookie(server: &starling_server::Server, cookie: &str) -> Vec<u8> {
    let (mut stream, _) = raw_upgrade(
        server.websocket_addr().unwrap(),
        &format!("Cookie: {cookie}\r\n"),
    )
    .await;
    let (info, _) = read_frames(&mut stream, false, b" \r\n").await;
    assert!(String::from_utf8_lossy(&info).contains("\"nonce\":\""));
    let mut frame = BytesMut::new();
    encode_client_frame(
        &mut frame,
        OpCode::Binary,
        true,
        false,
        b"CONNECT {\"verbose\":false}\r\nPING\r\n",
        [4, 4, 4, 4],
    );
    stream.write_all(&frame).await.unwrap();
    read_frames(&mut stream, false, b"\r\n").await.0
}

#[tokio::test]
async fn websocket_jwt_cookie() {
    let server = server().await;
    let bearer = jwt_of("bearer");
    assert_eq!(
        websocket_connect_with_cookie(&server, &format!("jwt={bearer}")).await,
        b"PONG\r\n"
    );
    // A JWT that is not a bearer token needs the nonce signed: refused.
    let plain = jwt_of("plain");
    assert_eq!(
        websocket_connect_with_cookie(&server, &format!("jwt={plain}")).await,
        b"-ERR 'Authorization Violation'\r\n"
    );
    // A cookie with another name is not read.
    assert_eq!(
        websocket_connect_with_cookie(&server, &format!("session={bearer}")).await,
        b"-ERR 'Authorization Violation'\r\n"
    );
}

#[tokio::test]
async fn permissions_come_from_the_claims() {
    let server = server().await;
    let mut raw = connect_raw_with_creds(
        &server,
        "publish_deny",
        "PUB secret.x 1\r\nx\r\nPUB open.x 1\r\nx\r\nPING\r\n",
    )
    .await;
    let (reply, _) = raw.read_until(b"PONG\r\n", Duration::from_secs(5)).await;
    assert_eq!(
        reply,
        b"-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\nPONG\r\n"
    );
}

/// Connects a raw client with a creds file: the JWT, and the INFO nonce
/// signed with the seed by the nats-io nkeys crate; then sends `then`.
async fn connect_raw_with_creds(
    server: &starling_server::Server,
    creds: &str,
    then: &str,
) -> RawClient {
    let text = std::fs::read_to_string(fixture(&format!("{creds}.creds"))).unwrap();
    let jwt = starling_auth_jwt(&text);
    let seed = text.lines().find(|l| l.starts_with("SU")).unwrap().trim();
    let key = nkeys::KeyPair::from_seed(seed).unwrap();
    let mut raw = RawClient::connect(server.client_addr()).await;
    let nonce = raw
        .info
        .split("\"nonce\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let sig = data_encoding::BASE64URL_NOPAD.encode(&key.sign(nonce.as_bytes()).unwrap());
    raw.send(
        format!("CONNECT {{\"verbose\":false,\"jwt\":\"{jwt}\",\"sig\":\"{sig}\"}}\r\n{then}")
            .as_bytes(),
    )
    .await;
    raw
}

#[tokio::test]
async fn accounts_from_jwts_are_isolated() {
    let server = server().await;
    let app = async_nats::ConnectOptions::with_credentials_file(fixture("plain.creds"))
        .await
        .unwrap()
        .connect(url(&server))
        .await
        .unwrap();
    let other =
        async_nats::ConnectOptions::with_credentials_file(fixture("signed_by_signing_key.creds"))
            .await
            .unwrap()
            .connect(url(&server))
            .await
            .unwrap();
    // Both users are in the APP account: they see each other.
    let mut sub = app.subscribe("inside").await.unwrap();
    starling_tests::round_trip(&app).await;
    other.publish("inside", "hi".into()).await.unwrap();
    let got = tokio::time::timeout(
        Duration::from_secs(5),
        futures_util::StreamExt::next(&mut sub),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(&got.payload[..], b"hi");
}

#[tokio::test]
async fn user_limits_from_the_claims() {
    // limited.creds: subs 2, payload 16.
    let server = server().await;
    let ops = "SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPUB a 16\r\n0123456789abcdef\r\nPING\r\n";
    let mut raw = connect_raw_with_creds(&server, "limited", ops).await;
    let (reply, _) = raw.read_until(b"PONG\r\n", Duration::from_secs(5)).await;
    assert_eq!(
        reply,
        b"-ERR 'maximum subscriptions exceeded'\r\nMSG a 1 16\r\n0123456789abcdef\r\nPONG\r\n"
    );
    raw.send(b"PUB a 17\r\n").await;
    let (reply, closed) = raw.read_to_close(Duration::from_secs(5)).await;
    assert_eq!(
        (reply.as_slice(), closed),
        (&b"-ERR 'Maximum Payload Violation'\r\n"[..], true)
    );
}

#[tokio::test]
async fn operator_jwt_from_a_file() {
    let conf = std::fs::read_to_string(fixture("server.conf")).unwrap();
    let inline = conf.lines().find(|l| l.starts_with("operator:")).unwrap();
    let path = fixture("operator.jwt");
    let server = start_from_config(
        &conf.replace(inline, &format!("operator: {:?}", path.to_str().unwrap())),
    )
    .await;
    assert!(connects_with("plain", url(&server)).await);
}

/// The fixture's configuration with its `operator` line replaced.
fn with_operator_line(line: &str) -> String {
    std::fs::read_to_string(fixture("server.conf"))
        .unwrap()
        .lines()
        .map(|l| if l.starts_with("operator:") { line } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn trusted_keys_and_decorated_operator_files_stand_for_the_operator() {
    // The operator's key and its signing key, trusted without its JWT.
    let trusted = with_operator_line(
        "trusted: [OCFBQEMUC4BZML4XS5DPWITU2CF2W4Y3W3KL776N3RTQQ7KYG2ZTSHMA, \
         ODR4E6LYZTR4W2XXTHS4BOOAZ2MMYLB4BK6ZATBTDSTPCILDOVK3OO3L]",
    );
    // The operator JWT in a file, in the decorated form nsc writes.
    let jwt = std::fs::read_to_string(fixture("operator.jwt")).unwrap();
    let dir = std::env::temp_dir().join(format!("starling-decorated-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("operator.jwt");
    std::fs::write(
        &file,
        format!(
            "-----BEGIN NATS OPERATOR JWT-----\n{}\n------END NATS OPERATOR JWT------\n",
            jwt.trim()
        ),
    )
    .unwrap();
    let decorated = with_operator_line(&format!("operator: \"{}\"", file.display()));
    for config in [trusted, decorated] {
        let server = start_from_config(&config).await;
        assert!(connects_with("plain", url(&server)).await, "{config}");
        assert!(!connects_with("unknown_signer", url(&server)).await);
        server.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn resolver_pinned_accounts_let_in_only_their_users() {
    let base = std::fs::read_to_string(fixture("server.conf")).unwrap();
    let app = "AD6GUJDRV2Q7V4ND2JCD2XWLRZJ24NKGETCUONKL3Q6SYEX3IHPZRXCX";
    let sys = "ACGWHWJFC7G52AINY4SB3YBOBFMWZ5LPKCCWHUCS447VMUDF7ZCGJWWH";
    for (pinned, admitted) in [(app, true), (sys, false)] {
        let config = format!("{base}\nresolver_pinned_accounts: [{pinned}]\n");
        let server = start_from_config(&config).await;
        assert_eq!(
            connects_with("plain", url(&server)).await,
            admitted,
            "{pinned}"
        );
        server.shutdown().await;
    }
}
