//! This server's client-facing URLs as route peers (and, through them,
//! clients) are told them (`cluster.md` §6.1): `host:port` strings, the
//! client listener's and the websocket listener's, or their `advertise`.

use super::Broker;

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

/// `host:port`, an IPv6 host in brackets.
fn host_port(host: &str, port: u16) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
