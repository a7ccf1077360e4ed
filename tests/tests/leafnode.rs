//! Leaf nodes against a live nats-server 2.9.10, with async-nats clients
//! on both sides: Starling as the hub of a nats-server leaf and as the
//! leaf of a nats-server hub, and a Starling pair. Messages both ways,
//! wildcards, headers, request/reply, queue groups exactly once (members
//! on both sides, and only on the far side), unsubscribe propagation, a
//! large payload, and a hub restart survived.
//!
//! The nats-server parts are skipped (with a note) where it is not
//! installed; CI installs it. Waits are on facts: a link is up when a
//! probe message crosses it.

use std::net::SocketAddr;
use std::time::Duration;

use async_nats::Client;
use futures_util::StreamExt;
use starling_tests::crossing::{self, client, count, delivered, fence, until_linked};
use starling_tests::nats_server::{NatsServer, free_port};
use starling_tests::{round_trip, start_from_config};
use tokio::time::{Instant, timeout};

/// The longest any expected fact may take (a bound, not a pace).
const WAIT: Duration = Duration::from_secs(10);

async fn exchange(a: &Client, b: &Client) {
    crossing::exchange(a, b, crossing::Queues::LocalFirst).await;
}

fn starling_hub() -> String {
    "server_name: STARHUB\nleafnodes { host: 127.0.0.1, port: -1 }\n".to_owned()
}

#[tokio::test]
async fn starling_pair_hub_and_spoke() {
    let hub = start_from_config(&starling_hub()).await;
    let leaf_port = hub.leaf_addr().expect("leafnode port").port();
    let spoke = start_from_config(&format!(
        "server_name: STARSPOKE\nleafnodes {{ remotes [ {{ url: \"nats://127.0.0.1:{leaf_port}\" }} ] }}\n"
    ))
    .await;
    let (a, b) = (
        client(hub.client_addr()).await,
        client(spoke.client_addr()).await,
    );
    until_linked(&a, &b, "link.up").await;
    exchange(&a, &b).await;
    exchange(&b, &a).await;
    spoke.shutdown().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn starling_hub_of_a_nats_server_leaf() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the leaf interop test is skipped");
        return;
    }
    let hub = start_from_config(&starling_hub()).await;
    let leaf_port = hub.leaf_addr().expect("leafnode port").port();
    let nats = NatsServer::start(
        &format!("server_name: NATSLEAF\nleafnodes {{ remotes [ {{ url: \"nats://127.0.0.1:{leaf_port}\" }} ] }}\n"),
        &[],
    )
    .await;
    let (a, b) = (client(hub.client_addr()).await, client(nats.addr).await);
    until_linked(&a, &b, "link.up").await;
    exchange(&a, &b).await;
    exchange(&b, &a).await;
    hub.shutdown().await;
}

#[tokio::test]
async fn starling_leaf_of_a_nats_server_hub_survives_its_restart() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the leaf interop test is skipped");
        return;
    }
    let (client_port, leaf_port) = (free_port(), free_port());
    let hub_config =
        format!("server_name: NATSHUB\nleafnodes {{ host: 127.0.0.1, port: {leaf_port} }}\n");
    let hub = NatsServer::start_on(&hub_config, client_port).await;
    let spoke = start_from_config(&format!(
        "server_name: STARLEAF\nleafnodes {{ remotes [ {{ url: \"nats://127.0.0.1:{leaf_port}\" }} ] }}\n"
    ))
    .await;
    let (a, b) = (client(hub.addr).await, client(spoke.client_addr()).await);
    until_linked(&a, &b, "link.up").await;
    exchange(&a, &b).await;
    exchange(&b, &a).await;

    // The hub restarts: the leaf dials again and sends its interest anew.
    let mut kept = b.subscribe("after.restart").await.expect("subscribe");
    round_trip(&b).await;
    drop(a);
    drop(hub);
    let hub = NatsServer::start_on(&hub_config, client_port).await;
    let a = client(hub.addr).await;
    delivered(&a, &mut kept, "after.restart").await;
    spoke.shutdown().await;
}

