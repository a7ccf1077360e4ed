//! The smaller endpoints: `/subsz`, `/routez`, `/gatewayz`, `/leafz`,
//! `/accountz`, `/accstatz`, `/jsz` (JetStream off), `/healthz` and the
//! root page, with nats-server 2.9.10's shapes (routes, gateways and leaf
//! nodes are empty until Starling has them).

use serde_json::{Value, json};

use super::connz::sub_detail;
use super::format::{go_float, parse_bool, parse_int, rfc3339};
use super::{Monitor, Query};

fn flag(query: &Query, name: &str) -> Result<bool, String> {
    query.get(name).map_or(Ok(false), |v| parse_bool(name, v))
}

/// The sublist statistics, summed over accounts (the fan-outs are those
/// of the cached subjects, as nats-server computes them).
fn sublist_stats(stats: &[starling_router::RouterStats]) -> Value {
    let subscriptions: usize = stats.iter().map(|s| s.subscriptions).sum();
    let cache: usize = stats.iter().map(|s| s.cached_subjects).sum();
    let hits: u64 = stats.iter().map(|s| s.cache_hits).sum();
    let misses: u64 = stats.iter().map(|s| s.cache_misses).sum();
    let matches = hits + misses;
    let ratio = |part: f64, whole: f64| if whole == 0.0 { 0.0 } else { part / whole };
    let fanout: usize = stats.iter().map(|s| s.fanout_total).sum();
    json!({
        "num_subscriptions": subscriptions,
        "num_cache": cache,
        "num_inserts": stats.iter().map(|s| s.inserts).sum::<u64>(),
        "num_removes": stats.iter().map(|s| s.removes).sum::<u64>(),
        "num_matches": matches,
        "cache_hit_rate": go_float(ratio(hits as f64, matches as f64)),
        "max_fanout": stats.iter().map(|s| s.max_fanout).max().unwrap_or(0),
        "avg_fanout": go_float(ratio(fanout as f64, cache as f64)),
    })
}

pub(super) fn subsz(monitor: &Monitor, query: &Query, now: u64) -> Result<Value, String> {
    let subs = flag(query, "subs")?;
    let offset = query
        .get("offset")
        .map_or(Ok(0), |v| parse_int("offset", v))?
        .max(0);
    let mut limit = query
        .get("limit")
        .map_or(Ok(1024), |v| parse_int("limit", v))?;
    if limit <= 0 {
        limit = 1024;
    }
    let test = query.get("test").filter(|t| !t.is_empty());
    if let Some(test) = test
        && !starling_subject::is_valid_literal(test.as_bytes())
    {
        return Err(format!(
            "invalid test subject, must be valid publish subject: {test}"
        ));
    }
    let broker = &monitor.broker;
    let accounts: Vec<_> = broker
        .all_accounts()
        .into_iter()
        .filter(|a| query.get("acc").is_none_or(|name| a.name == name))
        .collect();
    let stats: Vec<_> = accounts.iter().map(|a| a.stats()).collect();
    let mut answer = sublist_stats(&stats);
    if !subs && query.http {
        return Ok(answer);
    }
    let mut rows: Vec<Value> = Vec::new();
    for connection in broker.connections().iter().filter(|_| subs) {
        let snapshot = broker.stats.snapshot(connection);
        for sub in &snapshot.subs {
            if query.get("acc").is_some_and(|name| sub.account != name) {
                continue;
            }
            if let Some(test) = test
                && !starling_subject::matches(sub.subject.as_bytes(), test.as_bytes())
            {
                continue;
            }
            rows.push(sub_detail(sub, true));
        }
    }
    let page: Vec<Value> = rows
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(0))
        .take(usize::try_from(limit).unwrap_or(1024))
        .collect();
    // Over HTTP, nats-server answers the statistics alone when it lists
    // nothing; `$SYS` requests get the whole structure.
    if page.is_empty() && query.http {
        return Ok(answer);
    }
    if let Value::Object(map) = &mut answer {
        let mut full = serde_json::Map::new();
        full.insert("server_id".into(), json!(broker.info.server_id));
        full.insert("now".into(), json!(rfc3339(now)));
        full.append(map);
        full.insert("total".into(), json!(page.len()));
        full.insert("offset".into(), json!(offset));
        full.insert("limit".into(), json!(limit));
        if !page.is_empty() {
            full.insert("subscriptions_list".into(), json!(page));
        }
        return Ok(Value::Object(full));
    }
    Ok(answer)
}

pub(super) fn gatewayz(monitor: &Monitor, query: &Query, now: u64) -> Result<Value, String> {
    flag(query, "accs")?;
    Ok(json!({
        "server_id": monitor.broker.info.server_id,
        "now": rfc3339(now),
        "outbound_gateways": {},
        "inbound_gateways": {},
    }))
}

