//! `/metrics` scraped over HTTP and read with a Prometheus text-format
//! parser (the prometheus-parse crate): prometheus-nats-exporter's names
//! and labels, the parameters that stand in for its flags, and Starling's
//! own series, with values that follow what clients did.

use std::net::SocketAddr;

use prometheus_parse::{Sample, Scrape, Value};
use starling_tests::{http_exchange, round_trip, start_from_config, url};

const CONFIG: &str = r#"
server_name: metered
http_port: -1
websocket { port: -1, no_tls: true }
"#;

/// `GET path`: the status line, the headers and the parsed body.
async fn get_metrics(addr: SocketAddr, path: &str) -> (String, String, Scrape) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let reply = http_exchange(addr, request.as_bytes()).await;
    let text = String::from_utf8(reply).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole reply");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    let parsed = Scrape::parse(lines).expect("Prometheus text format");
    (status.to_owned(), headers.to_ascii_lowercase(), parsed)
}

fn value(sample: &Sample) -> f64 {
    match sample.value {
        Value::Gauge(v) | Value::Counter(v) | Value::Untyped(v) => v,
        _ => panic!("{} is not a plain value", sample.metric),
    }
}

/// The samples of `metric` whose labels include `labels`.
fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

fn one(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found = find(scrape, metric, labels);
    assert_eq!(
        found.len(),
        1,
        "{metric} {labels:?}: {} samples",
        found.len()
    );
    value(found[0])
}

#[tokio::test]
async fn metrics_are_the_exporters_and_follow_the_traffic() {
    let server = start_from_config(CONFIG).await;
    let monitor = server.monitor_addr().expect("monitoring port");
    let ws = server.websocket_addr().expect("websocket port");
    let client = async_nats::connect(url(&server)).await.expect("connect");
    let _sub = client.subscribe("metered").await.expect("subscribe");
    for _ in 0..3 {
        client
            .publish("metered", "0123456789".into())
            .await
            .expect("publish");
    }
    round_trip(&client).await;
    // A refused websocket upgrade (POST), counted by reason.
    let refused = http_exchange(ws, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(refused.starts_with(b"HTTP/1.1 405"));

    let (status, headers, scrape) = get_metrics(monitor, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{headers}"
    );
    let id = server.server_id();
    let server_id = [("server_id", id)];
    // What the stock Grafana dashboard queries.
    for name in [
        "connections",
        "cpu",
        "in_bytes",
        "in_msgs",
        "mem",
        "out_bytes",
        "out_msgs",
        "slow_consumers",
        "subscriptions",
    ] {
        one(&scrape, &format!("gnatsd_varz_{name}"), &server_id);
    }
    assert_eq!(one(&scrape, "gnatsd_varz_connections", &server_id), 1.0);
    assert!(one(&scrape, "gnatsd_varz_in_msgs", &server_id) >= 4.0);
    assert!(one(&scrape, "gnatsd_varz_out_msgs", &server_id) >= 4.0);
    assert_eq!(
        one(&scrape, "gnatsd_varz_http_req_stats_metrics", &server_id),
        1.0
    );
    assert!(one(&scrape, "gnatsd_varz_websocket_port", &server_id) > 0.0);
    let start = one(&scrape, "gnatsd_varz_start", &server_id);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as f64;
    assert!(
        start <= now_ms && start > now_ms - 600_000.0,
        "start {start} ms"
    );
    one(&scrape, "gnatsd_varz_server_name", &[("value", "metered")]);
    assert!(find(&scrape, "gnatsd_varz_leaf", &[]).is_empty());
    assert!(one(&scrape, "gnatsd_subsz_num_subscriptions", &server_id) >= 1.0);
    assert_eq!(one(&scrape, "gnatsd_routez_num_routes", &server_id), 0.0);
    assert_eq!(
        one(&scrape, "gnatsd_connz_num_connections", &server_id),
        1.0
    );
    assert_eq!(one(&scrape, "gnatsd_connz_limit", &server_id), 1024.0);
    assert!(one(&scrape, "gnatsd_connz_in_msgs", &server_id) >= 4.0);
    assert_eq!(one(&scrape, "gnatsd_healthz_status", &server_id), 0.0);
    assert_eq!(
        one(&scrape, "gnatsd_healthz_status_value", &[("value", "ok")]),
        1.0
    );
    // Starling's own.
    let nats = [("kind", "client"), ("transport", "nats")];
    assert_eq!(one(&scrape, "starling_connections", &nats), 1.0);
    let websocket = [("kind", "client"), ("transport", "websocket")];
    assert_eq!(one(&scrape, "starling_connections", &websocket), 0.0);
    assert!(one(&scrape, "starling_outbound_pending_high_water_bytes", &nats) > 0.0);
    let method = [("reason", "method")];
    assert_eq!(
        one(&scrape, "starling_websocket_handshake_refusals", &method),
        1.0
    );
    one(&scrape, "starling_build_info", &[]);

    // The exporter's flags, as parameters.
    let path = "/metrics?prefix=nats&server_id=name&connz_detailed=1&accstatz=1&leafz=1";
    let (_, _, scrape) = get_metrics(monitor, path).await;
    let named = [("server_id", "metered")];
    assert_eq!(one(&scrape, "nats_varz_connections", &named), 1.0);
    assert!(find(&scrape, "gnatsd_varz_connections", &[]).is_empty());
    let row = find(
        &scrape,
        "nats_connz_in_msgs",
        &[("type", "nats"), ("kind", "Client")],
    );
    assert_eq!(row.len(), 1, "one series per connection");
    assert!(value(row[0]) >= 4.0);
    assert!(
        row[0]
            .labels
            .get("cid")
            .is_some_and(|cid| cid.parse::<u64>().is_ok())
    );
    one(&scrape, "nats_connz_rtt", &[("type", "nats")]);
    let global = [("account", "$G"), ("account_name", "$G")];
    assert_eq!(
        one(&scrape, "nats_accstatz_current_connections", &global),
        1.0
    );
    assert!(one(&scrape, "nats_accstatz_received_messages", &global) >= 4.0);
    assert_eq!(one(&scrape, "nats_leafz_conn_nodes_total", &named), 0.0);

    let request =
        b"GET /metrics?connz_detailed=maybe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let reply = http_exchange(monitor, request).await;
    assert!(
        reply.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    server.shutdown().await;
}
