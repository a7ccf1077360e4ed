//! The soliciting side over websocket: the upgrade nats-server's spoke
//! makes (to `/leafnode` and the URL's path, with compression and
//! no-masking as asked), then the leaf handshake over frames it masks
//! unless the hub agreed not to.

use std::sync::Arc;

use starling_ws::handshake::{ClientUpgrade, check_response, client_request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::dial::Dialer;
use super::remote::connect;
use super::source::Framed;
use super::{Conn, Ended, spawn_writer};
use crate::LeafRemote;
use crate::broker::Broker;
use crate::client::Framing;
use crate::link::Link;
use crate::options::RemoteUrl;

/// The link over websocket frames on `stream` (TCP, or TLS for `wss://`):
/// the upgrade to `path`, then the handshake.
pub(super) async fn over_websocket<T>(
    broker: &Arc<Broker>,
    (remote, dialer): (&LeafRemote, &Dialer),
    url: &RemoteUrl,
    mut stream: T,
    path: &str,
    (link, peer): (&Arc<Link>, std::net::SocketAddr),
    info_deadline: Instant,
) -> Ended
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let address = format!("{}:{}", url.host, url.port);
    let cid = link.cid;
    let upgraded =
        tokio::time::timeout_at(info_deadline, upgrade(&mut stream, &address, path, remote)).await;
    let (agreed, leftover) = match upgraded {
        Ok(Ok(upgraded)) => upgraded,
        Ok(Err(error)) => {
            tracing::warn!("Error soliciting websocket connection to {address}: {error}");
            return Ended::Normally;
        }
        Err(_) => {
            tracing::debug!("Timeout soliciting websocket connection to {address}");
            return Ended::Normally;
        }
    };
    tracing::debug!(
        cid,
        "Leafnode compression={} masking={}",
        agreed.compress,
        !agreed.no_masking
    );
    let (reader, writer) = tokio::io::split(stream);
    let framing = Framing::WebsocketClient {
        compress: agreed.compress,
        mask: !agreed.no_masking,
    };
    let writer = spawn_writer(broker, link, writer, framing);
    let max = broker.live.max_payload() + broker.live.max_control_line() + 64 * 1024;
    // The hub's frames are never masked.
    let mut source = Framed::new(reader, Arc::clone(link), agreed.compress, true, max);
    source.feed(&leftover);
    let conn = Conn::new(broker, source, Arc::clone(link), peer);
    connect(
        broker,
        (remote, dialer),
        url,
        conn,
        writer,
        (info_deadline, None),
    )
    .await
}

/// The websocket upgrade to `path`: what the hub agreed to, and the bytes
/// that followed its reply (frames already).
async fn upgrade<T: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut T,
    host: &str,
    path: &str,
    remote: &LeafRemote,
) -> Result<(ClientUpgrade, Vec<u8>), String> {
    let mut key = [0u8; 16];
    key.iter_mut()
        .zip(crate::identity::random_u64().to_le_bytes().repeat(2))
        .for_each(|(k, r)| *k = r);
    let key = data_encoding::BASE64.encode(&key);
    let request = client_request(
        host,
        path,
        &key,
        remote.ws_compression,
        remote.ws_no_masking,
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("invalid websocket connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some((agreed, used)) =
            check_response(&buf, &key, remote.ws_compression, remote.ws_no_masking)?
        {
            return Ok((agreed, buf.split_off(used)));
        }
    }
}
