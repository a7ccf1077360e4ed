//! WebSocket end to end: async-nats over ws:// and wss://, a TCP client
//! and a websocket client talking to each other, fastwebsockets as an
//! independent peer, permessage-deflate, and the refusals.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt;
use starling_tests::{
    UPGRADE, http_exchange, raw_upgrade, read_frames, round_trip, start_websocket_server, url,
    ws_url,
};
use starling_ws::frame::OpCode;
use starling_ws::{deflate::Deflater, encode_client_frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    timeout(WAIT, sub.next())
        .await
        .expect("a message in time")
        .expect("open")
}

#[tokio::test]
async fn websocket_and_tcp_clients_talk_to_each_other() {
    let server = start_websocket_server(|_| {}).await;
    let ws = async_nats::connect(ws_url(&server)).await.unwrap();
    let tcp = async_nats::connect(url(&server)).await.unwrap();
    let mut on_ws = ws.subscribe("to.ws").await.unwrap();
    let mut on_tcp = tcp.subscribe("to.tcp").await.unwrap();
    round_trip(&ws).await;
    round_trip(&tcp).await;
    tcp.publish("to.ws", "from tcp".into()).await.unwrap();
    ws.publish("to.tcp", "from ws".into()).await.unwrap();
    assert_eq!(&next(&mut on_ws).await.payload[..], b"from tcp");
    assert_eq!(&next(&mut on_tcp).await.payload[..], b"from ws");

    // Request/reply and a large message across the transports.
    let mut service = ws.subscribe("svc").await.unwrap();
    round_trip(&ws).await;
    let responder = tokio::spawn(async move {
        let request = service.next().await.unwrap();
        ws.publish(request.reply.unwrap(), request.payload)
            .await
            .unwrap();
        ws.flush().await.unwrap();
    });
    let big = vec![7u8; 512 * 1024];
    let reply = tcp.request("svc", big.clone().into()).await.unwrap();
    assert_eq!(reply.payload.to_vec(), big);
    responder.await.unwrap();
}

