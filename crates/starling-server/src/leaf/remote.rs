//! The soliciting side: one task per remote that dials its URLs in turn
//! (shuffled unless `no_randomize`), reads the hub's INFO within 1 s,
//! sends CONNECT with the URL's credentials, waits up to 2 s for the INFO
//! that answers it, then runs the link; and after it ends, waits
//! `reconnect` (30 s after a loop or a refusal) before the next attempt.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Conn, Ended, handshake, run_link};
use crate::LeafRemote;
use crate::account::OriginKind;
use crate::broker::Broker;
use crate::client::{Framing, write_loop};
use crate::identity::FastRng;
use crate::link::{CloseReason, Link};
use crate::options::RemoteUrl;
use starling_proto::encode;
use starling_proto::leaf::LeafOp;
use starling_ws::handshake::{ClientUpgrade, check_response, client_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::source::{Framed, Plain, Source};

/// nats-server's waits: to dial, for the first INFO, for the INFO that
/// answers CONNECT, and before retrying after a loop or a refusal.
const DIAL_TIMEOUT: Duration = Duration::from_secs(1);
const INFO_WAIT: Duration = Duration::from_secs(1);
const CONNECT_INFO_WAIT: Duration = Duration::from_secs(2);
const WAIT_LONGER: Duration = Duration::from_secs(30);

/// Starts one task per configured remote; they stop when `stopped` says so.
pub(crate) fn start_remotes(
    broker: &Arc<Broker>,
    stopped: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let Some(leaf) = &broker.options.leaf else {
        return Vec::new();
    };
    leaf.remotes
        .iter()
        .map(|remote| {
            let urls: Vec<RemoteUrl> = remote
                .urls
                .iter()
                .filter_map(|u| RemoteUrl::parse(u).ok())
                .collect();
            tokio::spawn(solicit(
                Arc::clone(broker),
                remote.clone(),
                urls,
                stopped.clone(),
            ))
        })
        .collect()
}

async fn solicit(
    broker: Arc<Broker>,
    remote: LeafRemote,
    mut urls: Vec<RemoteUrl>,
    mut stopped: watch::Receiver<bool>,
) {
    if urls.is_empty() {
        return;
    }
    let reconnect = broker
        .options
        .leaf
        .as_ref()
        .map_or(Duration::from_secs(1), |l| l.reconnect);
    let mut rng = FastRng::new();
    if !remote.no_randomize {
        for i in (1..urls.len()).rev() {
            urls.swap(i, rng.below(i + 1));
        }
    }
    let mut next = 0;
    loop {
        if *stopped.borrow() {
            return;
        }
        let url = urls[next % urls.len()].clone();
        next += 1;
        let ended = attempt(&broker, &remote, &url).await;
        let wait = if ended == Ended::WaitLonger {
            WAIT_LONGER
        } else {
            reconnect
        };
        tokio::select! {
            _ = stopped.changed() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// One connection to `url`, until it ends.
async fn attempt(broker: &Arc<Broker>, remote: &LeafRemote, url: &RemoteUrl) -> Ended {
    let address = format!("{}:{}", url.host, url.port);
    let stream = match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&address)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(
                "Error trying to connect as leafnode to remote server {address}: {error}"
            );
            return Ended::Normally;
        }
        Err(_) => {
            tracing::debug!("Timeout connecting as leafnode to remote server {address}");
            return Ended::Normally;
        }
    };
    let _ = stream.set_nodelay(true);
    let Ok(peer) = stream.peer_addr() else {
        return Ended::Normally;
    };
    // Counted as a running connection: shutdown waits for it.
    let (cid, _guard) = broker.task();
    // The INFO wait covers the websocket upgrade too (nats-server's).
    let info_deadline = Instant::now() + INFO_WAIT;
    let link = Arc::new(Link::new(cid, broker.options.max_pending));
    match &url.websocket {
        None => {
            let (reader, writer) = stream.into_split();
            let writer = tokio::spawn(write_loop(
                Arc::clone(broker),
                Arc::clone(&link),
                writer,
                Framing::Raw,
            ));
            let conn = Conn::new(broker, Plain(reader), Arc::clone(&link), peer);
            connect(broker, remote, url, conn, writer, info_deadline).await
        }
        Some(path) => {
            let mut stream = stream;
            let upgraded = tokio::time::timeout_at(
                info_deadline,
                upgrade(&mut stream, &address, path, remote),
            )
            .await;
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
            let (reader, writer) = stream.into_split();
            let framing = Framing::WebsocketClient {
                compress: agreed.compress,
                mask: !agreed.no_masking,
            };
            let writer = tokio::spawn(write_loop(
                Arc::clone(broker),
                Arc::clone(&link),
                writer,
                framing,
            ));
            let options = &broker.options;
            let max = options.max_payload + options.max_control_line + 64 * 1024;
            // The hub's frames are never masked.
            let mut source = Framed::new(reader, Arc::clone(&link), agreed.compress, true, max);
            source.feed(&leftover);
            let conn = Conn::new(broker, source, Arc::clone(&link), peer);
            connect(broker, remote, url, conn, writer, info_deadline).await
        }
    }
}

/// The websocket upgrade to `path`: what the hub agreed to, and the bytes
/// that followed its reply (frames already).
async fn upgrade(
    stream: &mut TcpStream,
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

/// The handshake once the byte stream is up: the hub's INFO, CONNECT, the
/// INFO that answers it, then the link.
async fn connect<S: Source>(
    broker: &Arc<Broker>,
    remote: &LeafRemote,
    url: &RemoteUrl,
    mut conn: Conn<S>,
    writer: JoinHandle<()>,
    info_deadline: Instant,
) -> Ended {
    let link = Arc::clone(&conn.link);
    let cid = link.cid;
    let address = format!("{}:{}", url.host, url.port);
    let hub = match conn.next_op(info_deadline).await {
        Some(LeafOp::Info(json)) => handshake::hub_info(&json),
        _ => None,
    };
    let Some(hub) = hub else {
        tracing::warn!("Leafnode {address}: attempted to connect to wrong port");
        link.close(CloseReason::ProtocolViolation);
        super::finish(&link, writer).await;
        return Ended::Normally;
    };
    let credentials = url
        .user
        .as_ref()
        .map(|(user, pass)| (user.as_str(), pass.as_str()));
    conn.send(&handshake::connect(broker, remote.hub, credentials));
    if hub.info_on_connect {
        let deadline = Instant::now() + CONNECT_INFO_WAIT;
        loop {
            match conn.next_op(deadline).await {
                Some(LeafOp::Info(json)) if handshake::is_connect_info(&json) => break,
                Some(LeafOp::Ping) => conn.send(encode::PONG),
                Some(LeafOp::Err(text)) => {
                    let text = String::from_utf8_lossy(&text).into_owned();
                    tracing::warn!("Leafnode {address}: Leafnode Error {text}");
                    if text.contains("same cluster name") || text.contains("Loop detected") {
                        link.close(CloseReason::ProtocolViolation);
                        super::finish(&link, writer).await;
                        return Ended::WaitLonger;
                    }
                }
                Some(_) => {}
                None => {
                    if !link.is_closed() {
                        conn.send_err("Stale Leaf Node Connection - Closing");
                        link.close(CloseReason::StaleConnection);
                    }
                    super::finish(&link, writer).await;
                    return Ended::Normally;
                }
            }
        }
    }
    let account = broker.account(remote.account.as_deref());
    let kind = if remote.hub {
        OriginKind::LeafHub
    } else {
        OriginKind::LeafSpoke
    };
    tracing::info!(
        cid,
        "Connected leafnode to {address} ({:?}), account {:?}",
        hub.name,
        account.name
    );
    run_link(broker, conn, writer, account, kind, hub.headers, None).await
}
