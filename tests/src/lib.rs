//! Helpers for the end-to-end tests: start a server in process on a free
//! loopback port, and talk raw protocol to it.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

pub mod crossing;
pub mod json_shape;
pub mod nats_jwt;
pub mod nats_server;
pub mod sessions;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use starling_server::{Server, ServerOptions};
use starling_ws::deflate::Inflater;
use starling_ws::frame::{OpCode, decode_header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(5);

/// Starts a server on 127.0.0.1 with a free port and the given changes to
/// the default options.
pub async fn start_server(configure: impl FnOnce(&mut ServerOptions)) -> Server {
    let mut options = ServerOptions {
        host: "127.0.0.1".to_owned(),
        port: 0,
        ..ServerOptions::default()
    };
    configure(&mut options);
    Server::start(options).await.unwrap()
}

/// Starts a server with a plain (`no_tls`) websocket listener on a free
/// loopback port, with `configure` applied to the websocket options.
pub async fn start_websocket_server(
    configure: impl FnOnce(&mut starling_ws::WebsocketOptions),
) -> Server {
    let mut websocket = starling_ws::WebsocketOptions {
        host: "127.0.0.1".to_owned(),
        port: 0,
        no_tls: true,
        ..starling_ws::WebsocketOptions::default()
    };
    configure(&mut websocket);
    start_server(|o| o.websocket = Some(websocket)).await
}

/// The `ws://` URL of a server's websocket listener.
pub fn ws_url(server: &Server) -> String {
    format!("ws://{}", server.websocket_addr().unwrap())
}

/// Sends an HTTP request to the websocket port and returns the answer:
/// everything until the server closes, or the head of a `101` (after
/// which the connection stays open).
pub async fn http_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if out.starts_with(b"HTTP/1.1 101") && out.windows(4).any(|w| w == b"\r\n\r\n") {
            return out;
        }
        match timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Waits until the server has processed everything `client` sent so far
/// (async-nats's `flush` only writes to the socket): a message to itself
/// comes back only after its earlier subscriptions are in place.
pub async fn round_trip(client: &async_nats::Client) {
    use futures_util::StreamExt;
    let inbox = client.new_inbox();
    let mut echo = client.subscribe(inbox.clone()).await.unwrap();
    client.publish(inbox, "sync".into()).await.unwrap();
    timeout(Duration::from_secs(5), echo.next())
        .await
        .expect("round trip")
        .expect("open");
}

/// Starts a server from configuration text (as `-c` would read it), on
/// free loopback ports for TCP and, if configured, websocket.
pub async fn start_from_config(text: &str) -> Server {
    let root = starling_conf::parse_str(text).unwrap();
    let mut options = starling_server::options_from_config(&root).unwrap().server;
    options.host = "127.0.0.1".to_owned();
    options.port = 0;
    if let Some(ws) = &mut options.websocket {
        ws.host = "127.0.0.1".to_owned();
        ws.port = 0;
    }
    Server::start(options).await.unwrap()
}

/// Like [`round_trip`], but reports a connection that can't round-trip
/// (for instance one the server refused) instead of failing.
pub async fn round_trip_ok(client: &async_nats::Client) -> bool {
    use futures_util::StreamExt;
    let inbox = client.new_inbox();
    let Ok(mut echo) = client.subscribe(inbox.clone()).await else {
        return false;
    };
    if client.publish(inbox, "sync".into()).await.is_err() {
        return false;
    }
    matches!(
        timeout(Duration::from_secs(2), echo.next()).await,
        Ok(Some(_))
    )
}

/// The `nats://` URL of a server.
pub fn url(server: &Server) -> String {
    format!("nats://{}", server.client_addr())
}

/// A raw protocol connection for byte-level checks.
pub struct RawClient {
    stream: TcpStream,
    /// The INFO line the server sent on connect.
    pub info: String,
}

impl RawClient {
    /// Connects and reads the INFO line.
    pub async fn connect(addr: SocketAddr) -> Self {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut info = Vec::new();
        while !info.ends_with(b"\r\n") {
            let mut byte = [0u8; 1];
            let n = timeout(Duration::from_secs(5), stream.read(&mut byte))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(n, 1, "closed before INFO");
            info.push(byte[0]);
        }
        Self {
            stream,
            info: String::from_utf8(info).unwrap(),
        }
    }

    /// Sends bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads until `pattern` has arrived, the peer closes, or `limit`
    /// passes. Returns everything read and whether the peer closed.
    pub async fn read_until(&mut self, pattern: &[u8], limit: Duration) -> (Vec<u8>, bool) {
        let deadline = Instant::now() + limit;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if !pattern.is_empty() && out.windows(pattern.len()).any(|w| w == pattern) {
                return (out, false);
            }
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
                Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
                Err(_) => return (out, false),
            }
        }
    }

    /// Reads until the peer closes (or `limit` passes: then `false`).
    pub async fn read_to_close(&mut self, limit: Duration) -> (Vec<u8>, bool) {
        self.read_until(b"", limit).await
    }

    /// The underlying stream.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}

/// The start of a valid websocket upgrade request (add headers, then `\r\n`).
pub const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// Upgrades a raw socket; returns it with the server's 101 consumed.
pub async fn raw_upgrade(addr: SocketAddr, extra: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("{UPGRADE}{extra}\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    (stream, String::from_utf8(head).unwrap())
}

/// Reads whole frames from a raw socket until `until` matches the payloads.
pub async fn read_frames(
    stream: &mut TcpStream,
    inflate: bool,
    until: &[u8],
) -> (Vec<u8>, Vec<(OpCode, bool, Vec<u8>)>) {
    let mut raw = BytesMut::new();
    let (mut payloads, mut frames) = (Vec::new(), Vec::new());
    while !payloads.ends_with(until) {
        let mut buf = [0u8; 4096];
        let n = timeout(WAIT, stream.read(&mut buf)).await.unwrap().unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        while let Some((header, at)) = decode_header(&raw).unwrap() {
            if raw.len() < at + header.len as usize {
                break;
            }
            let body = raw.split_to(at + header.len as usize)[at..].to_vec();
            let data = if header.rsv1 && inflate {
                let mut out = Vec::new();
                Inflater::new()
                    .decompress(&body, 64 << 20, &mut out)
                    .unwrap();
                out
            } else {
                body
            };
            if header.opcode == OpCode::Binary || header.opcode == OpCode::Continuation {
                payloads.extend_from_slice(&data);
            }
            frames.push((header.opcode, header.rsv1, data));
        }
    }
    (payloads, frames)
}