#[tokio::test]
async fn secure_websocket_with_a_self_signed_certificate() {
    let dir = std::env::temp_dir().join(format!("starling-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let server = start_websocket_server(|ws| {
        ws.no_tls = false;
        ws.tls = Some(starling_ws::TlsOptions {
            ..starling_ws::TlsOptions::new(cert_file.clone(), key_file.clone())
        });
    })
    .await;
    let port = server.websocket_addr().unwrap().port();
    let client = async_nats::ConnectOptions::new()
        .add_root_certificates(cert_file.clone())
        .connect(format!("wss://localhost:{port}"))
        .await
        .unwrap();
    let mut sub = client.subscribe("secure").await.unwrap();
    client.publish("secure", "over tls".into()).await.unwrap();
    assert_eq!(&next(&mut sub).await.payload[..], b"over tls");

    // A plain HTTP request on the TLS port gets Go's answer.
    let reply = http_exchange(
        server.websocket_addr().unwrap(),
        format!("{UPGRADE}\r\n").as_bytes(),
    )
    .await;
    assert_eq!(
        reply,
        b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn refused_upgrades_get_nats_servers_statuses() {
    let server = start_websocket_server(|ws| {
        ws.origins =
            starling_ws::origin::OriginPolicy::new(false, &["http://good.example.com".to_owned()])
                .unwrap();
    })
    .await;
    let addr = server.websocket_addr().unwrap();
    let status = |reply: &[u8]| {
        String::from_utf8_lossy(reply)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let cases = [
        (
            "POST / HTTP/1.1\r\nHost: h\r\n\r\n".to_owned(),
            "HTTP/1.1 405 Method Not Allowed",
        ),
        (
            UPGRADE.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8") + "\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (
            UPGRADE.replace("Upgrade: websocket\r\n", "") + "\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (
            format!("{UPGRADE}Origin: http://evil.example.com\r\n\r\n"),
            "HTTP/1.1 403 Forbidden",
        ),
        (
            format!("{UPGRADE}Origin: https://good.example.com\r\n\r\n"),
            "HTTP/1.1 403 Forbidden",
        ),
        (
            format!("{UPGRADE}Origin: http://good.example.com:80\r\n\r\n"),
            "HTTP/1.1 101 Switching Protocols",
        ),
        (format!("{UPGRADE}\r\n"), "HTTP/1.1 101 Switching Protocols"),
    ];
    for (request, expected) in cases {
        let reply = http_exchange(addr, request.as_bytes()).await;
        assert_eq!(status(&reply), expected, "{request:?}");
    }
    let reply = String::from_utf8(http_exchange(addr, b"POST / HTTP/1.1\r\nHost: h\r\n\r\n").await)
        .unwrap();
    assert!(
        reply.ends_with("Content-Length: 19\r\n\r\nMethod Not Allowed\n"),
        "{reply}"
    );
    assert!(
        reply.contains("\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\n"),
        "{reply}"
    );
}

#[tokio::test]
async fn a_silent_peer_is_dropped_at_the_handshake_timeout() {
    let server =
        start_websocket_server(|ws| ws.handshake_timeout = Duration::from_millis(300)).await;
    let mut silent = TcpStream::connect(server.websocket_addr().unwrap())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let read = timeout(Duration::from_secs(5), silent.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "closed without a reply");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "not before the timeout"
    );
}

#[tokio::test]
async fn fastwebsockets_as_an_independent_peer() {
    use fastwebsockets::{Frame, OpCode as FwOpCode, Payload, Role, WebSocket};
    let server = start_websocket_server(|_| {}).await;
    let (stream, head) = raw_upgrade(server.websocket_addr().unwrap(), "").await;
    assert!(head.starts_with("HTTP/1.1 101"));
    let mut ws = WebSocket::after_handshake(stream, Role::Client);
    ws.set_auto_pong(false);
    ws.set_auto_close(false);
    let info = timeout(WAIT, ws.read_frame()).await.unwrap().unwrap();
    assert_eq!(info.opcode, FwOpCode::Binary);
    assert!(info.payload.starts_with(b"INFO {"));

    // One frame with several operations, then one operation over two frames.
    let ops = b"CONNECT {\"verbose\":false}\r\nSUB demo 1\r\nPUB demo 5\r\nhel".to_vec();
    ws.write_frame(Frame::new(
        false,
        FwOpCode::Binary,
        None,
        Payload::Owned(ops),
    ))
    .await
    .unwrap();
    ws.write_frame(Frame::new(
        true,
        FwOpCode::Continuation,
        None,
        Payload::Owned(b"lo\r\nPING\r\n".to_vec()),
    ))
    .await
    .unwrap();
    let mut got = Vec::new();
    while !got.ends_with(b"PONG\r\n") {
        let frame = timeout(WAIT, ws.read_frame()).await.unwrap().unwrap();
        assert_eq!(frame.opcode, FwOpCode::Binary);
        got.extend_from_slice(&frame.payload);
    }
    assert_eq!(got, b"MSG demo 1 5\r\nhello\r\nPONG\r\n");

    // A websocket ping gets a pong with the same payload.
    ws.write_frame(Frame::new(
        true,
        FwOpCode::Ping,
        None,
        Payload::Owned(b"are you there".to_vec()),
    ))
    .await
    .unwrap();
    let pong = timeout(WAIT, ws.read_frame()).await.unwrap().unwrap();
    assert_eq!(
        (pong.opcode, &pong.payload[..]),
        (FwOpCode::Pong, &b"are you there"[..])
    );

    // The close handshake: ours is echoed.
    ws.write_frame(Frame::close(1000, b"bye")).await.unwrap();
    let close = timeout(WAIT, ws.read_frame()).await.unwrap().unwrap();
    assert_eq!(close.opcode, FwOpCode::Close);
    assert_eq!(&close.payload[..2], &1000u16.to_be_bytes());
}

#[tokio::test]
async fn permessage_deflate_both_ways() {
    let server = start_websocket_server(|ws| ws.compression = true).await;
    let addr = server.websocket_addr().unwrap();
    let (mut stream, head) = raw_upgrade(
        addr,
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    )
    .await;
    assert!(head.contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"));
    let (info, frames) = read_frames(&mut stream, true, b" \r\n").await;
    assert!(info.starts_with(b"INFO {"));
    assert!(
        frames[0].1,
        "the INFO frame is compressed, as nats-server sends it"
    );

    let ops = b"CONNECT {\"verbose\":false}\r\nSUB z 1\r\nPUB z 64\r\n".to_vec();
    let mut all = ops.clone();
    all.extend_from_slice(&[b'q'; 64]);
    all.extend_from_slice(b"\r\nPING\r\n");
    let mut frame = compressed_frame(&all, [9, 8, 7, 6]);
    // An uncompressed message is still accepted on a compressed connection.
    encode_client_frame(
        &mut frame,
        OpCode::Text,
        true,
        false,
        b"PING\r\n",
        [1, 1, 1, 1],
    );
    stream.write_all(&frame).await.unwrap();
    let (got, frames) = read_frames(&mut stream, true, b"PONG\r\nPONG\r\n").await;
    let mut expected = b"MSG z 1 64\r\n".to_vec();
    expected.extend_from_slice(&[b'q'; 64]);
    expected.extend_from_slice(b"\r\nPONG\r\nPONG\r\n");
    assert_eq!(got, expected);
    assert!(
        frames.iter().any(|f| f.1),
        "the server compressed its replies"
    );
}

#[tokio::test]
async fn malformed_frames_close_with_a_protocol_error() {
    let server = start_websocket_server(|_| {}).await;
    let addr = server.websocket_addr().unwrap();
    let unmasked = b"\x82\x06PING\r\n".to_vec();
    let mut rsv1 = BytesMut::new();
    encode_client_frame(
        &mut rsv1,
        OpCode::Binary,
        true,
        true,
        b"PING\r\n",
        [1, 2, 3, 4],
    );
    let mut long_ping = BytesMut::new();
    long_ping.extend_from_slice(&[0x89, 0xFE, 0x00, 0x7E, 1, 2, 3, 4]);
    long_ping.extend_from_slice(&[0u8; 126]);
    for bad in [
        unmasked,
        rsv1.to_vec(),
        long_ping.to_vec(),
        vec![0x83, 0x80, 1, 2, 3, 4],
    ] {
        let (mut stream, _) = raw_upgrade(addr, "").await;
        read_frames(&mut stream, false, b" \r\n").await;
        stream.write_all(&bad).await.unwrap();
        let (_, frames) = read_frames(&mut stream, false, b"\x00never").await;
        let close = frames
            .iter()
            .find(|f| f.0 == OpCode::Close)
            .expect("a close frame");
        assert_eq!(&close.2[..2], &1002u16.to_be_bytes(), "{bad:?}");
    }
}

#[tokio::test]
async fn nats_errors_arrive_before_the_close_frame() {
    let server = start_websocket_server(|_| {}).await;
    let (mut stream, _) = raw_upgrade(server.websocket_addr().unwrap(), "").await;
    read_frames(&mut stream, false, b" \r\n").await;
    let mut frame = BytesMut::new();
    encode_client_frame(
        &mut frame,
        OpCode::Binary,
        true,
        false,
        b"CONNECT {\"verbose\":false}\r\nPUB foo 2000000\r\n",
        [5, 5, 5, 5],
    );
    stream.write_all(&frame).await.unwrap();
    let (payloads, frames) = read_frames(&mut stream, false, b"\x00never").await;
    assert_eq!(payloads, b"-ERR 'Maximum Payload Violation'\r\n");
    let close = frames.last().unwrap();
    assert_eq!(close.0, OpCode::Close);
    assert_eq!(&close.2[..], b"\x03\xf1Maximum Message Payload Exceeded");
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    for (trusted, expected) in [(true, "10.9.8.7"), (false, "127.0.0.1")] {
        let server = start_websocket_server(|ws| {
            if trusted {
                ws.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            }
        })
        .await;
        let (mut stream, _) = raw_upgrade(
            server.websocket_addr().unwrap(),
            "X-Forwarded-For: 10.9.8.7\r\n",
        )
        .await;
        let (info, _) = read_frames(&mut stream, false, b" \r\n").await;
        let info = String::from_utf8_lossy(&info).into_owned();
        assert!(
            info.contains(&format!("\"client_ip\":\"{expected}\"")),
            "trusted={trusted}: {info}"
        );
    }
}

#[tokio::test]
async fn shutdown_sends_going_away() {
    let server = start_websocket_server(|_| {}).await;
    let (mut stream, _) = raw_upgrade(server.websocket_addr().unwrap(), "").await;
    read_frames(&mut stream, false, b" \r\n").await;
    let shutdown = tokio::spawn(async move { server.shutdown().await });
    let (_, frames) = read_frames(&mut stream, false, b"\x00never").await;
    let close = frames.last().expect("a close frame");
    assert_eq!(
        (close.0, &close.2[..]),
        (OpCode::Close, &b"\x03\xe9Server Shutdown"[..])
    );
    shutdown.await.unwrap();
}

#[tokio::test]
async fn a_half_sent_frame_times_out() {
    let server = starling_tests::start_server(|o| {
        o.write_deadline = Duration::from_millis(300);
        o.websocket = Some(starling_ws::WebsocketOptions {
            host: "127.0.0.1".to_owned(),
            port: 0,
            no_tls: true,
            ..starling_ws::WebsocketOptions::default()
        });
    })
    .await;
    for partial in [
        &[0x82u8][..],
        &[0x82, 0xFE, 0x01][..],
        &[0x82, 0x85, 0, 0, 0, 0, b'P'][..],
    ] {
        let (mut stream, _) = raw_upgrade(server.websocket_addr().unwrap(), "").await;
        read_frames(&mut stream, false, b" \r\n").await;
        stream.write_all(partial).await.unwrap();
        let started = std::time::Instant::now();
        let (_, frames) = read_frames(&mut stream, false, b"\x00never").await;
        let close = frames.last().expect("a close frame");
        assert_eq!(
            (close.0, &close.2[..2]),
            (OpCode::Close, &1008u16.to_be_bytes()[..]),
            "{partial:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3), "{partial:?}");
    }
}

#[tokio::test]
async fn an_upgrade_with_seventy_headers_is_accepted() {
    let server = start_websocket_server(|_| {}).await;
    let extra: String = (0..70)
        .map(|i| format!("X-Forwarded-Something-{i}: value {i}\r\n"))
        .collect();
    let (_stream, head) = raw_upgrade(server.websocket_addr().unwrap(), &extra).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
}

#[tokio::test]
async fn a_compressed_message_of_many_pubs_past_max_payload_is_delivered() {
    // max_payload 1 MB; one compressed message carries 40 PUBs of 50 KB
    // (2 MB): each PUB is within the limit, so the message is fine.
    let server = start_websocket_server(|ws| ws.compression = true).await;
    let (mut stream, head) = raw_upgrade(
        server.websocket_addr().unwrap(),
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
    )
    .await;
    assert!(head.contains("permessage-deflate"));
    read_frames(&mut stream, true, b" \r\n").await;
    let mut all = b"CONNECT {\"verbose\":false}\r\nSUB big 1\r\n".to_vec();
    for i in 0..40u32 {
        // Noise, so it does not compress to nothing.
        let payload: Vec<u8> = (0..51_200u32)
            .map(|j| b'a' + ((j.wrapping_mul(2_654_435_761) ^ i) >> 27) as u8 % 26)
            .collect();
        all.extend_from_slice(b"PUB big 51200\r\n");
        all.extend_from_slice(&payload);
        all.extend_from_slice(b"\r\n");
    }
    all.extend_from_slice(b"PING\r\n");
    let frame = compressed_frame(&all, [3, 1, 4, 1]);
    stream.write_all(&frame).await.unwrap();
    let (got, _) = read_frames(&mut stream, true, b"PONG\r\n").await;
    let line = b"MSG big 1 51200\r\n";
    let messages = got.windows(line.len()).filter(|w| w == line).count();
    assert_eq!(messages, 40, "every PUB of the message");
    assert!(got.ends_with(b"PONG\r\n"));
}

/// `data` compressed as one masked client message (FIN, RSV1, binary).
fn compressed_frame(data: &[u8], mask: [u8; 4]) -> BytesMut {
    let mut compressed = Vec::new();
    Deflater::new().compress(data, &mut compressed);
    let mut frame = BytesMut::new();
    encode_client_frame(&mut frame, OpCode::Binary, true, true, &compressed, mask);
    frame
}
