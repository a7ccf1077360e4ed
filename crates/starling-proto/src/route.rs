//! The route protocol between members of a cluster, as nats-server 2.9.10
//! speaks it (`cluster.md` §4–5): the lines a route writes. One route
//! carries every account, so each line names its account; a route is
//! read with [`LeafParser::for_route`](crate::leaf::LeafParser::for_route).
//! [`RouteInfo`] and [`RouteConnect`] are the handshake's JSON.
//!
//! ```
//! use starling_proto::route::{encode_rmsg, encode_sub, encode_unsub};
//!
//! let mut out = Vec::new();
//! encode_sub(&mut out, b"$G", b"orders.*", Some((&b"q1"[..], 2)));
//! encode_unsub(&mut out, b"$G", b"orders.*", Some(&b"q1"[..]));
//! encode_rmsg(&mut out, b"$G", b"orders.new", None, &[&b"q1"[..]], b"", b"hi");
//! assert_eq!(
//!     out,
//!     b"RS+ $G orders.* q1 2\r\nRS- $G orders.* q1\r\nRMSG $G orders.new | q1 2\r\nhi\r\n"
//! );
//! ```
//!
//! A leaf's interest and messages carry its cluster (the origin) to peers
//! that said `lnoc`, as nats-server writes them (`cluster.md` §4.4, §5.6):
//!
//! ```
//! use starling_proto::route::{encode_origin_msg, encode_origin_sub, encode_origin_unsub};
//!
//! let mut out = Vec::new();
//! encode_origin_sub(&mut out, b"LEAF1", b"$G", b"lq", Some((&b"qq"[..], 1)));
//! encode_origin_unsub(&mut out, b"$G", b"lsub", None);
//! encode_origin_msg(&mut out, (b"LEAF1", b"$G"), b"lpub.x", None, &[], (b"", b"hello"));
//! assert_eq!(
//!     out,
//!     b"LS+ LEAF1 $G lq qq 1\r\nLS-  $G lsub\r\nLMSG LEAF1 $G lpub.x 0 5\r\nhello\r\n"
//! );
//! ```

use bytes::BufMut;
use serde::{Deserialize, Serialize};

use crate::leaf::encode_message;

/// `RS+ <account> <subject>\r\n`, or with a queue group
/// `RS+ <account> <subject> <queue> <weight>\r\n`.
pub fn encode_sub<B: BufMut>(
    out: &mut B,
    account: &[u8],
    subject: &[u8],
    queue: Option<(&[u8], u32)>,
) {
    out.put_slice(b"RS+ ");
    interest_tail(out, account, subject, queue.map(|(q, w)| (q, Some(w))));
}

/// `RS- <account> <subject> [<queue>]\r\n`.
pub fn encode_unsub<B: BufMut>(out: &mut B, account: &[u8], subject: &[u8], queue: Option<&[u8]>) {
    out.put_slice(b"RS- ");
    interest_tail(out, account, subject, queue.map(|q| (q, None)));
}

/// `LS+ <origin> <account> <subject> [<queue> <weight>]\r\n`: interest of a
/// leaf whose cluster is `origin` (to peers that said `lnoc`).
pub fn encode_origin_sub<B: BufMut>(
    out: &mut B,
    origin: &[u8],
    account: &[u8],
    subject: &[u8],
    queue: Option<(&[u8], u32)>,
) {
    out.put_slice(b"LS+ ");
    out.put_slice(origin);
    out.put_u8(b' ');
    interest_tail(out, account, subject, queue.map(|(q, w)| (q, Some(w))));
}

/// `LS-  <account> <subject> [<queue>]\r\n`: its withdrawal, written as
/// nats-server 2.9.10 writes it (an empty origin, hence two spaces).
pub fn encode_origin_unsub<B: BufMut>(
    out: &mut B,
    account: &[u8],
    subject: &[u8],
    queue: Option<&[u8]>,
) {
    out.put_slice(b"LS-  ");
    interest_tail(out, account, subject, queue.map(|q| (q, None)));
}

/// `<account> <subject>[ <queue>[ <weight>]]\r\n`.
fn interest_tail<B: BufMut>(
    out: &mut B,
    account: &[u8],
    subject: &[u8],
    queue: Option<(&[u8], Option<u32>)>,
) {
    out.put_slice(account);
    out.put_u8(b' ');
    out.put_slice(subject);
    if let Some((queue, weight)) = queue {
        out.put_u8(b' ');
        out.put_slice(queue);
        if let Some(weight) = weight {
            out.put_u8(b' ');
            out.put_slice(weight.to_string().as_bytes());
        }
    }
    out.put_slice(b"\r\n");
}

/// `LMSG <origin> <account> ...`: a message from a leaf whose cluster is
/// `origin` (to peers that said `lnoc`); the header size is always
/// written, 0 without headers.
pub fn encode_origin_msg<B: BufMut>(
    out: &mut B,
    (origin, account): (&[u8], &[u8]),
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: &[&[u8]],
    (headers, payload): (&[u8], &[u8]),
) {
    out.put_slice(b"LMSG ");
    out.put_slice(origin);
    out.put_u8(b' ');
    encode_message(
        out,
        (b"", Some(account)),
        subject,
        reply,
        queues,
        (headers, payload),
        true,
    );
}