/// A raw leaf connection: the hub's INFO read, `connect` sent; what the
/// hub answers until it closes or `until` shows up.
async fn raw_leaf(addr: SocketAddr, connect: &str, then: &[u8], until: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let mut sent_then = false;
    stream.write_all(connect.as_bytes()).await.expect("write");
    let deadline = Instant::now() + WAIT;
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if !then.is_empty() && !sent_then && text.contains("$LDS.") {
            // Send the hub's own loop-detection subject back.
            let lds = text
                .split("LS+ ")
                .find(|s| s.starts_with("$LDS."))
                .and_then(|s| s.split("\r\n").next())
                .expect("an $LDS subject");
            let line = String::from_utf8_lossy(then).replace("LDS", lds);
            stream.write_all(line.as_bytes()).await.expect("write");
            sent_then = true;
        }
        if text.contains(until) {
            return text;
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return text,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn the_leafnode_port_refuses_as_nats_server_does() {
    let hub = start_from_config(
        "server_name: GUARDED\nleafnodes { host: 127.0.0.1, port: -1, min_version: \"2.9.0\", authorization { user: leaf, password: s3cr3t } }\n",
    )
    .await;
    let addr = hub.leaf_addr().expect("leafnode port");
    let info = raw_leaf(addr, "", b"", "\r\n").await;
    assert!(
        info.starts_with("INFO {") && info.ends_with("} \r\n"),
        "{info}"
    );
    for field in [
        "\"client_id\":",
        "\"leafnode_urls\":[",
        "\"nonce\":",
        "\"info_on_connect\":true",
        "\"auth_required\":true",
    ] {
        assert!(info.contains(field), "{field} in {info}");
    }
    let wrong = raw_leaf(
        addr,
        "CONNECT {\"name\":\"X\",\"user\":\"leaf\",\"pass\":\"no\"}\r\n",
        b"",
        "-ERR",
    )
    .await;
    assert!(
        wrong.contains("-ERR 'Authorization Violation'\r\n"),
        "{wrong}"
    );
    let as_client = raw_leaf(
        addr,
        "CONNECT {\"lang\":\"go\",\"user\":\"leaf\",\"pass\":\"s3cr3t\"}\r\n",
        b"",
        "-ERR",
    )
    .await;
    assert!(
        as_client.contains("-ERR 'attempted to connect to leaf node port'\r\n"),
        "{as_client}"
    );
    let first = raw_leaf(addr, "PING\r\n", b"", "-ERR").await;
    assert!(
        first.contains("-ERR 'Authorization Violation'\r\n"),
        "{first}"
    );
    let old = raw_leaf(
        addr,
        "CONNECT {\"name\":\"X\",\"version\":\"2.7.4\",\"user\":\"leaf\",\"pass\":\"s3cr3t\"}\r\n",
        b"",
        "-ERR",
    )
    .await;
    assert!(
        old.contains("-ERR 'connection rejected since minimum version required is \"2.9.0\"'"),
        "{old}"
    );
    let same = raw_leaf(addr, "CONNECT {\"name\":\"X\",\"cluster\":\"GUARDED\",\"user\":\"leaf\",\"pass\":\"s3cr3t\"}\r\n", b"", "-ERR").await;
    assert!(
        same.contains("-ERR 'remote leafnode has same cluster name'\r\n"),
        "{same}"
    );
    // Accepted: the INFO that answers CONNECT, then interest; its own
    // loop-detection subject sent back is a loop.
    let ok = "CONNECT {\"name\":\"X\",\"version\":\"2.9.10\",\"cluster\":\"X\",\"user\":\"leaf\",\"pass\":\"s3cr3t\",\"headers\":true}\r\n";
    let looped = raw_leaf(addr, ok, b"LS+ LDS\r\n", "Loop detected").await;
    assert!(
        looped.contains("\"connect_info\":true") && looped.contains("\"remote_account\":\"$G\""),
        "{looped}"
    );
    assert!(
        looped.contains("-ERR 'Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s'"),
        "{looped}"
    );
    // A malformed interest line closes the link, and only it.
    let bad = raw_leaf(addr, ok, b"LS+ a b\r\n", "never").await;
    assert!(bad.contains("connect_info"), "{bad}");
    let probe = client(hub.client_addr()).await;
    round_trip(&probe).await;
    hub.shutdown().await;
}

/// A raw leaf that sends `PING`, `case`, `PING` once connected: what the
/// hub answers until it closes or has answered both pings, with the INFO
/// lines and the `$LDS.` subject (random per server) masked, the hub's own
/// PINGs left out (their timing is its own), the lines sorted (nats-server
/// sends its interest in map order); and whether it closed.
async fn leaf_case(addr: SocketAddr, case: &str) -> (Vec<String>, bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let connect =
        "CONNECT {\"name\":\"X\",\"version\":\"2.9.10\",\"cluster\":\"X\",\"headers\":true}\r\n";
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(format!("{connect}PING\r\n{case}PING\r\n").as_bytes())
        .await
        .expect("write");
    let (mut seen, mut buf, mut closed) = (String::new(), [0u8; 4096], false);
    let deadline = Instant::now() + WAIT;
    while seen.matches("PONG\r\n").count() < 2 {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(_) => panic!("{addr}: neither closed nor answered after {case:?}: {seen}"),
        }
    }
    let mut lines: Vec<String> = seen
        .split_inclusive("\r\n")
        .filter(|line| *line != "PING\r\n")
        .map(|line| {
            if line.starts_with("INFO ") {
                "INFO {..}\r\n".to_owned()
            } else if line.starts_with("LS+ $LDS.") {
                "LS+ $LDS.*\r\n".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect();
    lines.sort();
    (lines, closed)
}

#[tokio::test]
async fn malformed_leaf_lines_close_the_link_as_nats_server_does() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the malformed leaf line differential is skipped");
        return;
    }
    let config = "server_name: RAWHUB\nleafnodes { host: 127.0.0.1, port: -1 }\n";
    let hub = start_from_config(config).await;
    let nats_port = free_port();
    let nats = NatsServer::start(
        &format!("server_name: RAWHUB\nleafnodes {{ host: 127.0.0.1, port: {nats_port} }}\n"),
        &[],
    )
    .await;
    let starling = hub.leaf_addr().expect("leafnode port");
    let nats_addr = SocketAddr::from(([127, 0, 0, 1], nats_port));
    let mut closes = 0;
    for case in [
        "LS+ a b\r\n",
        "LS+\r\n",
        "LS+ \r\n",
        "LS- \r\n",
        "LS- a b c\r\n",
        "LS+ a b c\r\n",
        "LS+ a b -1\r\n",
        "LMSG a\r\n",
        "LMSG a 5 x\r\n",
        "LMSG a 3\r\nhello\r\n",
        "HMSG a 3 2\r\nabc\r\n",
        "XYZ\r\n",
    ] {
        let ours = leaf_case(starling, case).await;
        let theirs = leaf_case(nats_addr, case).await;
        assert_eq!(ours, theirs, "after {case:?}: Starling, then nats-server");
        closes += usize::from(ours.1);
    }
    assert_eq!(closes, 8, "the cases that close the link");
    drop(nats);
    // Every link was closed alone: a client is still served.
    let probe = client(hub.client_addr()).await;
    round_trip(&probe).await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_second_link_from_the_same_server_replaces_the_first() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hub = start_from_config(&starling_hub()).await;
    let addr = hub.leaf_addr().expect("leafnode port");
    let connect = b"CONNECT {\"name\":\"TWIN\",\"cluster\":\"TWIN\",\"headers\":true}\r\n";
    let read_until = |mut stream: tokio::net::TcpStream, until: &'static str| async move {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + WAIT;
        while !String::from_utf8_lossy(&seen).contains(until) {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        (stream, String::from_utf8_lossy(&seen).into_owned())
    };
    let mut first = tokio::net::TcpStream::connect(addr).await.expect("connect");
    first.write_all(connect).await.expect("write");
    let (first, seen) = read_until(first, "connect_info").await;
    assert!(seen.contains("connect_info"), "{seen}");
    let mut second = tokio::net::TcpStream::connect(addr).await.expect("connect");
    second.write_all(connect).await.expect("write");
    let (_second, seen) = read_until(second, "connect_info").await;
    assert!(seen.contains("connect_info"), "{seen}");
    let (_, seen) = read_until(first, "Duplicate").await;
    assert!(
        seen.contains("-ERR 'Duplicate Remote LeafNode Connection'\r\n"),
        "{seen}"
    );
    hub.shutdown().await;
}

/// A raw leaf over websocket: the upgrade to `/leafnode`, the INFO frame,
/// then `connect` in a masked frame; the payloads until `until`.
async fn raw_ws_leaf(addr: SocketAddr, connect: &str, until: &[u8]) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = "GET /leafnode HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nNats-No-Masking: true\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        if stream.read_exact(&mut byte).await.is_err() {
            break;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let (info, _) = starling_tests::read_frames(&mut stream, false, b" \r\n").await;
    let mut frame = bytes::BytesMut::new();
    starling_ws::encode_client_frame(
        &mut frame,
        starling_ws::frame::OpCode::Binary,
        true,
        false,
        connect.as_bytes(),
        [1, 2, 3, 4],
    );
    stream.write_all(&frame).await.expect("write");
    let (rest, _) = starling_tests::read_frames(&mut stream, false, until).await;
    let mut seen = info;
    seen.extend_from_slice(&rest);
    (head, String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test]
async fn leafs_on_the_websocket_port() {
    let hub = start_from_config(
        r#"server_name: WSHUB
leafnodes { host: 127.0.0.1, port: -1 }
websocket { port: -1, no_tls: true, compression: true }
authorization { users [
  { user: leafy, password: p, allowed_connection_types: ["LEAFNODE"] }
  { user: wsleaf, password: p, allowed_connection_types: ["LEAFNODE_WS"] }
] }
"#,
    )
    .await;
    let ws = hub.websocket_addr().expect("websocket port");
    let (head, seen) = raw_ws_leaf(
        ws,
        "CONNECT {\"name\":\"L\",\"user\":\"leafy\",\"pass\":\"p\"}\r\n",
        b"\r\n",
    )
    .await;
    assert!(
        head.starts_with("HTTP/1.1 101") && head.contains("Nats-No-Masking: true\r\n"),
        "{head}"
    );
    assert!(
        seen.starts_with("INFO {") && seen.contains("\"leafnode_urls\":["),
        "{seen}"
    );
    assert!(
        seen.contains("-ERR 'Authorization Violation'"),
        "a LEAFNODE-only user over websocket: {seen}"
    );
    let (_, seen) = raw_ws_leaf(
        ws,
        "CONNECT {\"name\":\"L\",\"user\":\"wsleaf\",\"pass\":\"p\"}\r\n",
        b"\r\n",
    )
    .await;
    assert!(seen.contains("\"connect_info\":true"), "{seen}");
    hub.shutdown().await;

    // Without a leafnode port, a /leafnode upgrade is closed after the 101.
    let plain = start_from_config("websocket { port: -1, no_tls: true }\n").await;
    let ws = plain.websocket_addr().expect("websocket port");
    let (head, seen) = raw_ws_leaf(ws, "CONNECT {}\r\n", b"never").await;
    assert!(
        head.starts_with("HTTP/1.1 101") && seen.is_empty(),
        "{head} {seen}"
    );
    plain.shutdown().await;
}

#[tokio::test]
async fn nats_server_leafs_over_websocket() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the websocket leaf interop test is skipped");
        return;
    }
    let hub = start_from_config(
        "server_name: WSHUB\nleafnodes { host: 127.0.0.1, port: -1 }\nwebsocket { port: -1, no_tls: true, compression: true }\n",
    )
    .await;
    let ws_port = hub.websocket_addr().expect("websocket port").port();
    for (name, options) in [
        ("DEFLATED", ", ws_compression: true, ws_no_masking: true"),
        ("MASKED", ""),
    ] {
        let nats = NatsServer::start(
            &format!("server_name: {name}\nleafnodes {{ remotes [ {{ url: \"ws://127.0.0.1:{ws_port}\"{options} }} ] }}\n"),
            &[],
        )
        .await;
        let (a, b) = (client(hub.client_addr()).await, client(nats.addr).await);
        until_linked(&a, &b, "link.up").await;
        exchange(&a, &b).await;
        exchange(&b, &a).await;
    }
    hub.shutdown().await;
}

