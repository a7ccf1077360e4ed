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

use super::dial::{Dialer, first_line, tunnel};
use super::websocket::over_websocket;
use super::{Conn, Ended, handshake, run_link, spawn_writer};
use crate::LeafRemote;
use crate::account::OriginKind;
use crate::broker::Broker;
use crate::client::Framing;
use crate::identity::FastRng;
use crate::link::{CloseReason, Link};
use crate::options::RemoteUrl;
use starling_proto::encode;
use starling_proto::leaf::LeafOp;

use super::source::{Plain, Source};

/// nats-server's waits: to dial, for the first INFO, for the INFO that
/// answers CONNECT, and before retrying after a loop or a refusal.
const DIAL_TIMEOUT: Duration = Duration::from_secs(1);
const INFO_WAIT: Duration = Duration::from_secs(1);
const CONNECT_INFO_WAIT: Duration = Duration::from_secs(2);
const WAIT_LONGER: Duration = Duration::from_secs(30);
/// Starts one task per configured remote; they stop when `stopped` says so.
pub(crate) fn start_remotes(
    broker: &Arc<Broker>,
    dialers: &[Arc<Dialer>],
    stopped: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let Some(leaf) = &broker.options.leaf else {
        return Vec::new();
    };
    leaf.remotes
        .iter()
        .zip(
            dialers
                .iter()
                .cloned()
                .chain(std::iter::repeat_with(|| Arc::new(Dialer::default()))),
        )
        .map(|(remote, dialer)| {
            let urls: Vec<RemoteUrl> = remote
                .urls
                .iter()
                .filter_map(|u| RemoteUrl::parse(u).ok())
                .collect();
            tokio::spawn(solicit(
                Arc::clone(broker),
                remote.clone(),
                (urls, dialer),
                stopped.clone(),
            ))
        })
        .collect()
}

