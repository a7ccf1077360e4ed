//! `/routez` (`cluster.md` §9.1): each route with the peer's id, who
//! dialled, its address, times, counters and what the peer announced.

use std::time::Duration;

use serde_json::{Value, json};

use super::Monitor;
use super::format::{parse_bool, rfc3339, rtt, uptime};
use super::query::Query;

pub(super) fn routez(monitor: &Monitor, query: &Query, now: u64) -> Result<Value, String> {
    let (subs, detail) = match query.get("subs") {
        Some(s) if s.eq_ignore_ascii_case("detail") => (true, true),
        Some(s) => (parse_bool("subs", s)?, false),
        None => (false, false),
    };
    let broker = &monitor.broker;
    let mut peers = broker
        .cluster
        .as_ref()
        .map(crate::broker::Cluster::routes)
        .unwrap_or_default();
    peers.sort_by_key(|p| p.link.cid);
    let mut rows = Vec::new();
    for peer in &peers {
        let Some((_, first)) = peer.accounts.values().next() else {
            continue;
        };
        let snapshot = broker.stats.snapshot(first);
        let announced: Vec<_> = peer
            .accounts
            .values()
            .flat_map(|(_, subscriber)| broker.stats.snapshot(subscriber).subs)
            .collect();
        let meta = &snapshot.meta;
        let since = |at: u64| uptime(Duration::from_nanos(now.saturating_sub(at)));
        let mut row = json!({
            "rid": peer.link.cid,
            "remote_id": peer.info.server_id,
            "did_solicit": peer.url.is_some(),
            "is_configured": peer.configured,
            "ip": meta.ip,
            "port": meta.port,
            "start": rfc3339(meta.start_unix_nanos),
            "last_activity": rfc3339(snapshot.last_activity_unix_nanos),
            "rtt": rtt(meta.rtt.unwrap_or_default()),
            "uptime": since(meta.start_unix_nanos),
            "idle": since(snapshot.last_activity_unix_nanos),
            "pending_size": snapshot.counters.pending,
            "in_msgs": snapshot.counters.in_msgs,
            "out_msgs": snapshot.counters.out_msgs,
            "in_bytes": snapshot.counters.in_bytes,
            "out_bytes": snapshot.counters.out_bytes,
            "subscriptions": announced.len(),
        });
        if let Value::Object(map) = &mut row {
            if subs && !detail {
                let list: Vec<&str> = announced.iter().map(|s| s.subject.as_str()).collect();
                map.insert("subscriptions_list".into(), json!(list));
            }
            if detail {
                let list: Vec<Value> = announced
                    .iter()
                    .map(|s| {
                        json!({
                            "account": s.account,
                            "subject": s.subject,
                            "qgroup": s.queue.clone().unwrap_or_default(),
                            "sid": format!("{} {}", s.account, s.sid),
                            "msgs": s.msgs,
                            "max": s.max,
                            "cid": s.cid,
                        })
                    })
                    .collect();
                map.insert("subscriptions_list_detail".into(), json!(list));
            }
        }
        rows.push(row);
    }
    Ok(json!({
        "server_id": broker.info.server_id,
        "now": rfc3339(now),
        "num_routes": rows.len(),
        "routes": rows,
    }))
}
