//! The server filters of `$SYS` requests (`server_name`, `host`,
//! `cluster`, `tags`, `domain`): a server they leave out stays silent.

use serde_json::{Map, Value};

use super::requests::mismatch;
use crate::monitor::Monitor;

/// Whether the filter options (`server_name`, `host`, `cluster`, `tags`,
/// `domain`) leave this server out, as nats-server's `filterRequest`.
pub(super) fn filtered_out(
    monitor: &Monitor,
    body: &Map<String, Value>,
    owner: &str,
) -> Result<bool, String> {
    let broker = monitor.broker();
    let text = |name: &str| -> Result<Option<String>, String> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(mismatch(owner, name, other, "string")),
        }
    };
    if text("server_name")?.is_some_and(|n| !broker.info.server_name.contains(n.as_str())) {
        return Ok(true);
    }
    if text("host")?.is_some_and(|h| !broker.info.host.contains(h.as_str())) {
        return Ok(true);
    }
    let cluster = broker.filter_cluster_name().unwrap_or_default();
    if text("cluster")?.is_some_and(|c| !cluster.contains(c.as_str())) {
        return Ok(true);
    }
    // No JetStream here, so no domain: a domain filter leaves it out.
    if text("domain")?.is_some() {
        return Ok(true);
    }
    match body.get("tags") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Array(tags)) => {
            let own = broker.live.tags();
            Ok(tags.iter().any(|tag| {
                tag.as_str()
                    .is_none_or(|t| !own.contains(&t.trim().to_lowercase()))
            }))
        }
        Some(other) => Err(mismatch(owner, "tags", other, "[]string")),
    }
}
