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