#[tokio::test]
async fn starling_dials_websocket_hubs() {
    let hub_config = "server_name: WSHUB\nleafnodes { host: 127.0.0.1, port: -1 }\nwebsocket { port: -1, no_tls: true, compression: true }\n";
    let spoke = |port: u16, options: &str, name: &str| {
        format!(
            "server_name: {name}\nleafnodes {{ remotes [ {{ url: \"ws://127.0.0.1:{port}\"{options} }} ] }}\n"
        )
    };
    // A Starling pair over websocket, then a nats-server hub.
    let hub = start_from_config(hub_config).await;
    let port = hub.websocket_addr().expect("websocket port").port();
    let leaf = start_from_config(&spoke(port, ", ws_compression: true", "WSSPOKE")).await;
    let (a, b) = (
        client(hub.client_addr()).await,
        client(leaf.client_addr()).await,
    );
    until_linked(&a, &b, "link.up").await;
    exchange(&a, &b).await;
    exchange(&b, &a).await;
    leaf.shutdown().await;
    hub.shutdown().await;
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the websocket hub interop test is skipped");
        return;
    }
    let ws_port = free_port();
    let nats = NatsServer::start(
        &format!("server_name: NATSWSHUB\nleafnodes {{ port: -1 }}\nwebsocket {{ host: 127.0.0.1, port: {ws_port}, no_tls: true, compression: true }}\n"),
        &[],
    )
    .await;
    for (options, name) in [
        (", ws_compression: true, ws_no_masking: true", "DEFLATED"),
        ("", "MASKED"),
    ] {
        let leaf = start_from_config(&spoke(ws_port, options, name)).await;
        let (a, b) = (client(nats.addr).await, client(leaf.client_addr()).await);
        until_linked(&a, &b, "link.up").await;
        exchange(&a, &b).await;
        exchange(&b, &a).await;
        leaf.shutdown().await;
    }
}

