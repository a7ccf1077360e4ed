//! The monitoring endpoints against a live nats-server 2.9.10: the same
//! configuration and the same traffic (TCP and websocket clients, headers,
//! a queue group, a connection cut for a parse error) on both, then every
//! endpoint's keys and JSON types compared, its counters compared, and the
//! 400/404 answers compared byte for byte.
//!
//! Skipped (with a note) where nats-server is not installed; CI installs it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use serde_json::Value;
use starling_tests::json_shape::{differences, shape};
use starling_tests::nats_server::{NatsServer, free_port};
use starling_tests::{RawClient, http_exchange, raw_upgrade, start_from_config};
use starling_ws::encode_client_frame;
use starling_ws::frame::OpCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

/// `GET path`: status and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let reply = http_exchange(addr, request.as_bytes()).await;
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{path}: no complete answer"));
    let status = String::from_utf8_lossy(&reply[9..12])
        .parse()
        .expect("a status code");
    (status, reply[end + 4..].to_vec())
}

async fn json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = get(addr, path).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Differences kept on purpose (docs/monitoring.md).
const ACCEPTED: &[&str] = &[];

/// One side of the comparison: a server, its monitoring port and its
/// websocket port.
struct Side {
    client: SocketAddr,
    websocket: SocketAddr,
    monitor: SocketAddr,
}

const CONNECT: &str = "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"tcp\",\"lang\":\"raw\",\"version\":\"1.0\",\"headers\":true}\r\n";

async fn read_until(stream: &mut TcpStream, pattern: &[u8]) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.windows(pattern.len()).any(|w| w == pattern) {
        let n = timeout(deadline - Instant::now(), stream.read(&mut buf))
            .await
            .expect("an answer within 10 s")
            .expect("a read");
        assert!(n > 0, "closed while waiting");
        seen.extend_from_slice(&buf[..n]);
    }
}

