//! `/varz`: the server's identity, its configured limits, and its totals,
//! with nats-server 2.9.10's keys and JSON types.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::format::{go_float, rfc3339, uptime};
use super::{Monitor, Totals};
use crate::{NATS_VERSION, STARLING_VERSION};

#[derive(Serialize)]
struct Varz {
    server_id: String,
    server_name: String,
    version: &'static str,
    proto: u32,
    go: String,
    host: String,
    port: u16,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_verify: bool,
    max_connections: i64,
    #[serde(skip_serializing_if = "is_zero")]
    max_subscriptions: usize,
    ping_interval: u128,
    ping_max: u32,
    http_host: String,
    http_port: i64,
    http_base_path: String,
    https_port: i64,
    auth_timeout: Value,
    max_control_line: usize,
    max_payload: usize,
    max_pending: usize,
    cluster: Value,
    gateway: Value,
    leaf: Value,
    mqtt: Value,
    websocket: Value,
    jetstream: Value,
    tls_timeout: Value,
    write_deadline: u128,
    start: String,
    now: String,
    uptime: String,
    mem: u64,
    cores: usize,
    gomaxprocs: usize,
    cpu: Value,
    connections: usize,
    total_connections: u64,
    routes: u64,
    remotes: u64,
    leafnodes: u64,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    slow_consumers: u64,
    subscriptions: usize,
    http_req_stats: BTreeMap<String, u64>,
    config_load_time: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_account: Option<String>,
    /// The client URLs of the cluster, own first (none standalone).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    connect_urls: Vec<String>,
    /// The websocket URLs of the cluster, own first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ws_connect_urls: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Seconds as Go prints a float (`2`, `0.5`).
fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The `/varz` object.
pub(super) fn varz(monitor: &Monitor, now_unix_nanos: u64) -> Value {
    let broker = &monitor.broker;
    let options = broker.live.options();
    let stats = &broker.stats;
    let totals = Totals::now(broker);
    let route_count = broker
        .cluster
        .as_ref()
        .map_or(0, |c| c.routes().len() as u64);
    let tls = options.tls.as_ref();
    let auth_timeout = options
        .auth
        .timeout
        .map_or_else(|| if tls.is_some() { 3.0 } else { 2.0 }, seconds);
    let varz = Varz {
        server_id: broker.info.server_id.clone(),
        server_name: broker.info.server_name.clone(),
        version: STARLING_VERSION,
        proto: 1,
        go: format!(
            "rust{} (nats-server {NATS_VERSION} protocol)",
            env!("CARGO_PKG_RUST_VERSION")
        ),
        host: options.host.clone(),
        port: monitor.client_port,
        auth_required: broker
            .auth()
            .required(starling_auth::ConnectionKind::Standard),
        tls_required: tls.is_some(),
        tls_verify: tls.is_some_and(|t| t.verify),
        // A negative max_connections (no limit) shows as nats-server's -1.
        max_connections: i64::try_from(options.max_connections).unwrap_or(-1),
        max_subscriptions: options.max_subscriptions,
        ping_interval: options.ping_interval.as_nanos(),
        ping_max: options.ping_max,
        http_host: monitor.host.clone(),
        http_port: options.monitor.http_port,
        http_base_path: options.monitor.base_path.clone(),
        https_port: options.monitor.https_port,
        auth_timeout: go_float(auth_timeout),
        max_control_line: options.max_control_line,
        max_payload: options.max_payload,
        max_pending: options.max_pending,
        cluster: cluster(monitor),
        gateway: json!({}),
        leaf: leaf(monitor),
        mqtt: json!({}),
        websocket: websocket(&options, monitor.websocket_port),
        jetstream: json!({}),
        tls_timeout: go_float(
            options
                .tls
                .as_ref()
                .map_or(2.0, |tls| tls.timeout.as_secs_f64()),
        ),
        write_deadline: options.write_deadline.as_nanos(),
        start: rfc3339(stats.started_unix_nanos),
        now: rfc3339(now_unix_nanos),
        uptime: uptime(Duration::from_nanos(
            now_unix_nanos.saturating_sub(stats.started_unix_nanos),
        )),
        mem: monitor.process.resident_bytes(),
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        gomaxprocs: monitor.workers,
        cpu: go_float(monitor.process.cpu_percent()),
        connections: totals.connections,
        total_connections: broker.total_connections(),
        routes: route_count,
        remotes: route_count,
        leafnodes: broker.leafs().len() as u64,
        in_msgs: totals.counters.in_msgs,
        out_msgs: totals.counters.out_msgs,
        in_bytes: totals.counters.in_bytes,
        out_bytes: totals.counters.out_bytes,
        slow_consumers: stats.slow_consumers(),
        subscriptions: totals.subscriptions,
        http_req_stats: stats.http_requests(),
        config_load_time: rfc3339(broker.live.loaded_at()),
        tags: options.server_tags.clone(),
        system_account: options.system_account_name().map(str::to_owned),
        connect_urls: broker.connect_urls(starling_auth::ConnectionKind::Standard),
        ws_connect_urls: if options.websocket.is_some() {
            broker.connect_urls(starling_auth::ConnectionKind::Websocket)
        } else {
            Vec::new()
        },
    };
    serde_json::to_value(varz).unwrap_or(Value::Null)
}

/// The `cluster` object (`cluster.md` §9.2): name, listener, auth timeout,
/// the configured routes as `host:port`; `{}` without clustering.
fn cluster(monitor: &Monitor) -> Value {
    let Some(cluster) = &monitor.broker.cluster else {
        return json!({});
    };
    let (host, port, _) = cluster.listen.get().cloned().unwrap_or_default();
    let urls: Vec<String> = cluster
        .options()
        .routes
        .iter()
        .filter_map(|url| crate::options::RouteUrl::parse(url).ok()?.address())
        .collect();
    let mut out = Map::new();
    out.insert("name".into(), json!(cluster.name().0));
    out.insert("addr".into(), json!(host));
    out.insert("cluster_port".into(), json!(port));
    out.insert(
        "auth_timeout".into(),
        go_float(cluster.options().auth_timeout.as_secs_f64()),
    );
    if !urls.is_empty() {
        out.insert("urls".into(), json!(urls));
    }
    let tls_timeout = cluster
        .options()
        .tls
        .as_ref()
        .map_or(2.0, |tls| tls.timeout.as_secs_f64());
    out.insert("tls_timeout".into(), go_float(tls_timeout));
    Value::Object(out)
}

/// The `leaf` object: the leafnode listener and the remotes (nats-server's
/// `LeafNodeOptsVarz`, empty fields left out; URLs without credentials).
fn leaf(monitor: &Monitor) -> Value {
    let Some(leaf) = &monitor.broker.options.leaf else {
        return json!({});
    };
    let mut out = Map::new();
    if leaf.port != 0 {
        out.insert("host".into(), json!(leaf.host));
        out.insert("port".into(), json!(monitor.leaf_port.unwrap_or(0)));
        let timeout = leaf.auth.timeout.map_or(2.0, seconds);
        out.insert("auth_timeout".into(), go_float(timeout));
        let tls_timeout = leaf
            .tls
            .as_ref()
            .map_or(2.0, |tls| tls.timeout.as_secs_f64());
        out.insert("tls_timeout".into(), go_float(tls_timeout));
    }
    let remotes: Vec<Value> = leaf
        .remotes
        .iter()
        .map(|remote| {
            let urls: Vec<String> = remote
                .urls
                .iter()
                .filter_map(|u| crate::options::RemoteUrl::parse(u).ok())
                .map(|u| format!("{}:{}", u.host, u.port))
                .collect();
            json!({
                "local_account": remote.account.as_deref().unwrap_or(crate::account::GLOBAL_ACCOUNT),
                "urls": urls,
            })
        })
        .collect();
    if !remotes.is_empty() {
        out.insert("remotes".into(), json!(remotes));
    }
    Value::Object(out)
}

/// The `statsz` object of `$SYS` STATSZ messages (nats-server's
/// `ServerStats`).
pub(super) fn statsz(monitor: &Monitor) -> Value {
    let broker = &monitor.broker;
    let totals = Totals::now(broker);
    let active_accounts = broker
        .connections()
        .iter()
        .filter_map(|c| c.link.meta().account.clone())
        .collect::<std::collections::HashSet<String>>()
        .len();
    json!({
        "start": rfc3339(broker.stats.started_unix_nanos),
        "mem": monitor.process.resident_bytes(),
        "cores": std::thread::available_parallelism().map_or(1, usize::from),
        "cpu": go_float(monitor.process.cpu_percent()),
        "connections": totals.connections,
        "total_connections": broker.total_connections(),
        "active_accounts": active_accounts,
        "subscriptions": totals.subscriptions,
        "sent": {"msgs": totals.counters.out_msgs, "bytes": totals.counters.out_bytes},
        "received": {"msgs": totals.counters.in_msgs, "bytes": totals.counters.in_bytes},
        "slow_consumers": broker.stats.slow_consumers(),
        "active_servers": 1,
    })
}

/// The `websocket` object: the block as configured (nats-server's
/// `WebsocketOptsVarz`, every field omitted when empty).
fn websocket(options: &crate::ServerOptions, bound: Option<u16>) -> Value {
    let Some(ws) = &options.websocket else {
        return json!({});
    };
    let mut out = Map::new();
    out.insert("host".into(), json!(ws.host));
    // The port bound, as nats-server shows a configured -1 once bound.
    out.insert("port".into(), json!(bound.unwrap_or(ws.port)));
    if let Some(advertise) = &ws.advertise {
        out.insert("advertise".into(), json!(advertise));
    }
    let auth = &options.auth.websocket;
    if let Some(user) = &auth.no_auth_user {
        out.insert("no_auth_user".into(), json!(user));
    }
    // Shown when set; the default (2 s) cannot be told from a configured 2 s.
    if ws.handshake_timeout != Duration::from_secs(2) && !ws.handshake_timeout.is_zero() {
        out.insert(
            "handshake_timeout".into(),
            json!(ws.handshake_timeout.as_nanos()),
        );
    }
    if let Some(timeout) = auth.timeout {
        out.insert("auth_timeout".into(), go_float(timeout.as_secs_f64()));
    }
    if ws.no_tls {
        out.insert("no_tls".into(), json!(true));
    }
    if ws.origins.same_origin {
        out.insert("same_origin".into(), json!(true));
    }
    if !ws.origins.allowed.is_empty() {
        let origins: Vec<String> = ws
            .origins
            .allowed
            .iter()
            .map(|o| format!("{}://{}:{}", o.scheme, o.host, o.port))
            .collect();
        out.insert("allowed_origins".into(), json!(origins));
    }
    if ws.compression {
        out.insert("compression".into(), json!(true));
    }
    Value::Object(out)
}