/// A self-signed certificate for localhost and 127.0.0.1, written in a
/// fresh directory: (directory, certificate, key).
fn certificate(name: &str) -> (std::path::PathBuf, String, String) {
    let dir = std::env::temp_dir().join(format!("starling-leaf-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("certificate");
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).expect("write");
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).expect("write");
    let path = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
    (dir, path(cert_file), path(key_file))
}

#[tokio::test]
async fn leafs_over_tls_and_wss() {
    let (dir, cert, key) = certificate("hub");
    let tls = format!("tls {{ cert_file: \"{cert}\", key_file: \"{key}\" }}");
    let remote_tls = format!("tls {{ ca_file: \"{cert}\" }}");
    // A Starling pair over TLS on the leafnode port, and over wss://.
    let hub = start_from_config(&format!(
        "server_name: TLSHUB\nleafnodes {{ host: 127.0.0.1, port: -1, {tls} }}\nwebsocket {{ port: -1, compression: true, {tls} }}\n"
    ))
    .await;
    let (leaf_port, ws_port) = (
        hub.leaf_addr().expect("leafnode port").port(),
        hub.websocket_addr().expect("websocket port").port(),
    );
    for (url, name) in [
        (format!("tls://127.0.0.1:{leaf_port}"), "TLSSPOKE"),
        (format!("nats://127.0.0.1:{leaf_port}"), "TLSASKED"),
        (format!("wss://127.0.0.1:{ws_port}"), "WSSSPOKE"),
    ] {
        let spoke = start_from_config(&format!(
            "server_name: {name}\nleafnodes {{ remotes [ {{ url: \"{url}\", {remote_tls} }} ] }}\n"
        ))
        .await;
        let (a, b) = (
            client(hub.client_addr()).await,
            client(spoke.client_addr()).await,
        );
        until_linked(&a, &b, "link.up").await;
        exchange(&a, &b).await;
        spoke.shutdown().await;
    }
    if NatsServer::installed() {
        // A nats-server leaf of the TLS hub.
        let nats = NatsServer::start(
            &format!("server_name: NATSTLSLEAF\nleafnodes {{ remotes [ {{ url: \"tls://127.0.0.1:{leaf_port}\", {remote_tls} }} ] }}\n"),
            &[],
        )
        .await;
        let (a, b) = (client(hub.client_addr()).await, client(nats.addr).await);
        until_linked(&a, &b, "link.up").await;
        exchange(&a, &b).await;
        exchange(&b, &a).await;
        drop(nats);
        // A nats-server leaf of the hub's wss:// port, deflated and unmasked.
        let nats = NatsServer::start(
            &format!("server_name: NATSWSSLEAF\nleafnodes {{ remotes [ {{ url: \"wss://127.0.0.1:{ws_port}\", {remote_tls}, ws_compression: true, ws_no_masking: true }} ] }}\n"),
            &[],
        )
        .await;
        let (a, b) = (client(hub.client_addr()).await, client(nats.addr).await);
        until_linked(&a, &b, "link.up").await;
        exchange(&a, &b).await;
        exchange(&b, &a).await;
        drop(nats);
        // Starling as the leaf of a nats-server TLS hub, on its leafnode
        // port and on its wss:// port (plain, then deflated and unmasked).
        let (nats_leaf_port, nats_ws_port) = (free_port(), free_port());
        let nats_hub = NatsServer::start(
            &format!("server_name: NATSTLSHUB\nleafnodes {{ host: 127.0.0.1, port: {nats_leaf_port}, {tls} }}\nwebsocket {{ host: 127.0.0.1, port: {nats_ws_port}, compression: true, {tls} }}\n"),
            &[],
        )
        .await;
        for (url, options, name) in [
            (
                format!("nats://127.0.0.1:{nats_leaf_port}"),
                "",
                "STARTLSLEAF",
            ),
            (format!("wss://127.0.0.1:{nats_ws_port}"), "", "STARWSSLEAF"),
            (
                format!("wss://127.0.0.1:{nats_ws_port}"),
                ", ws_compression: true, ws_no_masking: true",
                "STARWSSDEFLATED",
            ),
        ] {
            let spoke = start_from_config(&format!(
                "server_name: {name}\nleafnodes {{ remotes [ {{ url: \"{url}\", {remote_tls}{options} }} ] }}\n"
            ))
            .await;
            let (a, b) = (
                client(nats_hub.addr).await,
                client(spoke.client_addr()).await,
            );
            until_linked(&a, &b, "link.up").await;
            exchange(&a, &b).await;
            exchange(&b, &a).await;
            spoke.shutdown().await;
        }
    } else {
        eprintln!("nats-server is not installed: the TLS leaf interop part is skipped");
    }
    hub.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn operator_fixture(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/operator")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[tokio::test]
async fn leafs_with_credentials_in_operator_mode() {
    // The hub trusts the operator; the spoke signs the hub's nonce with
    // the seed of its creds file and is bound to the JWT's account.
    let operator = std::fs::read_to_string(operator_fixture("server.conf")).expect("fixture");
    let hub = start_from_config(&format!(
        "{operator}\nserver_name: OPHUB\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n"
    ))
    .await;
    let port = hub.leaf_addr().expect("leafnode port").port();
    let spoke = start_from_config(&format!(
        "server_name: CREDSPOKE\nleafnodes {{ remotes [ {{ url: \"nats://127.0.0.1:{port}\", credentials: \"{}\" }} ] }}\n",
        operator_fixture("plain.creds")
    ))
    .await;
    let on_hub = async_nats::ConnectOptions::with_credentials_file(operator_fixture("plain.creds"))
        .await
        .expect("creds")
        .connect(format!("nats://{}", hub.client_addr()))
        .await
        .expect("hub client");
    let on_spoke = client(spoke.client_addr()).await;
    until_linked(&on_hub, &on_spoke, "link.up").await;
    exchange(&on_hub, &on_spoke).await;
    spoke.shutdown().await;

    // A user only allowed STANDARD connections is refused as a leaf.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let creds = std::fs::read_to_string(operator_fixture("standard_only.creds")).expect("creds");
    let block = |begin: &str| {
        let rest = &creds[creds.find(begin).expect("block") + begin.len()..];
        let body = &rest[rest.find('\n').expect("line") + 1..];
        body[..body.find("---").expect("end")].trim().to_owned()
    };
    let jwt = block("BEGIN NATS USER JWT");
    let seed = nkeys::KeyPair::from_seed(&block("BEGIN USER NKEY SEED")).expect("a seed");
    let mut stream = tokio::net::TcpStream::connect(hub.leaf_addr().expect("leafnode port"))
        .await
        .expect("connect");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.ends_with(b"\r\n") {
        let n = timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("INFO")
            .expect("read");
        seen.extend_from_slice(&buf[..n]);
    }
    let info: serde_json::Value =
        serde_json::from_slice(seen[5..].trim_ascii()).expect("INFO json");
    let nonce = info["nonce"].as_str().expect("a nonce");
    let signature = seed.sign(nonce.as_bytes()).expect("signed");
    let sig = data_encoding::BASE64URL_NOPAD.encode(&signature);
    let connect = serde_json::json!({"name": "STD", "jwt": jwt, "sig": sig});
    stream
        .write_all(format!("CONNECT {connect}\r\n").as_bytes())
        .await
        .expect("write");
    let mut answer = Vec::new();
    while let Ok(Ok(n)) = timeout(WAIT, stream.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.contains("-ERR 'Authorization Violation'"),
        "{answer}"
    );
    hub.shutdown().await;
}

/// A tinyproxy on loopback (killed on drop), when one is installed.
struct Tinyproxy {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Tinyproxy {
    async fn start(auth: &str) -> Option<Self> {
        let installed = std::process::Command::new("tinyproxy")
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success());
        if !installed {
            return None;
        }
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("starling-tinyproxy-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config = dir.join("tinyproxy.conf");
        std::fs::write(
            &config,
            format!("Port {port}\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\nMaxClients 16\nLogLevel Critical\n{auth}\n"),
        )
        .expect("config");
        let child = std::process::Command::new("tinyproxy")
            .args(["-d", "-c"])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tinyproxy starts");
        let proxy = Self { child, port, dir };
        let deadline = Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "tinyproxy did not listen");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some(proxy)
    }
}

#[tokio::test]
async fn a_remote_reaches_its_hub_through_an_http_proxy() {
    let Some(proxy) = Tinyproxy::start("BasicAuth leafuser s3cret").await else {
        eprintln!("tinyproxy is not installed: the proxy test is skipped");
        return;
    };
    let hub = start_from_config(
        "server_name: PROXIEDHUB\nleafnodes { host: 127.0.0.1, port: -1 }\nwebsocket { port: -1, no_tls: true }\n",
    )
    .await;
    let leaf_port = hub.leaf_addr().expect("leafnode port").port();
    let ws_port = hub.websocket_addr().expect("websocket port").port();
    let proxy_block = format!(
        "proxy {{ url: \"http://127.0.0.1:{}\", username: leafuser, password: s3cret }}",
        proxy.port
    );
    for (url, name) in [
        (format!("nats://127.0.0.1:{leaf_port}"), "TCPBEHIND"),
        (format!("ws://127.0.0.1:{ws_port}"), "WSBEHIND"),
    ] {
        let spoke = start_from_config(&format!(
            "server_name: {name}\nleafnodes {{ remotes [ {{ url: \"{url}\", {proxy_block} }} ] }}\n"
        ))
        .await;
        let (a, b) = (
            client(hub.client_addr()).await,
            client(spoke.client_addr()).await,
        );
        until_linked(&a, &b, "link.up").await;
        exchange(&a, &b).await;
        spoke.shutdown().await;
    }
    hub.shutdown().await;
}

/// How many of `subjects`, published in turn by `from`, reach `to`'s
/// subscription to `secret.>` (one subscription for the whole check, its
/// interest known to have crossed once a probe arrives; a fence after
/// each publish decides).
async fn crossing(from: &Client, to: &Client, subjects: &[&str]) -> Vec<bool> {
    let mut sub = to.subscribe("secret.>").await.expect("subscribe");
    round_trip(to).await;
    delivered(from, &mut sub, "secret.probe").await;
    fence(from, to).await;
    count(&mut [&mut sub]).await;
    let mut arrived = Vec::new();
    for subject in subjects {
        from.publish((*subject).to_owned(), "x".into())
            .await
            .expect("publish");
        fence(from, to).await;
        arrived.push(count(&mut [&mut sub]).await > 0);
    }
    arrived
}

#[tokio::test]
async fn a_remotes_deny_lists_hold_both_ways() {
    let spoke_config = |port: u16| {
        format!(
            "server_name: DENYSPOKE\nleafnodes {{ remotes [ {{ url: \"nats://127.0.0.1:{port}\", deny_imports: [\"secret.in\"], deny_exports: [\"secret.out\"] }} ] }}\n"
        )
    };
    let check = |a: Client, b: Client| async move {
        until_linked(&a, &b, "link.up").await;
        // The hub's messages: denied imports do not arrive, others do.
        let subjects = ["secret.in", "secret.other"];
        assert_eq!(
            crossing(&a, &b, &subjects).await,
            [false, true],
            "deny_imports"
        );
        // The spoke's: denied exports stay here, even for wildcard interest.
        let subjects = ["secret.out", "secret.other"];
        assert_eq!(
            crossing(&b, &a, &subjects).await,
            [false, true],
            "deny_exports"
        );
        // A literal interest in a denied export is not even taken.
        let mut literal = a.subscribe("secret.out").await.expect("subscribe");
        round_trip(&a).await;
        b.publish("secret.out", "x".into()).await.expect("publish");
        fence(&b, &a).await;
        assert_eq!(count(&mut [&mut literal]).await, 0, "deny_exports");
    };
    let hub = start_from_config(&starling_hub()).await;
    let spoke = start_from_config(&spoke_config(
        hub.leaf_addr().expect("leafnode port").port(),
    ))
    .await;
    check(
        client(hub.client_addr()).await,
        client(spoke.client_addr()).await,
    )
    .await;
    spoke.shutdown().await;
    hub.shutdown().await;
    if NatsServer::installed() {
        // A nats-server hub honours the spoke's deny_pub.
        let leaf_port = free_port();
        let nats = NatsServer::start(
            &format!(
                "server_name: NATSDENYHUB\nleafnodes {{ host: 127.0.0.1, port: {leaf_port} }}\n"
            ),
            &[],
        )
        .await;
        let spoke = start_from_config(&spoke_config(leaf_port)).await;
        check(client(nats.addr).await, client(spoke.client_addr()).await).await;
        spoke.shutdown().await;
    }
}

#[tokio::test]
async fn a_stuck_leaf_is_cut_off_and_stalls_no_local_client() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hub = start_from_config(&starling_hub()).await;
    // A leaf that completes its handshake, wants `flood`, then reads
    // nothing more.
    let mut stuck = tokio::net::TcpStream::connect(hub.leaf_addr().expect("leafnode port"))
        .await
        .expect("connect");
    stuck
        .write_all(b"CONNECT {\"name\":\"STUCK\",\"version\":\"2.9.10\"}\r\nLS+ flood\r\n")
        .await
        .expect("write");
    let publisher = client(hub.client_addr()).await;
    let other = client(hub.client_addr()).await;
    // The interest is in once a local fence after it has crossed: the
    // hub handles the leaf's operations in order, so a publish that
    // follows a round trip of the leaf's own PING sees it.
    stuck.write_all(b"PING\r\n").await.expect("write");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("PONG") {
        let n = timeout(WAIT, stuck.read(&mut buf))
            .await
            .expect("PONG")
            .expect("read");
        seen.extend_from_slice(&buf[..n]);
    }
    // 128 MB for the leaf, twice its max_pending: it is cut off as a slow
    // consumer rather than holding the publisher.
    let payload = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
    for _ in 0..2048 {
        publisher
            .publish("flood", payload.clone())
            .await
            .expect("publish");
    }
    timeout(Duration::from_secs(30), round_trip(&publisher))
        .await
        .expect("the publisher is not held for good");
    timeout(Duration::from_secs(5), round_trip(&other))
        .await
        .expect("another client is served meanwhile");
    // The stuck leaf's connection is closed by the hub.
    let closed = timeout(Duration::from_secs(30), async {
        loop {
            match stuck.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the stuck leaf was cut off");
    hub.shutdown().await;
}

#[tokio::test]
async fn leaf_links_share_a_queue_group_by_their_weights() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hub = start_from_config(&starling_hub()).await;
    let addr = hub.leaf_addr().expect("leafnode port");
    // Two leafs serve `grp`: one with 1 member behind it, one with 3 (its
    // weight raised by a repeated LS+).
    let mut leafs = Vec::new();
    for (name, lines) in [
        ("ONE", "LS+ work grp 1\r\n"),
        ("THREE", "LS+ work grp 1\r\nLS+ work grp 3\r\n"),
    ] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let hello = format!(
            "CONNECT {{\"name\":\"{name}\",\"cluster\":\"{name}\",\"version\":\"2.9.10\"}}\r\n{lines}PING\r\n"
        );
        stream.write_all(hello.as_bytes()).await.expect("write");
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("PONG") {
            let n = match timeout(WAIT, stream.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                other => panic!("{name}: {other:?} after {}", String::from_utf8_lossy(&seen)),
            };
            seen.extend_from_slice(&buf[..n]);
        }
        leafs.push(stream);
    }
    let publisher = client(hub.client_addr()).await;
    for i in 0..400 {
        publisher
            .publish("work", format!("{i}").into())
            .await
            .expect("publish");
    }
    round_trip(&publisher).await;
    // Each message goes to exactly one of them: read until all 400 came.
    let mut counts = [0usize; 2];
    let mut pending = [String::new(), String::new()];
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 65536];
    while counts.iter().sum::<usize>() < 400 {
        assert!(Instant::now() < deadline, "only {counts:?} of 400 arrived");
        for (i, stream) in leafs.iter_mut().enumerate() {
            if let Ok(Ok(n)) = timeout(Duration::from_millis(20), stream.read(&mut buf)).await {
                pending[i].push_str(&String::from_utf8_lossy(&buf[..n]));
                counts[i] += pending[i].matches("LMSG work | grp").count();
                let keep = pending[i]
                    .rfind("LMSG")
                    .map_or(0, |at| at + 1)
                    .min(pending[i].len());
                pending[i] = pending[i][keep..].to_owned();
            }
        }
    }
    // 1:3 expected (100 and 300); far outside it is a bug, not chance.
    assert!((40..=160).contains(&counts[0]), "{counts:?}");
    hub.shutdown().await;
}

/// The server ids that answer `$SYS.REQ.SERVER.PING.CONNZ` from `client`,
/// once `want` of them have.
async fn connz_answers(client: &Client, want: usize) -> std::collections::BTreeSet<String> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.expect("subscribe");
    round_trip(client).await;
    client
        .publish_with_reply("$SYS.REQ.SERVER.PING.CONNZ", inbox, "".into())
        .await
        .expect("publish");
    let mut ids = std::collections::BTreeSet::new();
    while ids.len() < want {
        let Ok(Some(message)) = timeout(WAIT, sub.next()).await else {
            break;
        };
        let answer: serde_json::Value = serde_json::from_slice(&message.payload).expect("JSON");
        ids.insert(
            answer["server"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    ids
}

#[tokio::test]
async fn imported_system_requests_cross_leaf_links() {
    let hub = start_from_config(&starling_hub()).await;
    let port = hub.leaf_addr().expect("leafnode port").port();
    let remote = format!("leafnodes {{ remotes [ {{ url: \"nats://127.0.0.1:{port}\" }} ] }}\n");
    let spoke = start_from_config(&format!("server_name: SYSSPOKE\n{remote}")).await;
    let (a, b) = (
        client(hub.client_addr()).await,
        client(spoke.client_addr()).await,
    );
    until_linked(&a, &b, "link.up").await;
    // Each side's own server answers, and the other's across the link.
    let ids = connz_answers(&b, 2).await;
    assert!(
        ids.contains(hub.server_id()) && ids.contains(spoke.server_id()),
        "{ids:?}"
    );
    let ids = connz_answers(&a, 2).await;
    assert!(
        ids.contains(hub.server_id()) && ids.contains(spoke.server_id()),
        "{ids:?}"
    );
    spoke.shutdown().await;
    if NatsServer::installed() {
        let nats = NatsServer::start(&format!("server_name: NATSSYSLEAF\n{remote}"), &[]).await;
        let b = client(nats.addr).await;
        until_linked(&a, &b, "link.nats").await;
        let ids = connz_answers(&b, 2).await;
        assert!(ids.contains(hub.server_id()) && ids.len() == 2, "{ids:?}");
        let ids = connz_answers(&a, 2).await;
        assert!(ids.contains(hub.server_id()) && ids.len() == 2, "{ids:?}");
    }
    hub.shutdown().await;
}