/// The same traffic on a server; returns the connections to hold open.
async fn traffic(side: &Side) -> (RawClient, TcpStream) {
    // A websocket subscriber (masked frames in, unmasked frames out).
    let (mut ws, head) = raw_upgrade(side.websocket, "").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut frame = BytesMut::new();
    let hello = "CONNECT {\"verbose\":false,\"name\":\"ws\",\"lang\":\"raw\",\"version\":\"1.0\",\"headers\":true}\r\nSUB foo 1\r\nPING\r\n";
    encode_client_frame(
        &mut frame,
        OpCode::Binary,
        true,
        false,
        hello.as_bytes(),
        [1, 2, 3, 4],
    );
    ws.write_all(&frame).await.expect("CONNECT written");
    read_until(&mut ws, b"PONG\r\n").await;

    // A TCP client in a queue group, publishing with and without headers.
    let mut tcp = RawClient::connect(side.client).await;
    let mut ops = format!("{CONNECT}SUB foo 1\r\nSUB bar q 2\r\n");
    for _ in 0..10 {
        ops.push_str("PUB foo 5\r\nhello\r\n");
    }
    for _ in 0..3 {
        ops.push_str("HPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\n");
    }
    for _ in 0..4 {
        ops.push_str("PUB bar 3\r\nabc\r\n");
    }
    ops.push_str("UNSUB 1 100\r\nPING\r\n");
    tcp.send(ops.as_bytes()).await;
    let (_, closed) = tcp.read_until(b"PONG\r\n", Duration::from_secs(10)).await;
    assert!(!closed);

    // One that breaks the protocol, remembered among the closed.
    let mut bad = RawClient::connect(side.client).await;
    bad.send(b"BOGUS\r\n").await;
    let _ = bad.read_to_close(Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let closed = json(side.monitor, "/connz?state=closed").await;
        if closed["total"] == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed connection never showed: {closed}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (tcp, ws)
}

/// Paths compared, in the order both servers are asked (so their
/// `http_req_stats` match too).
const PATHS: &[&str] = &[
    "/connz?state=closed",
    "/connz",
    "/connz?subs=1",
    "/connz?subs=detail&auth=1",
    "/connz?state=all&sort=msgs_to&limit=1&offset=1",
    "/connz?sort=bytes_from",
    "/connz?limit=&sort=&cid=0&subs=DETAIL",
    "/connz?cid=2&subs=1",
    "/subsz",
    "/subsz?subs=1&test=foo",
    "/routez",
    "/gatewayz",
    "/leafz",
    "/accountz",
    "/accstatz",
    "/accstatz?unused=1",
    "/jsz",
    "/healthz",
    "/healthz?js-enabled-only=true",
    "/varz",
];

/// Values that must be equal, not just of one type.
const COUNTERS: &[(&str, &[&str])] = &[
    (
        "/varz",
        &[
            "in_msgs",
            "out_msgs",
            "in_bytes",
            "out_bytes",
            "connections",
            "total_connections",
            "slow_consumers",
            "max_payload",
            "ping_interval",
            "write_deadline",
            "http_req_stats",
        ],
    ),
    ("/connz", &["num_connections", "total", "offset", "limit"]),
    (
        "/connz?state=all&sort=msgs_to&limit=1&offset=1",
        &["num_connections", "total", "offset", "limit"],
    ),
];

/// Per-row values that must be equal in `/connz` answers (not
/// `pending_bytes`: what a closed row shows depends, in nats-server too,
/// on whether its `-ERR` was written before the close).
const ROW_VALUES: &[&str] = &[
    "cid",
    "kind",
    "type",
    "in_msgs",
    "out_msgs",
    "in_bytes",
    "out_bytes",
    "subscriptions",
    "name",
    "lang",
    "version",
    "reason",
    "subscriptions_list",
];

/// 400 and 404 answers compared byte for byte.
const ERRORS: &[&str] = &[
    "/connz?sort=bogus",
    "/connz?sort=stop",
    "/connz?subs=2",
    "/connz?limit=abc",
    "/connz?state=x",
    "/subsz?test=foo.*",
    "/accountz?acc=nope",
    "/jsz?leader-only=true",
    "/connz?cid=abc",
    "/connz?auth=x&subs=y",
    "/connz?limit=99999999999999999999",
    "/connz?offset=-x",
    "/connz?state=closed&sort=nope",
    "/subsz?limit=z",
    "/routez?subs=2",
    "/accstatz?unused=maybe",
    "/healthz?js-enabled-only=2",
    "/varz/",
    "/nothing",
];

#[tokio::test]
async fn monitoring_matches_nats_server() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the live monitoring comparison is skipped");
        return;
    }
    // The system account's services are compared in system_account.rs.
    let common = "no_system_account: true\nwebsocket { host: 127.0.0.1, port: WS, no_tls: true }\nhttp: \"127.0.0.1:HTTP\"\n";
    let ours = start_from_config(&common.replace("WS", "-1").replace("HTTP", "-1")).await;
    let (ws_port, http_port) = (free_port(), free_port());
    let nats_config = common
        .replace("WS", &ws_port.to_string())
        .replace("HTTP", &http_port.to_string());
    let loopback = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    // Ready when the monitor says so: probing the client port would add a
    // connection to what is compared.
    let nats = NatsServer::start(&nats_config, &[loopback(http_port)]).await;
    let sides = [
        Side {
            client: ours.client_addr(),
            websocket: ours.websocket_addr().unwrap(),
            monitor: ours.monitor_addr().unwrap(),
        },
        Side {
            client: nats.addr,
            websocket: loopback(ws_port),
            monitor: loopback(http_port),
        },
    ];
    for side in &sides {
        let deadline = Instant::now() + Duration::from_secs(10);
        // Until it is ready (how many asks it took differs: `/healthz` is
        // left out of the `http_req_stats` comparison, as is `/connz`).
        while get(side.monitor, "/healthz").await.0 != 200 {
            assert!(Instant::now() < deadline, "never healthy");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let _held = [traffic(&sides[0]).await, traffic(&sides[1]).await];

    let mut problems = Vec::new();
    let mut answers: BTreeMap<&str, [Value; 2]> = BTreeMap::new();
    for path in PATHS {
        let (a, b) = (
            json(sides[0].monitor, path).await,
            json(sides[1].monitor, path).await,
        );
        let mut found = Vec::new();
        differences(path, &shape("", &a), &shape("", &b), &mut found);
        problems.extend(
            found
                .into_iter()
                .filter(|d| !ACCEPTED.contains(&d.as_str())),
        );
        answers.insert(path, [a, b]);
    }
    for (path, keys) in COUNTERS {
        let [a, b] = &answers[path];
        let mut a = a.clone();
        let mut b = b.clone();
        for side in [&mut a, &mut b] {
            if let Some(Value::Object(stats)) = side.get_mut("http_req_stats") {
                // Asked until ready or until the closed one shows: how
                // many times differs.
                stats.remove("/healthz");
                stats.remove("/connz");
            }
        }
        for key in *keys {
            if a[key] != b[key] {
                problems.push(format!("{path} {key}: {} / {}", a[key], b[key]));
            }
        }
    }
    for path in PATHS.iter().filter(|p| p.starts_with("/connz")) {
        let [a, b] = &answers[path];
        let (rows_a, rows_b) = (
            a["connections"].as_array().unwrap(),
            b["connections"].as_array().unwrap(),
        );
        if rows_a.len() != rows_b.len() {
            problems.push(format!("{path}: {} rows / {}", rows_a.len(), rows_b.len()));
        }
        for (row_a, row_b) in rows_a.iter().zip(rows_b) {
            for key in ROW_VALUES {
                // Subjects come in no defined order.
                let sorted = |row: &Value| {
                    let mut value = row.get(key).cloned();
                    if let Some(Value::Array(items)) = &mut value {
                        items.sort_by_key(ToString::to_string);
                    }
                    value
                };
                if sorted(row_a) != sorted(row_b) {
                    problems.push(format!(
                        "{path} cid {} {key}: {:?} / {:?}",
                        row_a["cid"],
                        row_a.get(key),
                        row_b.get(key)
                    ));
                }
            }
        }
    }
    for path in ERRORS {
        let (a, b) = (
            get(sides[0].monitor, path).await,
            get(sides[1].monitor, path).await,
        );
        if a != b {
            problems.push(format!(
                "{path}: {} {:?} / {} {:?}",
                a.0,
                String::from_utf8_lossy(&a.1),
                b.0,
                String::from_utf8_lossy(&b.1)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "Starling / nats-server:\n{}",
        problems.join("\n")
    );
}
