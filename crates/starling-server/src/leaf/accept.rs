//! The accepting side of leaf links: on the leafnode port (plain, or INFO
//! in plaintext then TLS) and on the websocket port (`/leafnode`): the
//! INFO, CONNECT within the auth timeout, authentication, the INFO that
//! answers it, then the link.

use std::net::SocketAddr;
use std::sync::Arc;

use starling_auth::ConnectionKind;
use starling_proto::leaf::LeafOp;
use tokio::io::AsyncRead;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::source::{Framed, Plain, Source};
use super::{AUTH_TIMEOUT, Conn, finish, handshake, run_link, spawn_writer};
use crate::account::OriginKind;
use crate::broker::{Broker, LeafPeer};
use crate::client::{Framing, Time};
use crate::link::{CloseReason, Link};

/// Serves a leaf connection accepted on the leafnode port (`listen`: the
/// address its INFO names): INFO, CONNECT within the auth timeout,
/// authentication, the INFO that answers it, then the link.
pub(crate) async fn accept(
    broker: Arc<Broker>,
    mut stream: TcpStream,
    peer: SocketAddr,
    cid: u64,
    listen: (String, u16),
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let accepting = Accepting {
        cid,
        listen,
        kind: ConnectionKind::Leafnode,
        nonce: crate::identity::nonce().unwrap_or_default(),
        // The leafnode port's TLS as reloaded last.
        tls_verify: tls.as_ref().map(|_| {
            broker
                .live
                .options()
                .leaf
                .as_ref()
                .and_then(|l| l.tls.as_ref())
                .is_some_and(|t| t.verify)
        }),
        info_sent: false,
        certificate: None,
    };
    let link = Arc::new(Link::new(cid, broker.options.max_pending));
    let Some(acceptor) = tls else {
        let (reader, writer) = stream.into_split();
        let writer = spawn_writer(&broker, &link, writer, Framing::Raw);
        let conn = Conn::new(&broker, Plain(reader), Arc::clone(&link), peer);
        return handshake_accepted(broker, conn, writer, accepting).await;
    };
    // With TLS, nats-server 2.9.10 sends the INFO in plaintext, then the
    // leaf starts the handshake, which must end within the block's
    // `timeout` (2 s).
    let (host, port) = (accepting.listen.0.as_str(), accepting.listen.1);
    let info = handshake::info(
        &broker,
        (host, port),
        cid,
        Some(&accepting.nonce),
        None,
        accepting.tls_verify,
    );
    if tokio::io::AsyncWriteExt::write_all(&mut stream, &info)
        .await
        .is_err()
    {
        return;
    }
    let deadline = broker
        .live
        .options()
        .leaf
        .as_ref()
        .and_then(|leaf| leaf.tls.as_ref())
        .map_or(starling_ws::DEFAULT_TLS_TIMEOUT, |tls| tls.timeout);
    let handshake = tokio::time::timeout(deadline, acceptor.accept(stream));
    let tls_stream = match Box::pin(handshake).await {
        Ok(Ok(tls_stream)) => tls_stream,
        Ok(Err(error)) => {
            tracing::error!("{peer} - lid:{cid} - TLS leafnode handshake error: {error}");
            return;
        }
        Err(_) => {
            tracing::error!("{peer} - lid:{cid} - TLS handshake timeout");
            return;
        }
    };
    // What its certificate names (`verify_and_map`).
    let certificate = crate::tls::describe(tls_stream.get_ref().1).and_then(|n| n.names);
    let (reader, writer) = tokio::io::split(tls_stream);
    let writer = spawn_writer(&broker, &link, writer, Framing::Raw);
    let conn = Conn::new(&broker, Plain(reader), Arc::clone(&link), peer);
    let accepting = Accepting {
        info_sent: true,
        certificate,
        ..accepting
    };
    handshake_accepted(broker, conn, writer, accepting).await;
}

/// What an accepted link's handshake knows before CONNECT.
struct Accepting {
    cid: u64,
    /// The address the INFO names.
    listen: (String, u16),
    /// `LEAFNODE`, or `LEAFNODE_WS` on the websocket port.
    kind: ConnectionKind,
    nonce: String,
    /// TLS on the leaf protocol (and whether client certificates are
    /// verified), for the INFO's `tls_required`/`tls_verify`.
    tls_verify: Option<bool>,
    /// The first INFO went out already (before the TLS handshake).
    info_sent: bool,
    /// What the leaf's TLS certificate names, when it showed one.
    certificate: Option<Arc<starling_auth::CertNames>>,
}

