//! The route handshake (`cluster.md` §2.4–2.6): on the accepting side,
//! the peer's CONNECT checked in nats-server's order with its `-ERR`
//! texts; on both, the peer's INFO checked (not this server, same
//! cluster, not this server's name) before the route is registered.

use std::sync::Arc;
use std::time::Duration;

use starling_proto::encode;
use starling_proto::leaf::LeafOp;
use tokio::time::Instant;

use crate::broker::Broker;
use crate::leaf::Conn;
use crate::leaf::source::Source;
use crate::link::CloseReason;
use starling_proto::route::{RouteConnect, RouteInfo};

/// How long a peer without authorization to check may take to send its
/// INFO (nats-server sets no limit; a silent peer is bounded here).
const INFO_LIMIT: Duration = Duration::from_secs(10);

/// Why the handshake ended without a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// Closed, refused or timed out: try again later.
    Closed,
    /// The peer is this server.
    ToSelf,
}

/// Reads until the peer's INFO, answering PINGs; `accepted` checks the
/// CONNECT first. `told` is the cluster name this server sent the peer.
pub(super) async fn handshake<S: Source>(
    broker: &Arc<Broker>,
    conn: &mut Conn<S>,
    accepted: bool,
    told: &str,
) -> Result<RouteInfo, Refused> {
    let Some(cluster) = &broker.cluster else {
        return Err(Refused::Closed);
    };
    let options = cluster.options();
    // A certificate checked at the handshake authorized the route already.
    let auth = accepted && options.user.is_some() && !options.authorized_by_certificate();
    let limit = if auth {
        cluster.options().auth_timeout
    } else {
        INFO_LIMIT
    };
    let deadline = Instant::now() + limit;
    let mut connected = false;
    loop {
        let Some(op) = conn.next_op(deadline).await else {
            if !conn.link.is_closed() && auth && !connected {
                conn.send_err("Authentication Timeout");
                conn.link.close(CloseReason::AuthenticationTimeout);
            }
            conn.link.close(CloseReason::ClientClosed);
            return Err(Refused::Closed);
        };
        match op {
            LeafOp::Connect(json) if accepted => {
                check_connect(broker, conn, &json, told).await?;
                connected = true;
            }
            _ if auth && !connected => {
                conn.send_err("Authorization Violation");
                conn.link.close(CloseReason::AuthenticationViolation);
                return Err(Refused::Closed);
            }
            LeafOp::Ping => conn.send(encode::PONG),
            LeafOp::Info(json) => return check_info(broker, conn, &json, (accepted, told)),
            LeafOp::Err(text) => {
                tracing::warn!(
                    cid = conn.link.cid,
                    "Route Error {}",
                    String::from_utf8_lossy(&text)
                );
                conn.link.close(CloseReason::ParseError);
                return Err(Refused::Closed);
            }
            _ => {}
        }
    }
}

/// The accepting side's checks of CONNECT, in nats-server's order.
async fn check_connect<S: Source>(
    broker: &Arc<Broker>,
    conn: &mut Conn<S>,
    json: &[u8],
    told: &str,
) -> Result<(), Refused> {
    let refuse = |conn: &mut Conn<S>, text: &str, reason: CloseReason| {
        conn.send_err(text);
        conn.link.close(reason);
        Err(Refused::Closed)
    };
    let Some(cluster) = &broker.cluster else {
        return Err(Refused::Closed);
    };
    let Some(connect) = RouteConnect::parse(json) else {
        return refuse(
            conn,
            "Authorization Violation",
            CloseReason::ProtocolViolation,
        );
    };
    let options = cluster.options();
    let by_certificate = options.authorized_by_certificate();
    if let Some((user, password)) = options.user.clone().filter(|_| !by_certificate) {
        let given_user = connect.user.clone();
        let given = connect.pass.clone().unwrap_or_default();
        // bcrypt runs on the blocking pool, never on a worker.
        let ok = tokio::task::spawn_blocking(move || {
            given_user.as_deref() == Some(user.as_str())
                && starling_auth::passwords_match(&password, &given)
        })
        .await
        .unwrap_or(false);
        if !ok {
            tracing::debug!(cid = conn.link.cid, "Router authentication error");
            return refuse(
                conn,
                "Authorization Violation",
                CloseReason::AuthenticationViolation,
            );
        }
    }
    if connect.lang.is_some() {
        return refuse(
            conn,
            "attempted to connect to route port",
            CloseReason::ProtocolViolation,
        );
    }
    if let Some(gateway) = &connect.gateway {
        let text = format!("Rejecting connection from gateway {gateway:?} on the Route port");
        return refuse(conn, &text, CloseReason::ProtocolViolation);
    }
    if !cluster.meet(&connect.cluster, connect.cluster_dynamic, told) {
        let text = format!(
            "Rejecting connection, cluster name {:?} does not match {:?}",
            connect.cluster,
            cluster.name().0
        );
        return refuse(conn, &text, CloseReason::ClusterNameConflict);
    }
    Ok(())
}

/// The peer's INFO: not this server, same cluster, not this server's
/// name (closed without a word, as nats-server does).
fn check_info<S: Source>(
    broker: &Broker,
    conn: &Conn<S>,
    json: &[u8],
    (accepted, told): (bool, &str),
) -> Result<RouteInfo, Refused> {
    let Some(cluster) = &broker.cluster else {
        return Err(Refused::Closed);
    };
    let Some(info) = RouteInfo::parse(json) else {
        conn.link.close(CloseReason::ProtocolViolation);
        return Err(Refused::Closed);
    };
    if info.server_id == broker.info.server_id {
        tracing::debug!("Detected route to self, ignoring");
        conn.link.close(CloseReason::DuplicateRoute);
        return Err(Refused::ToSelf);
    }
    if !info.cluster.is_empty() && !cluster.meet(&info.cluster, info.cluster_dynamic, told) {
        conn.link.close(CloseReason::ClusterNameConflict);
        return Err(Refused::Closed);
    }
    if accepted && info.server_name == broker.info.server_name {
        tracing::error!("Remote server has a duplicate name: {:?}", info.server_name);
        conn.link.close(CloseReason::DuplicateServerName);
        return Err(Refused::Closed);
    }
    Ok(info)
}

/// The soliciting side's CONNECT: the URL's credentials, else (a route
/// learnt by gossip to a peer that asks) this server's own.
pub(super) fn connect_line(
    broker: &Broker,
    (name, dynamic): (String, bool),
    url_user: Option<(String, String)>,
    (auth_required, tls_required): (bool, bool),
) -> Vec<u8> {
    let Some(cluster) = &broker.cluster else {
        return Vec::new();
    };
    let (user, pass) = match url_user {
        Some((user, pass)) => (Some(user), Some(pass)),
        None if auth_required => match &cluster.options().user {
            Some((user, password)) => (Some(user.clone()), Some(password.expose().to_owned())),
            None => (None, None),
        },
        None => (None, None),
    };
    RouteConnect {
        echo: true,
        user,
        pass,
        tls_required,
        headers: !broker.options.no_header_support,
        name: broker.info.server_id.clone(),
        cluster: name,
        cluster_dynamic: dynamic,
        lnoc: true,
        ..RouteConnect::default()
    }
    .line()
}
