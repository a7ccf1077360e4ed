//! A reload of the limits and of the accounts, applied to connected
//! clients and compared session by session with nats-server (reloaded by
//! SIGHUP over a rewritten file): a lower `max_connections` closes the
//! excess clients, a lower `max_payload` holds for the clients already
//! connected, a new client's INFO says the new `max_payload` and
//! `client_advertise`; exports, imports and mappings added to the
//! accounts reach the clients already in them, and a new account's users
//! log in.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::net::SocketAddr;
use std::time::Duration;

use starling_tests::nats_server::NatsServer;
use starling_tests::{RawClient, start_from_config};

const WAIT: Duration = Duration::from_secs(10);

fn options(text: &str) -> starling_server::ServerOptions {
    let root = starling_conf::parse_str(text).unwrap();
    let mut options = starling_server::options_from_config(&root).unwrap().server;
    (options.host, options.port) = ("127.0.0.1".into(), 0);
    options
}

async fn login(addr: SocketAddr, credentials: &str, ops: &str) -> RawClient {
    let mut raw = RawClient::connect(addr).await;
    let connect = format!("CONNECT {{\"verbose\":false{credentials}}}\r\n{ops}PING\r\n");
    raw.send(connect.as_bytes()).await;
    let (bytes, _) = raw.read_until(b"PONG\r\n", WAIT).await;
    assert!(bytes.ends_with(b"PONG\r\n"), "{}", text(&bytes));
    raw
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end()
        .replace("\r\n", " | ")
}

/// A round trip: what arrived before the PONG, and whether it closed.
async fn fence(client: &mut RawClient) -> (String, bool) {
    client.send(b"PING\r\n").await;
    let (bytes, closed) = client.read_until(b"PONG\r\n", WAIT).await;
    let shown = text(&bytes);
    (
        shown
            .trim_end_matches("PONG")
            .trim_end_matches(" | ")
            .to_owned(),
        closed,
    )
}

const LIMITS_BEFORE: &str = "max_payload: 1024\nmax_connections: 10\n";
const LIMITS_AFTER: &str =
    "max_payload: 16\nmax_connections: 2\nclient_advertise: \"example.net:4999\"\n";

/// Three clients, then the reload; what each saw (sorted: which client
/// is closed is chosen at random), and a new client's INFO fields.
async fn limits_session(addr: SocketAddr, reload: impl AsyncFnOnce()) -> Vec<String> {
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(login(addr, "", "").await);
    }
    reload().await;
    // The fact to wait on: one client closed to fall within the limit
    // (nats-server applies a SIGHUP on its own time).
    let mut outcomes = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while outcomes.is_empty() && tokio::time::Instant::now() < deadline {
        let mut open = Vec::new();
        for mut client in clients {
            match fence(&mut client).await {
                (seen, true) => outcomes.push(format!("closed: {seen}")),
                (_, false) => open.push(client),
            }
        }
        clients = open;
    }
    // A new client: the new INFO, then refused (two are open).
    let mut probe = RawClient::connect(addr).await;
    let info: serde_json::Value =
        serde_json::from_str(probe.info.trim_start_matches("INFO ").trim()).unwrap();
    outcomes.push(format!(
        "info: {} {} {}",
        info["max_payload"], info["host"], info["port"]
    ));
    let (refused, _) = probe.read_to_close(WAIT).await;
    outcomes.push(format!("probe: {}", text(&refused)));
    // The clients still open publish past the new limit.
    for mut client in clients {
        client.send(b"PUB a 20\r\n01234567890123456789\r\n").await;
        let (seen, closed) = client.read_to_close(WAIT).await;
        outcomes.push(format!("publisher: {} {closed}", text(&seen)));
    }
    outcomes.sort();
    outcomes
}