/// Serves a leaf connection that came to the websocket port (its upgrade
/// request's path was `/leafnode`): the same handshake and link over
/// binary frames, if this server accepts leaf connections at all.
pub(crate) async fn accept_websocket<R, W>(
    broker: Arc<Broker>,
    (reader, writer): (R, W),
    (peer, certificate): (SocketAddr, Option<Arc<starling_auth::CertNames>>),
    cid: u64,
    upgrade: starling_ws::handshake::Upgrade,
) where
    R: AsyncRead + Send + 'static,
    W: tokio::io::AsyncWrite + Send + 'static,
{
    let Some(listen) = broker.leaf_listen.get().cloned() else {
        tracing::info!(
            cid,
            "{peer} - Not configured to accept leaf node connections"
        );
        return;
    };
    let link = Arc::new(Link::new(cid, broker.options.max_pending));
    let framing = Framing::Websocket {
        compress: upgrade.compress,
        browser: false,
        unmasked: upgrade.no_masking,
    };
    let writer = spawn_writer(&broker, &link, writer, framing);
    let max = broker.live.max_payload() + broker.live.max_control_line() + 64 * 1024;
    let reader = Box::pin(reader);
    let source = Framed::new(
        reader,
        Arc::clone(&link),
        upgrade.compress,
        upgrade.no_masking,
        max,
    );
    let conn = Conn::new(&broker, source, Arc::clone(&link), peer);
    let accepting = Accepting {
        cid,
        listen,
        kind: ConnectionKind::LeafnodeWs,
        nonce: crate::identity::nonce().unwrap_or_default(),
        tls_verify: None,
        info_sent: false,
        // The websocket listener's TLS (`verify_and_map` of the leafnode
        // port maps it, as nats-server's).
        certificate,
    };
    handshake_accepted(broker, conn, writer, accepting).await;
}

/// The accepting side's handshake, then the link.
async fn handshake_accepted<S: Source>(
    broker: Arc<Broker>,
    mut conn: Conn<S>,
    writer: JoinHandle<()>,
    accepting: Accepting,
) {
    let link = Arc::clone(&conn.link);
    let peer = conn.peer;
    let Accepting {
        cid,
        listen,
        kind: kind_of_connection,
        nonce,
        tls_verify,
        info_sent,
        certificate,
    } = accepting;
    let listen = (listen.0.as_str(), listen.1);
    if !info_sent {
        conn.send(&handshake::info(
            &broker,
            listen,
            cid,
            Some(&nonce),
            None,
            tls_verify,
        ));
    }
    let timeout = broker
        .options
        .leaf
        .as_ref()
        .and_then(|l| l.auth.timeout)
        .unwrap_or(AUTH_TIMEOUT);
    let json = match conn.next_op(Instant::now() + timeout).await {
        Some(LeafOp::Connect(json)) => json,
        Some(_) => {
            return refuse(
                conn,
                writer,
                "Authorization Violation",
                CloseReason::AuthenticationViolation,
            )
            .await;
        }
        None if link.is_closed() => return finish(&link, writer).await,
        None => {
            return refuse(
                conn,
                writer,
                "Authentication Timeout",
                CloseReason::AuthenticationTimeout,
            )
            .await;
        }
    };
    // The URL resolver fetches the leaf user's account first, if it is new.
    let user_jwt = serde_json::from_slice::<serde_json::Value>(&json)
        .ok()
        .and_then(|c| Some(c.get("jwt")?.as_str()?.to_owned()));
    if let Some(jwt) = user_jwt {
        broker.resolve_account_of(&jwt).await;
    }
    let checking = Arc::clone(&broker);
    let unix = Time::now().unix;
    let checked = tokio::task::spawn_blocking(move || {
        let from = (kind_of_connection, certificate.as_deref());
        handshake::accept_connect(&checking, &json, &nonce, from, unix)
    })
    .await;
    let accepted = match checked {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(refusal)) => {
            tracing::info!(
                cid,
                "{peer} - lid:{cid} - Leafnode refused: {}",
                refusal.text()
            );
            let reason = match refusal {
                handshake::Refusal::Unauthorized => CloseReason::AuthenticationViolation,
                _ => CloseReason::ProtocolViolation,
            };
            return refuse(conn, writer, &refusal.text(), reason).await;
        }
        Err(_) => return finish(&link, writer).await,
    };
    let account = broker.account(Some(&accepted.account));
    let info = handshake::info(&broker, listen, cid, None, Some(&account.name), tls_verify);
    conn.send(&info);
    let kind = if accepted.peer_is_hub {
        OriginKind::LeafSpoke
    } else {
        OriginKind::LeafHub
    };
    tracing::info!(
        cid,
        "{peer} - lid:{cid} - Leafnode connection created for account: {:?} (remote {:?})",
        account.name,
        accepted.name
    );
    let cluster = accepted.cluster.clone();
    let peer = LeafPeer {
        account: account.name.clone(),
        name: accepted.name,
        cluster: accepted.cluster,
    };
    let headers = accepted.headers && !broker.options.no_header_support;
    let denies = super::Denies::default();
    run_link(
        &broker,
        conn,
        writer,
        account,
        kind,
        headers,
        (Some(peer), denies, &cluster),
    )
    .await;
}

/// Sends `-ERR '<text>'` and closes the link for `reason`.
async fn refuse<S: Source>(conn: Conn<S>, writer: JoinHandle<()>, text: &str, reason: CloseReason) {
    conn.send(format!("-ERR '{text}'\r\n").as_bytes());
    conn.link.close(reason);
    finish(&conn.link, writer).await;
}