/// `RMSG <account> ...`, or `HMSG <account> ...` when `headers` is not
/// empty, with the queue groups the receiver must serve.
pub fn encode_rmsg<B: BufMut>(
    out: &mut B,
    account: &[u8],
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: &[&[u8]],
    headers: &[u8],
    payload: &[u8],
) {
    let verb: &[u8] = if headers.is_empty() {
        b"RMSG "
    } else {
        b"HMSG "
    };
    encode_message(
        out,
        (verb, Some(account)),
        subject,
        reply,
        queues,
        (headers, payload),
        false,
    );
}

/// A route INFO, read or written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteInfo {
    /// The server's id.
    pub server_id: String,
    /// The server's name (unique among the members).
    pub server_name: String,
    /// The nats-server version it speaks.
    pub version: String,
    /// The route protocol level (2: accounts in every line).
    pub proto: i64,
    /// What it runs on.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub go: String,
    /// The route listener's host (or `advertise`).
    pub host: String,
    /// The route listener's port (or `advertise`).
    pub port: u16,
    /// Whether it takes messages with headers.
    pub headers: bool,
    /// Whether a CONNECT must carry the cluster's credentials.
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    /// Whether the route is TLS.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    /// Whether peers' certificates are verified (routes: always with TLS).
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    /// Its `max_payload` (informational on routes).
    pub max_payload: i64,
    /// A nonce (initial INFO only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    /// `nats-route://host:port/`: where peers dial this server (set with
    /// `advertise`, and in gossip).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    /// The cluster name.
    pub cluster: String,
    /// The name was made up (no `cluster.name`).
    #[serde(skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    /// Its client URLs (`host:port`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    /// Its websocket URLs (`host:port`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ws_connect_urls: Vec<String>,
    /// Its cluster `import` permission (`{"allow":[..],"deny":[..]}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<serde_json::Value>,
    /// Its cluster `export` permission.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<serde_json::Value>,
    /// It reads and writes the leaf origin cluster (`LS+ <origin> ...`,
    /// `LMSG <origin> ...`).
    #[serde(skip_serializing_if = "is_false")]
    pub lnoc: bool,
    /// Its leafnode URL.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leafnode_urls: Vec<String>,
    /// Lame-duck mode (an update on an established route).
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    /// A gateway's gossip (ignored: no gateways here).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
}

fn is_false(b: &bool) -> bool {
    !b
}

impl RouteInfo {
    /// `INFO {json} \r\n` (the initial form, with the space) or, for
    /// gossip, `INFO {json}\r\n`.
    pub fn line(&self, initial: bool) -> Vec<u8> {
        let json = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned());
        let end = if initial { " \r\n" } else { "\r\n" };
        format!("INFO {json}{end}").into_bytes()
    }

    /// Reads an INFO's JSON (`None` if it is not an INFO object).
    pub fn parse(json: &[u8]) -> Option<Self> {
        serde_json::from_slice(json).ok()
    }
}

/// A route CONNECT, read or written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteConnect {
    /// Always true (meaningless on routes).
    pub echo: bool,
    /// Always false.
    pub verbose: bool,
    /// Always false.
    pub pedantic: bool,
    /// The route URL's user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The route URL's password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    /// Whether the route is TLS.
    pub tls_required: bool,
    /// Whether it takes messages with headers.
    pub headers: bool,
    /// The server id (not its name).
    pub name: String,
    /// The cluster name.
    pub cluster: String,
    /// The name was made up (no `cluster.name`).
    #[serde(skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    /// It reads and writes the leaf origin cluster.
    #[serde(skip_serializing_if = "is_false")]
    pub lnoc: bool,
    /// Set by a client on the wrong port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Set by a gateway on the wrong port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

impl RouteConnect {
    /// `CONNECT {json}\r\n`.
    pub fn line(&self) -> Vec<u8> {
        let json = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned());
        format!("CONNECT {json}\r\n").into_bytes()
    }

    /// Reads a CONNECT's JSON (`None` if it is not a CONNECT object).
    pub fn parse(json: &[u8]) -> Option<Self> {
        serde_json::from_slice(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_servers_info_and_connect_read() {
        let info = br#"{"server_id":"NA1","server_name":"A","version":"2.9.10","proto":2,"go":"go1.19.8","host":"127.0.0.1","port":26311,"headers":true,"max_payload":1048576,"nonce":"znod91ra_Qs8VPk","cluster":"C1","connect_urls":["127.0.0.1:26301"],"ws_connect_urls":["127.0.0.1:26321"],"lnoc":true,"route_pool_size":3}"#;
        let info = RouteInfo::parse(info).expect("parses");
        assert_eq!(
            (info.server_id.as_str(), info.port, info.cluster.as_str()),
            ("NA1", 26311, "C1")
        );
        assert_eq!(info.connect_urls, ["127.0.0.1:26301"]);
        let line = String::from_utf8(info.line(true)).expect("text");
        assert!(
            line.starts_with("INFO {\"server_id\":\"NA1\"") && line.ends_with("} \r\n"),
            "{line}"
        );
        assert!(
            !line.contains("route_pool_size") && !line.contains("auth_required"),
            "{line}"
        );
        let connect = br#"{"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"NB1","cluster":"C1","lnoc":true}"#;
        let connect = RouteConnect::parse(connect).expect("parses");
        assert_eq!(
            (connect.name.as_str(), connect.cluster.as_str()),
            ("NB1", "C1")
        );
        assert!(connect.lang.is_none());
    }
}