#[tokio::test]
async fn limits_reload_for_connected_clients_as_in_nats_server() {
    let server = start_from_config(LIMITS_BEFORE).await;
    let ours = limits_session(server.client_addr(), async || {
        server.reload(options(LIMITS_AFTER)).await.unwrap();
    })
    .await;
    assert_eq!(
        ours,
        [
            "closed: -ERR 'maximum connections exceeded'",
            "info: 16 \"example.net\" 4999",
            "probe: -ERR 'maximum connections exceeded'",
            "publisher: -ERR 'Maximum Payload Violation' true",
            "publisher: -ERR 'Maximum Payload Violation' true",
        ]
    );
    if NatsServer::installed() {
        let nats = NatsServer::start(LIMITS_BEFORE, &[]).await;
        let mut theirs = limits_session(nats.addr, async || nats.reload(LIMITS_AFTER)).await;
        // nats-server queues an error and closes at once: on a busy
        // machine the line may not reach the client. Starling sends it.
        for line in &mut theirs {
            let sent = match line.as_str() {
                "closed: " => "closed: -ERR 'maximum connections exceeded'",
                "probe: " => "probe: -ERR 'maximum connections exceeded'",
                "publisher:  true" => "publisher: -ERR 'Maximum Payload Violation' true",
                _ => continue,
            };
            *line = sent.to_owned();
        }
        theirs.sort();
        assert_eq!(theirs, ours);
    }
    server.shutdown().await;
}

const ACCOUNTS_BEFORE: &str = r#"
accounts {
  A { users: [{ user: a, password: a }] }
  B { users: [{ user: b, password: b }] }
}
"#;

const ACCOUNTS_AFTER: &str = r#"
accounts {
  A {
    users: [{ user: a, password: a }]
    exports: [{ stream: "news.>" }]
    mappings: { "old.*": "new.$1" }
  }
  B {
    users: [{ user: b, password: b }]
    imports: [{ stream: { account: A, subject: "news.>" } }]
  }
  C { users: [{ user: c, password: c }] }
}
"#;

/// `a` (account A) and `b` (account B) connected, then the reload; what
/// each saw once A's stream reaches B, and whether `c` logs in.
async fn accounts_session(addr: SocketAddr, reload: impl AsyncFnOnce()) -> Vec<String> {
    let user = |name: &str| format!(",\"user\":\"{name}\",\"pass\":\"{name}\"");
    let mut a = login(addr, &user("a"), "SUB new.> 1\r\n").await;
    let mut b = login(addr, &user("b"), "SUB news.> 1\r\n").await;
    reload().await;
    // The fact to wait on: a message of A's reaches B's subscriber.
    let mut imported = String::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while imported.is_empty() && tokio::time::Instant::now() < deadline {
        a.send(b"PUB news.1 2\r\nhi\r\n").await;
        fence(&mut a).await;
        imported = fence(&mut b).await.0;
    }
    // A's mapping, for the client already in A.
    a.send(b"PUB old.7 2\r\nho\r\n").await;
    let (mapped, _) = fence(&mut a).await;
    let mut c = RawClient::connect(addr).await;
    c.send(format!("CONNECT {{\"verbose\":false{}}}\r\nPING\r\n", user("c")).as_bytes())
        .await;
    let (c_seen, _) = c.read_until(b"\r\n", WAIT).await;
    vec![imported, mapped, text(&c_seen)]
}

#[tokio::test]
async fn accounts_reload_for_connected_clients_as_in_nats_server() {
    let server = start_from_config(ACCOUNTS_BEFORE).await;
    let ours = accounts_session(server.client_addr(), async || {
        server.reload(options(ACCOUNTS_AFTER)).await.unwrap();
    })
    .await;
    assert_eq!(ours, ["MSG news.1 1 2 | hi", "MSG new.7 1 2 | ho", "PONG"]);
    if NatsServer::installed() {
        let nats = NatsServer::start(ACCOUNTS_BEFORE, &[]).await;
        let theirs = accounts_session(nats.addr, async || nats.reload(ACCOUNTS_AFTER)).await;
        assert_eq!(theirs, ours);
    }
    server.shutdown().await;
}

fn member(port: Option<u16>) -> String {
    let routes = port
        .map(|p| format!("\"nats://127.0.0.1:{p}\""))
        .unwrap_or_default();
    format!("cluster {{ name: C1, listen: \"127.0.0.1:-1\", routes: [{routes}] }}\n")
}

