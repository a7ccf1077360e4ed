//! This server's client-facing URLs as route peers (and, through them,
//! clients) are told them (`cluster.md` §6.1): `host:port` strings, the
//! client listener's and the websocket listener's, or their `advertise`.

use std::net::IpAddr;

use starling_auth::ConnectionKind;
use starling_proto::encode;

use super::Broker;
use crate::account::Account;

impl Broker {
    /// The client URLs and the websocket URLs of this server: the
    /// advertised address (`client_advertise`, `websocket.advertise`),
    /// else the listener's (one per global unicast
    /// interface address for `0.0.0.0` or `::`, as nats-server lists
    /// them). Worked out once, when first asked (after the listeners are
    /// bound).
    pub(crate) fn own_client_urls(&self) -> (Vec<String>, Vec<String>) {
        self.own_urls
            .get_or_init(|| {
                let tcp = match &self.options.client_advertise {
                    Some(_) => vec![host_port(&self.info.host, self.info.port)],
                    None => host_ports(&self.options.host, self.info.port),
                };
                let ws = match (&self.options.websocket, self.websocket_port.get()) {
                    (Some(ws), Some(&port)) => match &ws.advertise {
                        Some(advertise) if advertise.contains(':') => vec![advertise.clone()],
                        Some(host) => vec![host_port(host, port)],
                        None => host_ports(&ws.host, port),
                    },
                    _ => Vec::new(),
                };
                (tcp, ws)
            })
            .clone()
    }
}

/// `host:port` for each address a listener on `host` is reached at.
fn host_ports(host: &str, port: u16) -> Vec<String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let any = bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    if any {
        let addresses: Vec<String> = if_addrs::get_if_addrs()
            .unwrap_or_default()
            .iter()
            .map(if_addrs::Interface::ip)
            .filter(is_global_unicast)
            .map(|ip| host_port(&ip.to_string(), port))
            .collect();
        if !addresses.is_empty() {
            return addresses;
        }
    }
    vec![host_port(host, port)]
}

/// Go's `IP.IsGlobalUnicast`: not unspecified, loopback, multicast,
/// link-local or the IPv4 broadcast address (private ranges count).
fn is_global_unicast(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_multicast()
                || v4.is_link_local()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

impl Broker {
    /// A client's `connect_urls` (see [`super::Cluster::connect_urls`]).
    pub(crate) fn connect_urls(&self, kind: ConnectionKind) -> Vec<String> {
        let Some(cluster) = &self.cluster else {
            return Vec::new();
        };
        let websocket = kind == ConnectionKind::Websocket;
        let lame_duck = self.lame_duck.load(std::sync::atomic::Ordering::Acquire);
        let (tcp, ws) = if cluster.options().no_advertise || lame_duck {
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
        let table = self.table();
        let mut standing: Vec<bytes::Bytes> = table
            .links
            .get(&account.name)
            .map(|links| links.streams.iter().map(|s| s.filter.clone()).collect())
            .unwrap_or_default();
        let serves = table.links.values().any(|links| {
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
    pub(crate) fn push_info(&self, changed: (bool, bool)) {
        self.push_client_info(changed, false);
    }

    /// Lame-duck mode began: an INFO saying `ldm` (and only the peers'
    /// URLs) to every client that takes one, as nats-server's
    /// `sendLDMToClients`.
    pub(crate) fn push_lame_duck_info(&self) {
        self.push_client_info((true, true), true);
    }

    fn push_client_info(&self, (tcp, ws): (bool, bool), ldm: bool) {
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
                let info = starling_proto::ServerInfo {
                    ldm,
                    ..self.client_info(link.cid, ip, kind, "")
                };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_go_sorts_them() {
        for (ip, global) in [
            ("10.1.2.3", true),
            ("192.0.2.2", true),
            ("127.0.0.1", false),
            ("169.254.1.1", false),
            ("224.0.0.1", false),
            ("fd00::2", true),
            ("fe80::1", false),
            ("::1", false),
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert_eq!(is_global_unicast(&ip), global, "{ip}");
        }
        assert_eq!(host_ports("127.0.0.1", 4222), ["127.0.0.1:4222"]);
        assert_eq!(host_ports("::1", 4222), ["[::1]:4222"]);
        // 0.0.0.0: the machine's global addresses, or itself when it has none.
        let any = host_ports("0.0.0.0", 4222);
        assert!(
            !any.is_empty() && any.iter().all(|u| u.ends_with(":4222")),
            "{any:?}"
        );
        assert!(!any.iter().any(|u| u.starts_with("127.")), "{any:?}");
    }
}
