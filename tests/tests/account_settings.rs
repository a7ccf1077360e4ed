//! What an account of the `accounts` block sets besides users: `limits`
//! (connections, subscriptions, payload, leaf links), `default_permissions`,
//! `nkey`, and the `publish_allow_responses` alias. Each session is
//! compared byte for byte with a live nats-server when one is installed.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::net::SocketAddr;
use std::time::Duration;

use starling_tests::nats_server::NatsServer;
use starling_tests::{RawClient, start_from_config};

const CONFIG: &str = r#"
accounts {
  A: {
    nkey: ACGWHWJFC7G52AINY4SB3YBOBFMWZ5LPKCCWHUCS447VMUDF7ZCGJWWH
    users: [ { user: a, password: a }, { user: a2, password: a2 }, { user: a3, password: a3 } ]
    limits: { max_connections: 2, max_subscriptions: 1, max_payload: 10 }
  }
  B: {
    users: [
      { user: b, password: b }
      { user: own, password: own, permissions: { publish: ">" } }
    ]
    default_permissions: { publish: { deny: "secret" }, publish_allow_responses: true }
  }
  C: { users: [ { user: c, password: c } ], limits: { max_leafnodes: 0 } }
}
leafnodes {
  port: -1
  authorization { users: [ { user: leaf, password: leaf, account: C } ] }
}
"#;

fn config() -> String {
    CONFIG.to_owned()
}

/// Connects as `user` and runs `ops`; returns the protocol lines that
/// came back (INFO aside) until the PONG or the close.
async fn session(addr: SocketAddr, user: &str, ops: &str) -> (RawClient, String) {
    let mut raw = RawClient::connect(addr).await;
    raw.send(
        format!(
            "CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{user}\"}}\r\n{ops}PING\r\n"
        )
        .as_bytes(),
    )
    .await;
    let (bytes, _) = raw.read_until(b"PONG\r\n", Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.starts_with("INFO"))
        .collect::<Vec<_>>()
        .join("\n");
    (raw, text)
}

/// Every check, against the server at `addr`; the transcript to compare.
async fn transcript(addr: SocketAddr) -> Vec<String> {
    let mut out = Vec::new();
    let (_first, text) = session(addr, "a", "SUB x 1\r\nSUB y 2\r\n").await;
    out.push(text);
    let (mut second, text) = session(addr, "a2", "").await;
    out.push(text);
    let (_third, text) = session(addr, "a3", "").await;
    out.push(text);
    // The second one is closed for its payload: room for another, once
    // the server has seen it go (each attempt is a full round trip).
    second.send(b"PUB x 11\r\n01234567890\r\n").await;
    let (bytes, closed) = second.read_to_close(Duration::from_secs(10)).await;
    assert!(closed);
    out.push(String::from_utf8_lossy(&bytes).trim_end().to_owned());
    let mut again = String::new();
    for _ in 0..500 {
        let (_conn, text) = session(addr, "a3", "").await;
        again = text;
        if again == "PONG" {
            break;
        }
    }
    out.push(again);
    let (_b, text) = session(addr, "b", "PUB secret 1\r\nx\r\nPUB open 1\r\nx\r\n").await;
    out.push(text);
    let (_own, text) = session(addr, "own", "PUB secret 1\r\nx\r\n").await;
    out.push(text);
    out
}

#[tokio::test]
async fn account_settings_hold_as_in_nats_server() {
    let server = start_from_config(&config()).await;
    let ours = transcript(server.client_addr()).await;
    assert_eq!(
        ours,
        [
            "-ERR 'maximum subscriptions exceeded'\nPONG",
            "PONG",
            "-ERR 'maximum account active connections exceeded'",
            "-ERR 'Maximum Payload Violation'",
            "PONG",
            // allow_responses leaves only replies allowed (nats-server's rule).
            "-ERR 'Permissions Violation for Publish to \"secret\"'\n\
             -ERR 'Permissions Violation for Publish to \"open\"'\nPONG",
            "PONG",
        ]
    );
    if NatsServer::installed() {
        let nats = NatsServer::start(&config(), &[]).await;
        assert_eq!(transcript(nats.addr).await, ours);
    } else {
        eprintln!("nats-server is not installed: the live comparison is skipped");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_leaf_beyond_max_leafnodes_is_refused() {
    let server = start_from_config(&config()).await;
    let addr = server.leaf_addr().unwrap();
    let mut raw = RawClient::connect(addr).await;
    raw.send(b"CONNECT {\"user\":\"leaf\",\"pass\":\"leaf\",\"verbose\":false}\r\nPING\r\n")
        .await;
    let (bytes, _) = raw.read_to_close(Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("-ERR 'maximum account active connections exceeded'"),
        "{text}"
    );
    server.shutdown().await;
}

#[test]
fn a_bad_account_nkey_is_refused() {
    let root = starling_conf::parse_str("accounts { A: { nkey: UABC } }").unwrap();
    let errors = starling_server::options_from_config(&root).unwrap_err();
    assert_eq!(
        errors[0].message,
        "Not a valid public nkey for an account: \"UABC\""
    );
}