#[tokio::test]
async fn a_reload_adds_and_removes_a_route_to_nats_server() {
    use starling_tests::crossing::{client, until_linked};
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the route reload test is skipped");
        return;
    }
    let starling = start_from_config(&member(None)).await;
    let route_port = starling_tests::nats_server::free_port();
    let nats = NatsServer::start(
        &format!("cluster {{ name: C1, listen: \"127.0.0.1:{route_port}\" }}\n"),
        &[],
    )
    .await;
    // Added: dialled at once, and messages cross both ways.
    starling
        .reload(options(&member(Some(route_port))))
        .await
        .unwrap();
    let (on_starling, on_nats) = (
        client(starling.client_addr()).await,
        client(nats.addr).await,
    );
    until_linked(&on_starling, &on_nats, "route.up").await;
    until_linked(&on_nats, &on_starling, "route.up").await;
    // Removed: the route closes, and the member's interest goes with it
    // (a request finds no responders where it found the service).
    let _service = on_nats.subscribe("svc").await.unwrap();
    until_linked(&on_starling, &on_nats, "svc").await;
    starling.reload(options(&member(None))).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "the route stayed");
        let asked = tokio::time::timeout(
            Duration::from_millis(500),
            on_starling.request("svc", "?".into()),
        )
        .await;
        if let Ok(Err(error)) = asked
            && error.kind() == async_nats::RequestErrorKind::NoResponders
        {
            break;
        }
    }
    starling.shutdown().await;
}

#[tokio::test]
async fn a_reload_of_route_permissions_remakes_the_routes_under_them() {
    use futures_util::StreamExt;
    use starling_tests::crossing::{client, until_linked};
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the route permissions test is skipped");
        return;
    }
    let route_port = starling_tests::nats_server::free_port();
    let nats = NatsServer::start(
        &format!("cluster {{ name: C1, listen: \"127.0.0.1:{route_port}\" }}\n"),
        &[],
    )
    .await;
    let routed = member(Some(route_port));
    let starling = start_from_config(&routed).await;
    let (on_starling, on_nats) = (
        client(starling.client_addr()).await,
        client(nats.addr).await,
    );
    let mut secret = on_starling.subscribe("secret.x").await.unwrap();
    until_linked(&on_nats, &on_starling, "route.up").await;
    until_linked(&on_nats, &on_starling, "secret.x").await;
    while tokio::time::timeout(Duration::from_millis(1), secret.next())
        .await
        .is_ok()
    {}
    // Starling no longer imports secret.>: it stops announcing its
    // interest there, so the member sends nothing on it.
    let restricted = routed.replace(
        " }\n",
        ", permissions: { import: { deny: \"secret.>\" } } }\n",
    );
    starling.reload(options(&restricted)).await.unwrap();
    until_linked(&on_nats, &on_starling, "route.again").await;
    let mut after = on_starling.subscribe("probe.after").await.unwrap();
    until_linked(&on_nats, &on_starling, "probe.after").await;
    on_nats.publish("secret.x", "no".into()).await.unwrap();
    on_nats
        .publish("probe.after", "fence".into())
        .await
        .unwrap();
    // The fence follows the secret on the one route: once it is here,
    // the secret would be too.
    while after
        .next()
        .await
        .is_some_and(|m| &m.payload[..] != b"fence")
    {}
    assert!(
        tokio::time::timeout(Duration::from_millis(1), secret.next())
            .await
            .is_err(),
        "nothing crosses on a subject the permissions deny"
    );
    starling.shutdown().await;
}

#[tokio::test]
async fn a_reload_renames_the_cluster() {
    let named = |name: &str| format!("cluster {{ name: {name}, listen: \"127.0.0.1:-1\" }}\n");
    let server = start_from_config(&named("FIRST")).await;
    let info = |raw: &RawClient| {
        serde_json::from_str::<serde_json::Value>(raw.info.trim_start_matches("INFO ").trim())
            .unwrap()["cluster"]
            .clone()
    };
    assert_eq!(
        info(&RawClient::connect(server.client_addr()).await),
        "FIRST"
    );
    server.reload(options(&named("SECOND"))).await.unwrap();
    assert_eq!(
        info(&RawClient::connect(server.client_addr()).await),
        "SECOND"
    );
    server.shutdown().await;
}
