//! This server's client-facing URLs as route peers (and, through them,
//! clients) are told them (`cluster.md` §6.1): `host:port` strings, the
//! client listener's and the websocket listener's, or their `advertise`.

use std::net::IpAddr;

use starling_auth::ConnectionKind;
use starling_proto::encode;

use super::Broker;
use crate::account::Account;

impl Broker {
    /// The client URLs and the websocket URLs of this server.
    pub(crate) fn own_client_urls(&self) -> (Vec<String>, Vec<String>) {
        let tcp = vec![host_port(&self.options.host, self.info.port)];
        let ws = match (&self.options.websocket, self.websocket_port.get()) {
            (Some(ws), Some(&port)) => vec![match &ws.advertise {
                Some(advertise) if advertise.contains(':') => advertise.clone(),
                Some(host) => host_port(host, port),
                None => host_port(&ws.host, port),
            }],
            _ => Vec::new(),
        };
        (tcp, ws)
    }
}

impl Broker {
    /// A client's `connect_urls` (see [`super::Cluster::connect_urls`]).
    pub(crate) fn connect_urls(&self, kind: ConnectionKind) -> Vec<String> {
        let Some(cluster) = &self.cluster else {
            return Vec::new();
        };
        let websocket = kind == ConnectionKind::Websocket;
        let (tcp, ws) = if cluster.options.no_advertise {
            (Vec::new(), Vec::new())
        } else {
            self.own_client_urls()
        };
        cluster.connect_urls(if websocket { ws } else { tcp }, websocket)
    }

    /// What a route announces in `account` whatever its subscriptions:
    /// the filters of stream imports out of it (their messages may be
    /// published on any member), and `_R_.<this server>.>` when a service
    /// of it is imported here (the responses come back to this server).
    pub(crate) fn standing_interest(&self, account: &Account) -> Vec<bytes::Bytes> {
        let mut standing: Vec<bytes::Bytes> = self
            .links
            .get(&account.name)
            .map(|links| links.streams.iter().map(|s| s.filter.clone()).collect())
            .unwrap_or_default();
        let serves = self.links.values().any(|links| {
            links
                .services
                .iter()
                .any(|s| s.exporter.name == account.name)
        });
        if serves {
            standing.push(bytes::Bytes::from(format!("_R_.{}.>", self.reply_prefix)));
        }
        standing.sort();
        standing.dedup();
        standing
    }

    /// The peer URLs changed: a fresh INFO to every client that takes
    /// one (CONNECT `protocol` 1, first PONG sent), TCP clients when
    /// `tcp` changed, websocket ones when `ws` did.
    pub(crate) fn push_info(&self, (tcp, ws): (bool, bool)) {
        for connection in self.connections() {
            let link = &connection.link;
            let (kind, ip) = {
                let meta = link.meta();
                if !meta.async_info {
                    continue;
                }
                let kind = if meta.transport == "websocket" {
                    ConnectionKind::Websocket
                } else {
                    ConnectionKind::Standard
                };
                (kind, meta.ip.parse::<IpAddr>())
            };
            let changed = if kind == ConnectionKind::Websocket {
                ws
            } else {
                tcp
            };
            let Ok(ip) = ip else { continue };
            if changed {
                let info = self.client_info(link.cid, ip, kind, "");
                if link.queue(|out| {
                    let _ = encode::info(out, &info);
                }) == crate::link::Queued::WakeWriter
                {
                    link.writer_wake.notify_one();
                }
            }
        }
    }
}

/// `host:port`, an IPv6 host in brackets.
fn host_port(host: &str, port: u16) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
