//! `/metrics`: the Prometheus text exposition (format 0.0.4) of what
//! prometheus-nats-exporter makes of the monitoring endpoints
//! (`-varz -connz -subz -routez -healthz -use_internal_server_id`, namespace
//! `gnatsd`), so dashboards built on it work without the exporter; and
//! what the exporter cannot see, under `starling_`.
//!
//! Parameters instead of configuration keys (a nats-server configuration
//! stays valid): `prefix=nats` (the namespace), `server_id=name` (label
//! by server name), `connz_detailed=1`, `accstatz=1`, `leafz=1`.

use serde_json::{Map, Value};

mod exposition;
mod series;

use exposition::{Exposition, Labels};
use series::{account_stats, connz, starling};

use super::format::parse_bool;
use super::{Monitor, Query};

/// The exporter's namespace (kept by it "for backward compatibility").
const DEFAULT_PREFIX: &str = "gnatsd";
/// `/connz` rows the exporter reads (its default page).
const CONNZ_LIMIT: u64 = 1024;

/// Keys the exporter's generic walk leaves out (by their joined name).
const SKIPPED: &[&str] = &[
    "leaf",
    "trusted_operators_claim",
    "cluster_tls_timeout",
    "cluster_cluster_port",
    "cluster_auth_timeout",
    "gateway_port",
    "gateway_auth_timeout",
    "gateway_tls_timeout",
    "gateway_connect_retries",
];

/// String keys the exporter keeps: times become epoch milliseconds, the
/// others a gauge of 1 with the text in a `value` label.
const LABEL_KEYS: &[&str] = &[
    "server_id",
    "server_name",
    "version",
    "domain",
    "leader",
    "name",
    "start",
    "config_load_time",
];

/// The labels of the detailed connection series, in the exporter's order.
const DETAIL_LABELS: &[&str] = &[
    "server_id",
    "cid",
    "kind",
    "type",
    "ip",
    "port",
    "name",
    "name_tag",
    "account",
    "account_id",
    "lang",
    "version",
    "tls_version",
    "tls_cipher_suite",
];

/// The exporter's `fqName`: keys joined with `_`, `/` as `_`, no doubled
/// or leading and trailing `_`.
fn joined_name(path: &[&str]) -> String {
    let mut name = path.join("_").replace('/', "_");
    while name.contains("__") {
        name = name.replace("__", "_");
    }
    name.trim_matches('_').to_owned()
}

/// Epoch milliseconds of an RFC 3339 UTC time as nats-server prints them.
fn epoch_millis(text: &str) -> Option<f64> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut parts = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut parts = clock.splitn(3, ':').map(str::parse::<i64>);
    let (hour, minute, second) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    let millis: f64 = format!("0.{fraction}").parse::<f64>().unwrap_or(0.0) * 1000.0;
    Some(seconds as f64 * 1000.0 + millis.trunc())
}

/// The exporter's generic walk of an endpoint's JSON: every number a
/// gauge named by its key path, some strings kept, objects flattened.
fn walk(
    out: &mut Exposition,
    family: &str,
    server: &Labels,
    object: &Map<String, Value>,
    path: &[&str],
) {
    for (key, value) in object {
        let mut here = path.to_vec();
        here.push(key);
        let joined = joined_name(&here);
        if SKIPPED.contains(&joined.as_str()) {
            continue;
        }
        let name = format!("{family}_{joined}");
        match value {
            Value::Number(n) => {
                out.gauge(&name, &joined, server.clone(), n.as_f64().unwrap_or(0.0))
            }
            Value::String(text) if LABEL_KEYS.contains(&key.as_str()) => match epoch_millis(text) {
                Some(millis) => out.gauge(&name, &joined, server.clone(), millis),
                None => {
                    let mut labels = server.clone();
                    labels.push(("value", text.clone()));
                    out.gauge(&name, &joined, labels, 1.0);
                }
            },
            Value::Object(inner) => walk(out, family, server, inner, &here),
            _ => {}
        }
    }
}

/// The `/metrics` text, or a 400 reason for a bad parameter.
pub(super) fn metrics(monitor: &Monitor, query: &Query, now: u64) -> Result<String, String> {
    let flag = |name: &str| query.get(name).map_or(Ok(false), |v| parse_bool(name, v));
    let (detailed, accstatz, leafz) = (flag("connz_detailed")?, flag("accstatz")?, flag("leafz")?);
    let prefix = query.get("prefix").unwrap_or(DEFAULT_PREFIX);
    if !prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!("invalid prefix: {prefix}"));
    }
    let broker = monitor.broker();
    let id = match query.get("server_id") {
        Some("name") => broker.info.server_name.clone(),
        Some("id") | None => broker.info.server_id.clone(),
        Some(other) => return Err(format!("invalid server_id: {other} (id or name)")),
    };
    let server: Labels = vec![("server_id", id)];
    let mut out = Exposition::default();
    let internal = Query::internal(Default::default());
    for endpoint in ["varz", "subsz", "routez"] {
        let path = format!("/{endpoint}");
        // The exporter reads /subsz's HTTP shape: the statistics alone.
        let mut query = Query::internal(Default::default());
        query.http = endpoint == "subsz";
        if let Some(Ok(Value::Object(object))) = monitor.data(&path, &query, now) {
            walk(
                &mut out,
                &format!("{prefix}_{endpoint}"),
                &server,
                &object,
                &[],
            );
        }
    }
    connz(&mut out, monitor, prefix, &server, detailed, now);
    if let Some(Ok(health)) = monitor.data("/healthz", &internal, now) {
        let status = health["status"].as_str().unwrap_or_default().to_owned();
        let ok = if status == "ok" { 0.0 } else { 1.0 };
        out.gauge(
            &format!("{prefix}_healthz_status"),
            "status",
            server.clone(),
            ok,
        );
        let mut labels = server.clone();
        labels.push(("value", status));
        out.gauge(
            &format!("{prefix}_healthz_status_value"),
            "status",
            labels,
            1.0 - ok,
        );
    }
    if accstatz {
        account_stats(&mut out, monitor, prefix, &server, now);
    }
    if leafz {
        out.gauge(
            &format!("{prefix}_leafz_conn_nodes_total"),
            "nodes_total",
            server.clone(),
            0.0,
        );
    }
    starling(&mut out, monitor, &server);
    Ok(out.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_joined_as_the_exporter_joins_them() {
        assert_eq!(
            joined_name(&["http_req_stats", "/connz"]),
            "http_req_stats_connz"
        );
        assert_eq!(joined_name(&["http_req_stats", "/"]), "http_req_stats");
        assert_eq!(joined_name(&["websocket", "port"]), "websocket_port");
    }

    #[test]
    fn times_become_epoch_milliseconds() {
        assert_eq!(epoch_millis("1970-01-01T00:00:01.5Z"), Some(1500.0));
        assert_eq!(
            epoch_millis("2026-12-01T23:31:53.710101304Z"),
            Some(1_796_167_913_710.0)
        );
        assert_eq!(epoch_millis("2.9.10"), None);
    }
}
