//! Helpers for the end-to-end tests: start a server in process on a free
//! loopback port, and talk raw protocol to it.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::net::SocketAddr;
use std::time::Duration;

use starling_server::{Server, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

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
