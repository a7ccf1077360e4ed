//! The series the exporter builds by hand (`/connz` sums and rows,
//! `/accstatz` per account) and Starling's own.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::exposition::{Exposition, Labels};
use super::{CONNZ_LIMIT, DETAIL_LABELS};
use crate::broker::stats::ConnSnapshot;
use crate::monitor::{Monitor, Query};

/// `<prefix>_connz_*`: sums over every open connection (not just the
/// exporter's first page), and with `connz_detailed` one series per
/// connection.
pub(super) fn connz(
    out: &mut Exposition,
    monitor: &Monitor,
    prefix: &str,
    server: &Labels,
    detailed: bool,
    now: u64,
) {
    let broker = monitor.broker();
    let connections = broker.connections();
    let family = |name: &str| format!("{prefix}_connz_{name}");
    let count = connections.len() as f64;
    for (name, value) in [
        ("num_connections", count),
        ("total", count),
        ("offset", 0.0),
        ("limit", CONNZ_LIMIT as f64),
    ] {
        out.gauge(&family(name), name, server.clone(), value);
    }
    // The sums read each connection's counters, not a whole snapshot.
    let mut totals = [0u64; 6];
    for connection in &connections {
        let c = connection.link.counters();
        let figures = [
            c.pending,
            connection.subscription_count() as u64,
            c.in_msgs,
            c.out_msgs,
            c.in_bytes,
            c.out_bytes,
        ];
        for (total, figure) in totals.iter_mut().zip(figures) {
            *total += figure;
        }
    }
    type Figure = fn(&ConnSnapshot) -> u64;
    let sums: [(&str, Figure); 6] = [
        ("pending_bytes", |r| r.counters.pending),
        ("subscriptions", |r| r.subs.len() as u64),
        ("in_msgs", |r| r.counters.in_msgs),
        ("out_msgs", |r| r.counters.out_msgs),
        ("in_bytes", |r| r.counters.in_bytes),
        ("out_bytes", |r| r.counters.out_bytes),
    ];
    for ((name, _), total) in sums.iter().zip(totals) {
        out.gauge(&family(name), name, server.clone(), total as f64);
    }
    if !detailed {
        return;
    }
    let millis = |nanos: u64| (nanos / 1_000_000) as f64;
    let rows: Vec<ConnSnapshot> = connections
        .iter()
        .map(|c| broker.stats.snapshot(c))
        .collect();
    for row in &rows {
        let meta = &row.meta;
        let account = meta.account.clone().unwrap_or_default();
        let values = [
            server[0].1.clone(),
            row.cid.to_string(),
            "Client".to_owned(),
            meta.transport.to_owned(),
            meta.ip.clone(),
            meta.port.to_string(),
            meta.name.clone(),
            String::new(),
            account.clone(),
            account,
            meta.lang.clone(),
            meta.version.clone(),
            meta.tls_version.clone().unwrap_or_default(),
            meta.tls_cipher.clone().unwrap_or_default(),
        ];
        let labels: Labels = DETAIL_LABELS.iter().copied().zip(values).collect();
        for (name, figure) in sums {
            out.gauge(&family(name), name, labels.clone(), figure(row) as f64);
        }
        let rtt = meta.rtt.unwrap_or(Duration::ZERO).as_micros() as f64;
        let series = [
            ("start", millis(meta.start_unix_nanos)),
            ("last_activity", millis(row.last_activity_unix_nanos)),
            ("rtt", rtt),
            ("uptime", millis(now.saturating_sub(meta.start_unix_nanos))),
            (
                "idle",
                millis(now.saturating_sub(row.last_activity_unix_nanos)),
            ),
        ];
        for (name, value) in series {
            out.gauge(&family(name), name, labels.clone(), value);
        }
    }
}