pub(super) fn leafz(monitor: &Monitor, query: &Query, now: u64) -> Result<Value, String> {
    let subs = flag(query, "subs")?;
    let broker = &monitor.broker;
    let mut rows = Vec::new();
    for leaf in broker.leafs() {
        let meta = leaf.link.meta().clone();
        if query
            .get("acc")
            .is_some_and(|acc| meta.account.as_deref() != Some(acc))
        {
            continue;
        }
        let counters = leaf.link.counters();
        let subscriptions = leaf.subscriptions();
        let mut row = json!({
            "account": meta.account.unwrap_or_default(),
            "ip": meta.ip,
            "port": meta.port,
            "rtt": super::format::rtt(meta.rtt.unwrap_or_default()),
            "in_msgs": counters.in_msgs,
            "out_msgs": counters.out_msgs,
            "in_bytes": counters.in_bytes,
            "out_bytes": counters.out_bytes,
            "subscriptions": subscriptions.len(),
        });
        if subs && let Value::Object(map) = &mut row {
            let list: Vec<String> = subscriptions
                .iter()
                .map(|s| String::from_utf8_lossy(&s.subject).into_owned())
                .collect();
            map.insert("subscriptions_list".into(), json!(list));
        }
        rows.push(row);
    }
    Ok(json!({
        "server_id": broker.info.server_id,
        "now": rfc3339(now),
        "leafnodes": rows.len(),
        // No leaf nodes: Go's nil slice.
        "leafs": if rows.is_empty() { Value::Null } else { Value::Array(rows) },
    }))
}

pub(super) fn accountz(monitor: &Monitor, query: &Query, now: u64) -> Result<Value, String> {
    let broker = &monitor.broker;
    let accounts = broker.all_accounts();
    let Some(name) = query.get("acc").filter(|a| !a.is_empty()) else {
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        return Ok(json!({
            "server_id": broker.info.server_id,
            "now": rfc3339(now),
            "accounts": names,
            "system_account": broker.options.system_account_name(),
        }))
        .map(without_nulls);
    };
    let account = accounts
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| format!("Account {name} does not exist"))?;
    let stats = account.stats();
    let clients = broker
        .connections()
        .iter()
        .filter(|c| c.link.meta().account.as_deref() == Some(name))
        .count();
    Ok(json!({
        "server_id": broker.info.server_id,
        "now": rfc3339(now),
        "account_detail": {
            "account_name": account.name,
            "update_time": rfc3339(broker.stats.started_unix_nanos),
            "expired": false,
            "complete": true,
            "jetstream_enabled": false,
            "leafnode_connections": 0,
            "client_connections": clients,
            "subscriptions": stats.subscriptions,
            "sublist_stats": sublist_stats(&[stats]),
        },
    }))
}

/// Drops the `null` fields (Go's `omitempty`) of an object.
fn without_nulls(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
    }
    value
}

pub(super) fn accstatz(monitor: &Monitor, query: &Query, now: u64) -> Result<Value, String> {
    let unused = flag(query, "unused")?;
    let broker = &monitor.broker;
    let mut rows = Vec::new();
    let connections = broker.connections();
    for account in broker.all_accounts() {
        if query
            .accounts
            .as_ref()
            .is_some_and(|names| !names.contains(&account.name))
        {
            continue;
        }
        let (mut counters, slow_consumers) = account.closed_stats();
        let mut conns = 0usize;
        for connection in &connections {
            if connection.link.meta().account.as_deref() == Some(account.name.as_str()) {
                conns += 1;
                counters.add(&connection.link.counters());
            }
        }
        if conns == 0 && !unused {
            continue;
        }
        rows.push(json!({
            "acc": account.name,
            "conns": conns,
            "leafnodes": 0,
            "total_conns": conns,
            "sent": {"msgs": counters.out_msgs, "bytes": counters.out_bytes},
            "received": {"msgs": counters.in_msgs, "bytes": counters.in_bytes},
            "slow_consumers": slow_consumers,
        }));
    }
    Ok(json!({
        "server_id": broker.info.server_id,
        "now": rfc3339(now),
        "account_statz": rows,
    }))
}

pub(super) fn jsz(monitor: &Monitor, query: &Query, now: u64) -> Result<Value, String> {
    if flag(query, "leader-only")? {
        return Err("filtered response: not leader".into());
    }
    Ok(json!({
        "server_id": monitor.broker.info.server_id,
        "now": rfc3339(now),
        "disabled": true,
        "config": {"max_memory": 0, "max_storage": 0},
        "memory": 0,
        "storage": 0,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": 0,
        "ha_assets": 0,
        "api": {"total": 0, "errors": 0},
        "streams": 0,
        "consumers": 0,
        "messages": 0,
        "bytes": 0,
    }))
}

pub(super) fn healthz(query: &Query) -> Result<Value, String> {
    for name in ["js-enabled-only", "js-server-only", "js-enabled"] {
        flag(query, name)?;
    }
    Ok(json!({"status": "ok"}))
}

/// The root page: one link per endpoint, as nats-server's.
pub(super) fn root_page(base: &str) -> String {
    let base = base.trim_start_matches('/');
    let prefix = if base.is_empty() {
        ".".to_owned()
    } else {
        format!("./{base}")
    };
    let links = [
        ("varz", "General"),
        ("jsz", "JetStream"),
        ("connz", "Connections"),
        ("accountz", "Accounts"),
        ("accstatz", "Account Stats"),
        ("subsz", "Subscriptions"),
        ("routez", "Routes"),
        ("leafz", "LeafNodes"),
        ("gatewayz", "Gateways"),
        ("healthz", "Health Probe"),
    ];
    let mut html = format!(
        "<html lang=\"en\">\n<head><title>Starling {}</title></head>\n<body>\n<h1>Starling v{}</h1>\n",
        crate::STARLING_VERSION,
        crate::STARLING_VERSION
    );
    for (path, label) in links {
        html.push_str(&format!("<a href=\"{prefix}/{path}\">{label}</a><br/>\n"));
    }
    html.push_str("<a href=\"https://docs.nats.io/running-a-nats-service/nats_admin/monitoring\">Help</a>\n</body>\n</html>\n");
    html
}