async fn solicit(
    broker: Arc<Broker>,
    remote: LeafRemote,
    (mut urls, dialer): (Vec<RemoteUrl>, Arc<Dialer>),
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
    let mut attempts = Attempts::default();
    loop {
        if *stopped.borrow() {
            return;
        }
        let url = urls[next % urls.len()].clone();
        next += 1;
        let ended = attempt(&broker, &remote, (&url, &mut attempts), &dialer).await;
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

/// Failed dials of a remote, for how loudly each is logged.
#[derive(Debug, Default)]
struct Attempts {
    failed: u64,
    ever_connected: bool,
}

impl Attempts {
    /// A dial failed: logged as nats-server logs it, at error level the
    /// first time and every `connect_error_reports` (or, once connected,
    /// `reconnect_error_reports`) attempts, at debug level otherwise.
    fn failed(&mut self, broker: &Broker, address: &str, error: &dyn std::fmt::Display) {
        self.failed += 1;
        let n = self.failed;
        if broker.live.reports_connect_error(self.ever_connected, n) {
            tracing::error!(
                "Error trying to connect as leafnode to remote server {address:?} (attempt {n}): {error}"
            );
        } else {
            tracing::debug!(
                "Error trying to connect as leafnode to remote server {address:?} (attempt {n}): {error}"
            );
        }
    }

    fn reached(&mut self) {
        self.failed = 0;
        self.ever_connected = true;
    }
}

/// One connection to `url`, until it ends.
async fn attempt(
    broker: &Arc<Broker>,
    remote: &LeafRemote,
    (url, attempts): (&RemoteUrl, &mut Attempts),
    dialer: &Dialer,
) -> Ended {
    let address = format!("{}:{}", url.host, url.port);
    let stream = match &remote.proxy {
        Some(proxy) => match tokio::time::timeout(proxy.timeout, tunnel(proxy, &address)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::warn!(
                    "Leafnode {address}: through proxy {}: {error}",
                    proxy.address
                );
                return Ended::Normally;
            }
            Err(_) => {
                tracing::debug!("Leafnode {address}: proxy {} timed out", proxy.address);
                return Ended::Normally;
            }
        },
        None => match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&address)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                attempts.failed(broker, &address, &error);
                return Ended::Normally;
            }
            Err(_) => {
                attempts.failed(broker, &address, &"i/o timeout");
                return Ended::Normally;
            }
        },
    };
    attempts.reached();
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
            let mut stream = stream;
            // The hub's INFO comes in plaintext, TLS or not.
            let first = tokio::time::timeout_at(info_deadline, first_line(&mut stream)).await;
            let Ok(Ok(line)) = first else {
                tracing::debug!("Leafnode {address}: no INFO within {INFO_WAIT:?}");
                return Ended::Normally;
            };
            let hub = line
                .strip_prefix(b"INFO")
                .and_then(|json| handshake::hub_info(json.trim_ascii()));
            let Some(hub) = hub else {
                tracing::warn!("Leafnode {address}: attempted to connect to wrong port");
                return Ended::Normally;
            };
            if url.tls || hub.tls_required || remote.tls.is_some() {
                let Some((connector, tls_timeout)) = dialer.tls(remote).await else {
                    return Ended::WaitLonger;
                };
                let Ok(name) = rustls_pki_types::ServerName::try_from(url.host.clone()) else {
                    return Ended::Normally;
                };
                let secured =
                    tokio::time::timeout(tls_timeout, connector.connect(name, stream)).await;
                let tls_stream = match secured {
                    Ok(Ok(tls_stream)) => tls_stream,
                    Ok(Err(error)) => {
                        tracing::warn!("Leafnode {address}: TLS handshake error: {error}");
                        return Ended::Normally;
                    }
                    Err(_) => return Ended::Normally,
                };
                let (reader, writer) = tokio::io::split(tls_stream);
                let writer = spawn_writer(broker, &link, writer, Framing::Raw);
                let conn = Conn::new(broker, Plain(reader), Arc::clone(&link), peer);
                return connect(
                    broker,
                    (remote, dialer),
                    url,
                    conn,
                    writer,
                    (info_deadline, Some(hub)),
                )
                .await;
            }
            let (reader, writer) = stream.into_split();
            let writer = spawn_writer(broker, &link, writer, Framing::Raw);
            let conn = Conn::new(broker, Plain(reader), Arc::clone(&link), peer);
            connect(
                broker,
                (remote, dialer),
                url,
                conn,
                writer,
                (info_deadline, Some(hub)),
            )
            .await
        }
        Some(path) if url.tls => {
            let Some((connector, tls_timeout)) = dialer.tls(remote).await else {
                return Ended::WaitLonger;
            };
            let Ok(name) = rustls_pki_types::ServerName::try_from(url.host.clone()) else {
                return Ended::Normally;
            };
            match tokio::time::timeout(tls_timeout, connector.connect(name, stream)).await {
                Ok(Ok(tls_stream)) => {
                    over_websocket(
                        broker,
                        (remote, dialer),
                        url,
                        tls_stream,
                        path,
                        (&link, peer),
                        info_deadline,
                    )
                    .await
                }
                Ok(Err(error)) => {
                    tracing::warn!("Leafnode {address}: TLS handshake error: {error}");
                    Ended::Normally
                }
                Err(_) => Ended::Normally,
            }
        }
        Some(path) => {
            over_websocket(
                broker,
                (remote, dialer),
                url,
                stream,
                path,
                (&link, peer),
                info_deadline,
            )
            .await
        }
    }
}

/// The handshake once the byte stream is up: the hub's INFO, CONNECT, the
/// INFO that answers it, then the link.
pub(super) async fn connect<S: Source>(
    broker: &Arc<Broker>,
    (remote, dialer): (&LeafRemote, &Dialer),
    url: &RemoteUrl,
    mut conn: Conn<S>,
    writer: JoinHandle<()>,
    (info_deadline, hub): (Instant, Option<handshake::HubInfo>),
) -> Ended {
    let link = Arc::clone(&conn.link);
    let cid = link.cid;
    let address = format!("{}:{}", url.host, url.port);
    let hub = match hub {
        Some(hub) => Some(hub),
        None => match conn.next_op(info_deadline).await {
            Some(LeafOp::Info(json)) => handshake::hub_info(&json),
            _ => None,
        },
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
    let jwt = dialer.credentials().map(|creds| {
        let (jwt, seed) = creds;
        (jwt.as_str(), seed.sign(hub.nonce.as_bytes()))
    });
    conn.send(&handshake::connect(
        broker,
        (remote.hub, &remote.deny_imports),
        credentials,
        jwt,
    ));
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
    let denies = super::Denies::of(&remote.deny_imports, &remote.deny_exports);
    run_link(
        broker,
        conn,
        writer,
        account,
        kind,
        hub.headers && !broker.options.no_header_support,
        (None, denies, &hub.cluster),
    )
    .await
}
