//! Reaching a hub: through an HTTP proxy (`CONNECT`, basic
//! authentication), and reading its first line (the INFO, in plaintext
//! even before TLS) without taking what follows.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A TCP stream to `address` through an HTTP proxy: `CONNECT`, with
/// basic authentication when configured, and a `200` answer.
pub(super) async fn tunnel(proxy: &crate::LeafProxy, address: &str) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(&proxy.address).await?;
    let mut request = format!("CONNECT {address} HTTP/1.1\r\nHost: {address}\r\n");
    if let Some((user, password)) = &proxy.credentials {
        let token =
            data_encoding::BASE64.encode(format!("{user}:{}", password.expose()).as_bytes());
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    // Read the answer byte by byte: what follows it is the hub's.
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 || answer.len() > 16 * 1024 {
            return Err(std::io::Error::other("the proxy closed"));
        }
        answer.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&answer);
    let status = status.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(std::io::Error::other(format!(
            "the proxy answered {status:?}"
        )));
    }
    Ok(stream)
}

/// The first line the hub sends (its INFO), read byte by byte so that
/// nothing after it (the TLS handshake) is taken.
pub(super) async fn first_line(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        if stream.read(&mut byte).await? == 0 || line.len() > 64 * 1024 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        line.push(byte[0]);
    }
    Ok(line)
}
