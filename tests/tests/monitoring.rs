//! The monitoring port: nats-server's endpoints, keys and types, counters
//! after known traffic, paging, closed connections, base path, JSONP and
//! the error statuses.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use starling_tests::{RawClient, http_exchange, round_trip, start_server, url};

/// `GET path` on the monitoring port: status, content type, body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let reply = http_exchange(addr, request.as_bytes()).await;
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP answer");
    let head = String::from_utf8_lossy(&reply[..end]).to_string();
    let status = head[9..12].parse().expect("a status code");
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or_default()
        .to_owned();
    (status, content_type, reply[end + 4..].to_vec())
}

async fn json(addr: SocketAddr, path: &str) -> Value {
    let (status, content_type, body) = get(addr, path).await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    assert_eq!(content_type, "application/json", "{path}");
    serde_json::from_slice(&body).expect("JSON")
}

/// nats-server 2.9.10's `/varz` keys on a server without TLS, auth or a
/// system account (`omitempty` ones absent).
const VARZ_KEYS: &[&str] = &[
    "server_id",
    "server_name",
    "version",
    "proto",
    "go",
    "host",
    "port",
    "max_connections",
    "ping_interval",
    "ping_max",
    "http_host",
    "http_port",
    "http_base_path",
    "https_port",
    "auth_timeout",
    "max_control_line",
    "max_payload",
    "max_pending",
    "cluster",
    "gateway",
    "leaf",
    "mqtt",
    "websocket",
    "jetstream",
    "tls_timeout",
    "write_deadline",
    "start",
    "now",
    "uptime",
    "mem",
    "cores",
    "gomaxprocs",
    "cpu",
    "connections",
    "total_connections",
    "routes",
    "remotes",
    "leafnodes",
    "in_msgs",
    "out_msgs",
    "in_bytes",
    "out_bytes",
    "slow_consumers",
    "subscriptions",
    "http_req_stats",
    "config_load_time",
];

#[tokio::test]
async fn endpoints_count_what_clients_did() {
    let server = start_server(|o| o.monitor.http_port = -1).await;
    let addr = server.monitor_addr().expect("a monitoring port");
    let client = async_nats::connect(url(&server)).await.unwrap();
    let _sub = client.subscribe("foo").await.unwrap();
    round_trip(&client).await;
    for _ in 0..3 {
        client.publish("foo", "0123456789".into()).await.unwrap();
    }
    round_trip(&client).await;

    let varz = json(addr, "/varz").await;
    let keys: Vec<&str> = varz
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in VARZ_KEYS {
        assert!(keys.contains(key), "/varz lacks {key}");
    }
    assert_eq!(
        varz["in_msgs"],
        3 + 2,
        "three publishes and the two round trips' own"
    );
    assert_eq!(varz["connections"], 1);
    assert_eq!(varz["total_connections"], 1);
    assert_eq!(varz["ping_interval"], 120_000_000_000u64);
    assert_eq!(varz["max_payload"], 1_048_576);
    assert!(varz["uptime"].as_str().unwrap().ends_with('s'));

    let connz = json(addr, "/connz?subs=1").await;
    assert_eq!(connz["num_connections"], 1);
    let row = &connz["connections"][0];
    assert_eq!(row["kind"], "Client");
    assert_eq!(row["type"], "nats");
    assert_eq!(row["lang"], "rust");
    assert!(
        row["subscriptions_list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "foo")
    );
    assert!(row["out_msgs"].as_u64().unwrap() >= 3);
    assert!(row["in_bytes"].as_u64().unwrap() >= 30);

    // A connection that breaks the protocol is remembered with its reason.
    let mut bad = RawClient::connect(server.client_addr()).await;
    bad.send(b"BOGUS\r\n").await;
    let _ = bad.read_to_close(Duration::from_secs(5)).await;
    let mut closed = Value::Null;
    for _ in 0..200 {
        closed = json(addr, "/connz?state=closed").await;
        if closed["total"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // nats-server closes on an unknown operation as a protocol violation.
    assert_eq!(closed["connections"][0]["reason"], "Protocol Violation");
    assert!(closed["connections"][0]["stop"].is_string());
    assert_eq!(json(addr, "/varz").await["total_connections"], 2);

    // The global account holds foo; the system account its services'.
    let subsz = json(addr, "/subsz?acc=%24G").await;
    assert_eq!(subsz["num_subscriptions"], 1, "foo");
    let all = json(addr, "/subsz").await;
    assert!(all["num_subscriptions"].as_u64() > Some(1));
    let listed = json(addr, "/subsz?subs=1&test=foo").await;
    assert_eq!(listed["subscriptions_list"][0]["subject"], "foo");
    assert_eq!(json(addr, "/routez").await["num_routes"], 0);
    assert_eq!(json(addr, "/jsz").await["disabled"], true);
    assert_eq!(json(addr, "/accountz").await["accounts"][0], "$G");
    let healthz = get(addr, "/healthz?js-enabled-only=true").await;
    assert_eq!(
        (healthz.0, healthz.2),
        (200, b"{\"status\":\"ok\"}".to_vec())
    );
}

#[tokio::test]
async fn errors_paths_and_jsonp_as_nats_server() {
    let server = start_server(|o| {
        o.monitor.http_port = -1;
        o.monitor.base_path = "/mon/".into();
    })
    .await;
    let addr = server.monitor_addr().expect("a monitoring port");
    assert_eq!(get(addr, "/varz").await.0, 404);
    let (status, content_type, body) = get(addr, "/mon/varz/").await;
    assert_eq!((status, body), (404, b"404 page not found\n".to_vec()));
    assert_eq!(content_type, "text/plain; charset=utf-8");
    assert_eq!(json(addr, "/mon/varz").await["http_base_path"], "/mon/");
    let (status, _, body) = get(addr, "/mon/connz?sort=bogus").await;
    assert_eq!(
        (status, body),
        (400, b"invalid sorting option: bogus".to_vec())
    );
    let (status, _, body) = get(addr, "/mon/connz?sort=stop").await;
    assert_eq!(
        (status, body),
        (
            400,
            b"sort by stop only valid on closed connections".to_vec()
        )
    );
    let (status, _, body) = get(addr, "/mon/connz?subs=2").await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).starts_with("Error decoding boolean for 'subs'"));
    let (status, content_type, body) = get(addr, "/mon/varz?callback=cb").await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/javascript")
    );
    assert!(body.starts_with(b"cb({") && body.ends_with(b"})"));
    let (status, content_type, _) = get(addr, "/mon").await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/html; charset=utf-8")
    );
    let stats = json(addr, "/mon/varz").await;
    assert_eq!(stats["http_req_stats"]["/varz"], 3);
}