/// `<prefix>_accstatz_*`, one series per account (`/accstatz?unused=1`).
pub(super) fn account_stats(
    out: &mut Exposition,
    monitor: &Monitor,
    prefix: &str,
    server: &Labels,
    now: u64,
) {
    let mut query = Query::internal(Default::default());
    query.set("unused", "true");
    let Some(Ok(answer)) = monitor.data("/accstatz", &query, now) else {
        return;
    };
    let subscriptions: BTreeMap<String, usize> = monitor
        .broker()
        .all_accounts()
        .iter()
        .map(|a| (a.name.clone(), a.stats().subscriptions))
        .collect();
    for row in answer["account_statz"].as_array().into_iter().flatten() {
        let account = row["acc"].as_str().unwrap_or_default().to_owned();
        let mut labels = server.clone();
        labels.push(("account", account.clone()));
        labels.push(("account_id", account.clone()));
        labels.push(("account_name", account.clone()));
        let figure = |value: &Value| value.as_f64().unwrap_or(0.0);
        let series = [
            ("current_connections", figure(&row["conns"])),
            ("total_connections", figure(&row["total_conns"])),
            (
                "subscriptions",
                subscriptions.get(&account).copied().unwrap_or(0) as f64,
            ),
            ("leaf_nodes", figure(&row["leafnodes"])),
            ("sent_messages", figure(&row["sent"]["msgs"])),
            ("sent_bytes", figure(&row["sent"]["bytes"])),
            ("received_messages", figure(&row["received"]["msgs"])),
            ("received_bytes", figure(&row["received"]["bytes"])),
            ("slow_consumers", figure(&row["slow_consumers"])),
        ];
        for (name, value) in series {
            out.gauge(
                &format!("{prefix}_accstatz_{name}"),
                name,
                labels.clone(),
                value,
            );
        }
    }
}

/// What the exporter cannot see: connections by transport, refused
/// websocket upgrades by reason, slow consumers by transport and reason,
/// outbound backlog high-water marks, and the build.
pub(super) fn starling(out: &mut Exposition, monitor: &Monitor, server: &Labels) {
    let broker = monitor.broker();
    let mut open: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    for transport in ["nats", "websocket"] {
        open.insert(transport, (0, 0));
    }
    for connection in broker.connections() {
        let transport = connection.link.meta().transport;
        let high_water = connection.link.counters().high_water;
        let entry = open.entry(transport).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(high_water);
    }
    for (transport, mark) in broker.extra.closed_high_water() {
        let entry = open.entry(transport).or_default();
        entry.1 = entry.1.max(mark);
    }
    let with = |pairs: &[(&'static str, &str)]| -> Labels {
        let mut labels = server.clone();
        labels.extend(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())));
        labels
    };
    for (transport, (count, mark)) in &open {
        let labels = with(&[("kind", "client"), ("transport", transport)]);
        out.gauge(
            "starling_connections",
            "open connections by kind and transport (the websocket listener's count is nats-server's missing per-listener figure)",
            labels.clone(),
            *count as f64,
        );
        out.gauge(
            "starling_outbound_pending_high_water_bytes",
            "the largest outbound backlog any connection of this kind and transport has had since start",
            labels,
            *mark as f64,
        );
    }
    for (reason, count) in broker.extra.refusals() {
        out.gauge(
            "starling_websocket_handshake_refusals",
            "websocket upgrades refused since start, by reason",
            with(&[("reason", reason)]),
            count as f64,
        );
    }
    for ((transport, reason), count) in broker.extra.slow_consumers() {
        out.gauge(
            "starling_slow_consumers",
            "connections cut off as slow consumers since start, by kind, transport and reason",
            with(&[
                ("kind", "client"),
                ("transport", transport),
                ("reason", reason),
            ]),
            count as f64,
        );
    }
    out.gauge(
        "starling_build_info",
        "the Starling build and the nats-server protocol it speaks",
        with(&[
            ("version", crate::STARLING_VERSION),
            ("nats_version", crate::NATS_VERSION),
        ]),
        1.0,
    );
}
