//! The messages the system account sends: the server's description every
//! one carries, and the events (a client connected or disconnected, a
//! login refused, an account's connection count) in nats-server's shapes.

use serde_json::{Map, Value, json};

use crate::account::{GLOBAL_ACCOUNT, Subscriber};
use crate::broker::Broker;
use crate::identity::FastRng;
use crate::link::CloseReason;
use crate::monitor::format::rfc3339;

const CONNECT: &str = "io.nats.server.advisory.v1.client_connect";
const DISCONNECT: &str = "io.nats.server.advisory.v1.client_disconnect";
pub(super) const ACCOUNT_CONNS: &str = "io.nats.server.advisory.v1.account_connections";

/// `server` in every message (nats-server's `ServerInfo`): `seq` counts
/// the messages this server sent.
pub(super) fn server_info(broker: &Broker, seq: u64, now: u64) -> Value {
    let mut info = Map::new();
    info.insert("name".into(), json!(broker.info.server_name));
    info.insert("host".into(), json!(broker.info.host));
    info.insert("id".into(), json!(broker.info.server_id));
    if let Some(cluster) = broker.filter_cluster_name() {
        info.insert("cluster".into(), json!(cluster));
    }
    info.insert("ver".into(), json!(broker.info.version));
    let tags = broker.live.tags();
    if !tags.is_empty() {
        info.insert("tags".into(), json!(&*tags));
    }
    info.insert("seq".into(), json!(seq));
    info.insert("jetstream".into(), json!(false));
    info.insert("time".into(), json!(rfc3339(now)));
    Value::Object(info)
}

/// An event id: 22 letters and digits, like nats-server's nuid.
pub(super) fn event_id(rng: &mut FastRng) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..22)
        .map(|_| char::from(ALPHABET[rng.below(ALPHABET.len())]))
        .collect()
}

/// What an event says of a connection (nats-server's `ClientInfo`, empty
/// fields left out); `stop` for the disconnect events.
fn client_info(connection: &Subscriber, stop: Option<u64>) -> Value {
    let meta = connection.link.meta().clone();
    let mut client = Map::new();
    client.insert("start".into(), json!(rfc3339(meta.start_unix_nanos)));
    client.insert("host".into(), json!(meta.ip));
    client.insert("id".into(), json!(connection.link.cid));
    let account = meta.account.as_deref().unwrap_or(GLOBAL_ACCOUNT);
    client.insert("acc".into(), json!(account));
    let texts = [
        ("user", meta.user.clone().unwrap_or_default()),
        ("name", meta.name),
        ("lang", meta.lang),
        ("ver", meta.version),
    ];
    for (key, text) in texts {
        if !text.is_empty() {
            client.insert(key.into(), json!(text));
        }
    }
    if let Some(stop) = stop {
        if let Some(rtt) = meta.rtt.filter(|rtt| !rtt.is_zero()) {
            client.insert("rtt".into(), json!(rtt.as_nanos()));
        }
        client.insert("stop".into(), json!(rfc3339(stop)));
    }
    client.insert("kind".into(), json!("Client"));
    client.insert("client_type".into(), json!(meta.transport));
    Value::Object(client)
}

/// `$SYS.ACCOUNT.<account>.CONNECT`: subject and body (without `server`).
pub(super) fn connected(
    connection: &Subscriber,
    id: String,
    now: u64,
) -> (String, Map<String, Value>) {
    let client = client_info(connection, None);
    let account = client["acc"].as_str().unwrap_or(GLOBAL_ACCOUNT).to_owned();
    let mut body = Map::new();
    body.insert("type".into(), json!(CONNECT));
    body.insert("id".into(), json!(id));
    body.insert("timestamp".into(), json!(rfc3339(now)));
    body.insert("client".into(), client);
    (format!("$SYS.ACCOUNT.{account}.CONNECT"), body)
}

/// `$SYS.ACCOUNT.<account>.DISCONNECT`, or for a refused login
/// `$SYS.SERVER.<id>.CLIENT.AUTH.ERR`: subject and body.
pub(super) fn closed(
    broker: &Broker,
    connection: &Subscriber,
    id: String,
    now: u64,
) -> (String, Map<String, Value>) {
    let client = client_info(connection, Some(now));
    let account = client["acc"].as_str().unwrap_or(GLOBAL_ACCOUNT).to_owned();
    let counters = connection.link.counters();
    let reason = connection.link.close_reason();
    let mut body = Map::new();
    body.insert("type".into(), json!(DISCONNECT));
    body.insert("id".into(), json!(id));
    body.insert("timestamp".into(), json!(rfc3339(now)));
    body.insert("client".into(), client);
    // What the client sent is what the server received from it.
    body.insert(
        "sent".into(),
        json!({"msgs": counters.in_msgs, "bytes": counters.in_bytes}),
    );
    body.insert(
        "received".into(),
        json!({"msgs": counters.out_msgs, "bytes": counters.out_bytes}),
    );
    body.insert(
        "reason".into(),
        json!(reason.map_or("", CloseReason::as_str)),
    );
    let subject = if reason == Some(CloseReason::AuthenticationViolation) {
        format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", broker.info.server_id)
    } else {
        format!("$SYS.ACCOUNT.{account}.DISCONNECT")
    };
    (subject, body)
}

/// An account's connection counts (an `account_statz` row) as the
/// `account_connections` event.
pub(super) fn account_conns(row: &Value, id: String, now: u64) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("type".into(), json!(ACCOUNT_CONNS));
    body.insert("id".into(), json!(id));
    body.insert("timestamp".into(), json!(rfc3339(now)));
    if let Value::Object(fields) = row {
        for (key, value) in fields {
            body.insert(key.clone(), value.clone());
        }
    }
    body
}
