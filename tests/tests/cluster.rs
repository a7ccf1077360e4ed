//! Cluster routes against live nats-server 2.9.10 nodes, with async-nats
//! clients on each node: a Starling–nats-server pair (each side soliciting
//! in turn), a Starling pair, and a mixed three-node cluster that meshes
//! through gossip. Messages every way, wildcards, headers, request/reply,
//! queue groups exactly once, unsubscribe propagation, large payloads.
//!
//! The nats-server parts are skipped (with a note) where it is not
//! installed; CI installs it. Waits are on facts: a route is up when a
//! probe message crosses it.

use starling_tests::crossing::{Queues, client, exchange, until_linked};
use starling_tests::nats_server::{NatsServer, free_port};
use starling_tests::start_from_config;

/// A Starling member's cluster port: any free one, bound by the server
/// itself (a port picked beforehand could be taken by then).
const ANY: u16 = 0;

/// The listen address of a cluster block on `port` ([`ANY`]: any).
fn listen(port: u16) -> String {
    if port == ANY {
        "127.0.0.1:-1".to_owned()
    } else {
        format!("127.0.0.1:{port}")
    }
}

/// A Starling server's bound cluster port.
fn route_port(server: &starling_server::Server) -> u16 {
    server.route_addr().expect("cluster port").port()
}

/// `"nats://127.0.0.1:<port>", ...` for a `routes` list.
fn route_urls(routes: &[u16]) -> String {
    let routes: Vec<String> = routes
        .iter()
        .map(|p| format!("\"nats://127.0.0.1:{p}\""))
        .collect();
    routes.join(", ")
}

fn member(name: &str, port: u16, routes: &[u16]) -> String {
    format!(
        "server_name: {name}\ncluster {{ name: C1, listen: \"{}\", routes: [{}] }}\n",
        listen(port),
        route_urls(routes)
    )
}

/// Clients on two members: once routed both ways, every check both ways.
async fn pair(a: std::net::SocketAddr, b: std::net::SocketAddr) {
    let (ca, cb) = (client(a).await, client(b).await);
    until_linked(&ca, &cb, "route.up").await;
    until_linked(&cb, &ca, "route.up").await;
    exchange(&ca, &cb, Queues::Anywhere).await;
    exchange(&cb, &ca, Queues::Anywhere).await;
    // A payload of max_payload exactly (1 MB), both ways.
    for (from, to) in [(&ca, &cb), (&cb, &ca)] {
        use futures_util::StreamExt;
        let mut sub = to.subscribe("big.one").await.expect("subscribe");
        until_linked(from, to, "big.fence").await;
        let big = bytes::Bytes::from(vec![b'm'; 1024 * 1024]);
        from.publish("big.one", big.clone()).await.expect("publish");
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), sub.next())
            .await
            .expect("in time")
            .expect("open");
        assert_eq!(got.payload, big);
    }
}

#[tokio::test]
async fn a_starling_pair() {
    let a = start_from_config(&member("SA", ANY, &[])).await;
    let pa = route_port(&a);
    let b = start_from_config(&member("SB", ANY, &[pa])).await;
    pair(a.client_addr(), b.client_addr()).await;
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test]
async fn starling_and_nats_server_both_ways() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the cluster interop test is skipped");
        return;
    }
    // nats-server solicits Starling, then Starling solicits nats-server.
    let pn = free_port();
    let starling = start_from_config(&member("STAR", ANY, &[])).await;
    let ps = route_port(&starling);
    let nats = NatsServer::start(&member("NATS", pn, &[ps]), &[]).await;
    let (cs, cn) = (
        client(starling.client_addr()).await,
        client(nats.addr).await,
    );
    until_linked(&cs, &cn, "route.up").await;
    until_linked(&cn, &cs, "route.up").await;
    exchange(&cs, &cn, Queues::Anywhere).await;
    exchange(&cn, &cs, Queues::Anywhere).await;
    drop(nats);
    starling.shutdown().await;

    let pn = free_port();
    let nats = NatsServer::start(&member("NATS2", pn, &[]), &[]).await;
    let starling = start_from_config(&member("STAR2", ANY, &[pn])).await;
    let (cs, cn) = (
        client(starling.client_addr()).await,
        client(nats.addr).await,
    );
    until_linked(&cs, &cn, "route.up").await;
    until_linked(&cn, &cs, "route.up").await;
    exchange(&cs, &cn, Queues::Anywhere).await;
    exchange(&cn, &cs, Queues::Anywhere).await;
    starling.shutdown().await;
}

#[tokio::test]
async fn a_mixed_cluster_meshes_through_gossip() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the mixed cluster test is skipped");
        return;
    }
    // N1 alone; Starling S routes to N1; N2 routes to S only, so N1 and N2
    // meet only if S tells N1 about N2. Then Starling T routes to N1 only:
    // N1's gossip must bring S (and N2) to dial T.
    let (p1, p2) = (free_port(), free_port());
    let n1 = NatsServer::start(&member("N1", p1, &[]), &[]).await;
    let s = start_from_config(&member("S", ANY, &[p1])).await;
    let ps = route_port(&s);
    let n2 = NatsServer::start(&member("N2", p2, &[ps]), &[]).await;
    let t = start_from_config(&member("T", ANY, &[p1])).await;
    let clients = [
        client(n1.addr).await,
        client(s.client_addr()).await,
        client(n2.addr).await,
        client(t.client_addr()).await,
    ];
    // Every pair, both ways: nothing crosses two routes, so each needs
    // its own.
    for (i, from) in clients.iter().enumerate() {
        for (j, to) in clients.iter().enumerate() {
            if i != j {
                until_linked(from, to, &format!("mesh.{i}.{j}")).await;
            }
        }
    }
    exchange(&clients[0], &clients[2], Queues::Anywhere).await;
    exchange(&clients[3], &clients[1], Queues::Anywhere).await;
    t.shutdown().await;
    s.shutdown().await;
}

/// The `connect_urls` of an INFO line, if it has any.
/// CONNECT with `protocol` 1 (INFO updates wanted), through the first PONG.
async fn takes_info_updates(client: &mut starling_tests::RawClient) {
    client
        .send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n")
        .await;
    let (answer, _) = client
        .read_until(b"PONG\r\n", std::time::Duration::from_secs(5))
        .await;
    assert!(answer.ends_with(b"PONG\r\n"), "{answer:?}");
}

fn connect_urls(info: &str) -> Option<Vec<String>> {
    let json = info.trim().strip_prefix("INFO ")?;
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let urls = value.get("connect_urls")?.as_array()?;
    Some(
        urls.iter()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect(),
    )
}

#[tokio::test]
async fn clients_learn_the_members_urls() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the connect_urls test is skipped");
        return;
    }
    use starling_tests::RawClient;
    use std::time::Duration;
    let starling = start_from_config(&member("URLS", ANY, &[])).await;
    let ps = route_port(&starling);
    let own = starling.client_addr().to_string();
    // Alone: no connect_urls (as nats-server standalone).
    let mut early = RawClient::connect(starling.client_addr()).await;
    assert_eq!(connect_urls(&early.info), None, "{}", early.info);
    takes_info_updates(&mut early).await;
    // A protocol-0 client gets no update.
    let mut old = RawClient::connect(starling.client_addr()).await;
    old.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    old.read_until(b"PONG\r\n", Duration::from_secs(5)).await;

    // A nats-server member joins: the early client gets a fresh INFO with
    // its server's URL first, then the peer's.
    let pn = free_port();
    let nats = NatsServer::start(&member("URLN", pn, &[ps]), &[]).await;
    let (pushed, _) = early.read_until(b"}", Duration::from_secs(10)).await;
    let pushed = String::from_utf8_lossy(&pushed).into_owned();
    let nats_url = nats.addr.to_string();
    assert_eq!(
        connect_urls(&pushed),
        Some(vec![own.clone(), nats_url.clone()]),
        "{pushed}"
    );
    // The peer learnt Starling's URL from its route INFO.
    let on_nats = RawClient::connect(nats.addr).await;
    assert_eq!(
        connect_urls(&on_nats.info),
        Some(vec![nats_url.clone(), own.clone()]),
        "{}",
        on_nats.info
    );
    // A new client of Starling gets both at once.
    let late = RawClient::connect(starling.client_addr()).await;
    assert_eq!(
        connect_urls(&late.info),
        Some(vec![own.clone(), nats_url]),
        "{}",
        late.info
    );
    // The member leaves: only Starling's own URL is left.
    drop(nats);
    let (pushed, _) = early.read_until(b"}", Duration::from_secs(10)).await;
    let pushed = String::from_utf8_lossy(&pushed).into_owned();
    assert_eq!(connect_urls(&pushed), Some(vec![own]), "{pushed}");
    // The protocol-0 client never got an update: a PING answers at once.
    old.send(b"PING\r\n").await;
    let (answer, _) = old.read_until(b"PONG\r\n", Duration::from_secs(5)).await;
    assert_eq!(answer, b"PONG\r\n");
    starling.shutdown().await;
}

#[tokio::test]
async fn websocket_clients_learn_the_websocket_urls() {
    use starling_tests::{raw_upgrade, read_frames};
    // Starling's websocket block advertises a name; the peer's websocket
    // URL comes from its route INFO. A websocket client gets those (not
    // the client URLs) in `connect_urls`.
    let a = start_from_config(&format!(
        "{}websocket {{ port: -1, no_tls: true, advertise: \"ws.example:8443\" }}\n",
        member("WSA", ANY, &[])
    ))
    .await;
    let pa = route_port(&a);
    let b = start_from_config(&format!(
        "{}websocket {{ port: -1, no_tls: true }}\n",
        member("WSB", ANY, &[pa])
    ))
    .await;
    let (ca, cb) = (client(a.client_addr()).await, client(b.client_addr()).await);
    until_linked(&ca, &cb, "route.up").await;
    let (mut stream, _) = raw_upgrade(a.websocket_addr().expect("websocket"), "").await;
    let (info, _) = read_frames(&mut stream, false, b"\r\n").await;
    let info = String::from_utf8_lossy(&info).into_owned();
    let b_ws = b.websocket_addr().expect("websocket").to_string();
    assert_eq!(
        connect_urls(&info),
        Some(vec!["ws.example:8443".to_owned(), b_ws]),
        "{info}"
    );
    assert!(!info.contains("ws_connect_urls"), "{info}");
    b.shutdown().await;
    a.shutdown().await;
}

/// Connects to a cluster port, reads its INFO, sends `lines`, and returns
/// the INFO and what followed until the close (or `limit`).
async fn raw_route(addr: std::net::SocketAddr, lines: &str) -> (String, String, bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut seen, mut buf) = (Vec::new(), [0u8; 4096]);
    let limit = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !seen.windows(2).any(|w| w == b"\r\n") {
        match tokio::time::timeout_at(limit, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => panic!("no INFO from {addr}"),
        }
    }
    let at = seen.windows(2).position(|w| w == b"\r\n").expect("line") + 2;
    let info = String::from_utf8_lossy(&seen[..at]).into_owned();
    let mut rest = seen[at..].to_vec();
    stream.write_all(lines.as_bytes()).await.expect("write");
    let closed = loop {
        match tokio::time::timeout_at(limit, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(n)) => rest.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (info, String::from_utf8_lossy(&rest).into_owned(), closed)
}

#[tokio::test]
async fn the_cluster_port_refuses_as_nats_server_does() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the route refusal differential is skipped");
        return;
    }
    let guarded = |name: &str, port: u16| {
        format!(
            "server_name: {name}\ncluster {{ name: C1, listen: \"{}\", authorization {{ user: ruser, password: T0p, timeout: 0.5 }} }}\n",
            listen(port)
        )
    };
    let pn = free_port();
    let starling = start_from_config(&guarded("GUARD", ANY)).await;
    let ps = route_port(&starling);
    let _nats = NatsServer::start(&guarded("GUARD", pn), &[]).await;
    let addrs = [
        std::net::SocketAddr::from(([127, 0, 0, 1], ps)),
        std::net::SocketAddr::from(([127, 0, 0, 1], pn)),
    ];
    let connect = |fields: &str| {
        format!(
            "CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true,\"name\":\"NTEST\",\"cluster\":\"C1\"{fields}}}\r\n"
        )
    };
    let good = ",\"user\":\"ruser\",\"pass\":\"T0p\"";
    let cases = [
        (
            "wrong password",
            connect(",\"user\":\"ruser\",\"pass\":\"nope\""),
        ),
        ("no credentials", connect("")),
        ("PING first", "PING\r\n".to_owned()),
        ("a client", connect(&format!("{good},\"lang\":\"go\""))),
        ("a gateway", connect(&format!("{good},\"gateway\":\"GW\""))),
        (
            "another cluster",
            connect(good).replace("\"cluster\":\"C1\"", "\"cluster\":\"OTHER\""),
        ),
        ("silence", String::new()),
        (
            "this server's name",
            format!(
                "{}INFO {{\"server_id\":\"NTEST\",\"server_name\":\"GUARD\",\"cluster\":\"C1\",\"port\":1,\"proto\":2}}\r\n",
                connect(good)
            ),
        ),
    ];
    for (what, lines) in &cases {
        let (info, ours, closed) = raw_route(addrs[0], lines).await;
        let (_, theirs, nats_closed) = raw_route(addrs[1], lines).await;
        assert_eq!(
            (&ours, closed),
            (&theirs, nats_closed),
            "{what}: Starling, then nats-server"
        );
        for field in [
            "\"proto\":2",
            "\"cluster\":\"C1\"",
            "\"auth_required\":true",
            "\"nonce\":",
        ] {
            assert!(info.contains(field), "{field} in {info}");
        }
        assert!(info.ends_with("} \r\n"), "{info}");
    }
    starling.shutdown().await;
}

#[tokio::test]
async fn a_member_that_dies_is_withdrawn_rejoined_and_failed_over_from() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the failover test is skipped");
        return;
    }
    use futures_util::StreamExt;
    use std::time::Duration;
    let (pn, nats_client) = (free_port(), free_port());
    let starling = start_from_config(&member("STAY", ANY, &[pn])).await;
    let nats = NatsServer::start_on(&member("DIES", pn, &[]), nats_client).await;
    let on_starling = client(starling.client_addr()).await;
    let on_nats = client(nats.addr).await;
    until_linked(&on_nats, &on_starling, "route.up").await;
    // A service on the nats-server member, and a client of it that will
    // fail over (it learnt Starling's URL from connect_urls).
    let mut service = on_nats.subscribe("svc.dies").await.expect("subscribe");
    let answering = on_nats.clone();
    tokio::spawn(async move {
        while let Some(request) = service.next().await {
            if let Some(reply) = request.reply {
                let _ = answering.publish(reply, "up".into()).await;
            }
        }
    });
    let mover = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(format!("nats://{}", nats.addr))
        .await
        .expect("connects");
    let mut moved = mover.subscribe("moved").await.expect("subscribe");
    until_linked(&on_starling, &on_nats, "svc.dies").await;
    until_linked(&on_starling, &mover, "moved").await;
    while tokio::time::timeout(Duration::from_millis(50), moved.next())
        .await
        .is_ok()
    {}

    // The member dies: its interest is withdrawn (a request now finds no
    // responders), and the moving client reconnects to Starling.
    drop(nats);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dead member's interest stayed"
        );
        match tokio::time::timeout(
            Duration::from_millis(500),
            on_starling.request("svc.dies", "?".into()),
        )
        .await
        {
            Ok(Err(error)) if error.kind() == async_nats::RequestErrorKind::NoResponders => break,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    until_linked(&on_starling, &mover, "moved").await;

    // It comes back where it was: the route is dialled again and its
    // interest crosses again.
    let nats = NatsServer::start_on(&member("DIES", pn, &[]), nats_client).await;
    let back = client(nats.addr).await;
    until_linked(&on_starling, &back, "route.back").await;
    until_linked(&back, &on_starling, "route.back").await;
    starling.shutdown().await;
}

const ACCOUNTS: &str = "accounts {\n  AX { users [{user: ax, password: pw}], exports [{stream: \"s.>\"}, {service: \"svc\"}] }\n  BX { users [{user: bx, password: pw}], imports [{stream: {account: AX, subject: \"s.>\"}}, {service: {account: AX, subject: \"svc\"}}] }\n}\n";

async fn user(addr: std::net::SocketAddr, name: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(name.into(), "pw".into())
        .connect(format!("nats://{addr}"))
        .await
        .expect("connects")
}

/// AX serves `svc` and publishes `s.x` on the first member; BX on the
/// second imports both.
async fn imports_cross(exporter: std::net::SocketAddr, importer: std::net::SocketAddr) {
    use futures_util::StreamExt;
    use std::time::Duration;
    let ax = user(exporter, "ax").await;
    let bx = user(importer, "bx").await;
    let mut service = ax.subscribe("svc").await.expect("subscribe");
    let answering = ax.clone();
    tokio::spawn(async move {
        while let Some(request) = service.next().await {
            if let Some(reply) = request.reply {
                let _ = answering.publish(reply, "served".into()).await;
            }
        }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let answer = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer across the route"
        );
        match tokio::time::timeout(Duration::from_millis(500), bx.request("svc", "?".into())).await
        {
            Ok(Ok(answer)) => break answer,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert_eq!(&answer.payload[..], b"served");
    let mut stream = bx.subscribe("s.x").await.expect("subscribe");
    starling_tests::round_trip(&bx).await;
    starling_tests::crossing::delivered(&ax, &mut stream, "s.x").await;
}

#[tokio::test]
async fn imports_and_exports_cross_routes() {
    let a = start_from_config(&format!("{ACCOUNTS}{}", member("IA", ANY, &[]))).await;
    let pa = route_port(&a);
    let b = start_from_config(&format!("{ACCOUNTS}{}", member("IB", ANY, &[pa]))).await;
    let (ca, cb) = (
        user(a.client_addr(), "ax").await,
        user(b.client_addr(), "ax").await,
    );
    until_linked(&ca, &cb, "route.up").await;
    imports_cross(a.client_addr(), b.client_addr()).await;
    imports_cross(b.client_addr(), a.client_addr()).await;
    if NatsServer::installed() {
        let pn = free_port();
        let nats = NatsServer::start(&format!("{ACCOUNTS}{}", member("IN", pn, &[pa])), &[]).await;
        let cn = user(nats.addr, "ax").await;
        until_linked(&ca, &cn, "route.up2").await;
        until_linked(&cn, &ca, "route.up2").await;
        imports_cross(nats.addr, a.client_addr()).await;
        imports_cross(a.client_addr(), nats.addr).await;
    } else {
        eprintln!("nats-server is not installed: its part of the imports test is skipped");
    }
    b.shutdown().await;
    a.shutdown().await;
}

/// A CA and a member certificate it signed (for localhost and 127.0.0.1,
/// server and client use), written in a fresh directory:
/// (directory, ca, cert, key).
fn route_certificates(name: &str) -> (std::path::PathBuf, String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    let dir =
        std::env::temp_dir().join(format!("starling-route-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("key");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params");
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("cert");
    let write = |file: &str, text: String| {
        let path = dir.join(file);
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    };
    let ca = write("ca.pem", ca.pem());
    let cert = write("cert.pem", cert.pem());
    let key = write("key.pem", key.serialize_pem());
    (dir, ca, cert, key)
}

#[tokio::test]
async fn routes_over_tls() {
    let (dir, ca, cert, key) = route_certificates("members");
    let tls = format!(
        "tls {{ cert_file: \"{cert}\", key_file: \"{key}\", ca_file: \"{ca}\", timeout: 2 }}"
    );
    let secured = |name: &str, port: u16, routes: &[u16]| {
        member(name, port, routes).replace(" }\n", &format!(", {tls} }}\n"))
    };
    let a = start_from_config(&secured("TA", ANY, &[])).await;
    let pa = route_port(&a);
    let b = start_from_config(&secured("TB", ANY, &[pa])).await;
    pair(a.client_addr(), b.client_addr()).await;
    // A plaintext peer gets nothing: TLS comes before the INFO.
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", pa))
        .await
        .expect("connect");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        tokio::io::AsyncReadExt::read(&mut plain, &mut byte),
    )
    .await;
    assert!(!matches!(read, Ok(Ok(1))), "a plaintext peer got bytes");
    if NatsServer::installed() {
        // nats-server dials Starling over TLS, and Starling dials it.
        let (pn, pm) = (free_port(), free_port());
        let nats = NatsServer::start(&secured("TN", pn, &[pa]), &[]).await;
        pair(a.client_addr(), nats.addr).await;
        let nats_b = NatsServer::start(&secured("TM", pm, &[]), &[]).await;
        let c = start_from_config(&secured("TC", ANY, &[pm])).await;
        pair(c.client_addr(), nats_b.addr).await;
        c.shutdown().await;
    } else {
        eprintln!("nats-server is not installed: the TLS route interop part is skipped");
    }
    b.shutdown().await;
    a.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Messages waiting on `sub` now (after a fence).
async fn waiting(sub: &mut async_nats::Subscriber) -> Vec<String> {
    use futures_util::StreamExt;
    let mut got = Vec::new();
    while let Ok(Some(m)) =
        tokio::time::timeout(std::time::Duration::from_millis(50), sub.next()).await
    {
        got.push(m.subject.to_string());
    }
    got
}

/// On a member with `import: "allowed.>"` and `export: {allow: exp.>,
/// deny: exp.secret}` (`restricted`), and its peer: what crosses each way.
async fn permissions_hold(restricted: std::net::SocketAddr, peer: std::net::SocketAddr) {
    use starling_tests::crossing::delivered;
    let (ca, cb) = (client(restricted).await, client(peer).await);
    let mut on_a = Vec::new();
    for subject in ["allowed.x", "other.x"] {
        on_a.push(ca.subscribe(subject).await.expect("subscribe"));
    }
    let mut on_b = Vec::new();
    for subject in ["exp.y", "noexp.y", "exp.secret"] {
        on_b.push(cb.subscribe(subject).await.expect("subscribe"));
    }
    starling_tests::round_trip(&ca).await;
    starling_tests::round_trip(&cb).await;
    // Fences on allowed subjects: once one crossed, what was sent before has.
    let mut fence_a = ca.subscribe("allowed.fence").await.expect("subscribe");
    let mut fence_b = cb.subscribe("exp.fence").await.expect("subscribe");
    starling_tests::round_trip(&ca).await;
    starling_tests::round_trip(&cb).await;
    delivered(&cb, &mut fence_a, "allowed.fence").await;
    delivered(&ca, &mut fence_b, "exp.fence").await;
    for subject in ["allowed.x", "other.x"] {
        cb.publish(subject, "b".into()).await.expect("publish");
    }
    for subject in ["exp.y", "noexp.y", "exp.secret"] {
        ca.publish(subject, "a".into()).await.expect("publish");
    }
    delivered(&cb, &mut fence_a, "allowed.fence").await;
    delivered(&ca, &mut fence_b, "exp.fence").await;
    let got_a: Vec<Vec<String>> =
        futures_util::future::join_all(on_a.iter_mut().map(waiting)).await;
    let got_b: Vec<Vec<String>> =
        futures_util::future::join_all(on_b.iter_mut().map(waiting)).await;
    assert_eq!(
        got_a,
        vec![vec!["allowed.x".to_owned()], vec![]],
        "imported by the restricted member"
    );
    assert_eq!(
        got_b,
        vec![vec!["exp.y".to_owned()], vec![], vec![]],
        "exported by the restricted member"
    );
}

#[tokio::test]
async fn route_permissions_hold_as_nats_servers_do() {
    let restricted = |name: &str, port: u16, routes: &[u16]| {
        member(name, port, routes).replace(
            " }\n",
            ", permissions { import: \"allowed.>\", export: { allow: [\"exp.>\"], deny: [\"exp.secret\"] } } }\n",
        )
    };
    let a = start_from_config(&restricted("PA", ANY, &[])).await;
    let pa = route_port(&a);
    let b = start_from_config(&member("PB", ANY, &[pa])).await;
    permissions_hold(a.client_addr(), b.client_addr()).await;
    if NatsServer::installed() {
        // The same with nats-server on either side.
        let pn = free_port();
        let nats = NatsServer::start(&member("PN", pn, &[pa]), &[]).await;
        permissions_hold(a.client_addr(), nats.addr).await;
        let pr = free_port();
        let restricted_nats = NatsServer::start(&restricted("PR", pr, &[]), &[]).await;
        let c = start_from_config(&member("PC", ANY, &[pr])).await;
        permissions_hold(restricted_nats.addr, c.client_addr()).await;
        c.shutdown().await;
    } else {
        eprintln!("nats-server is not installed: the permission interop part is skipped");
    }
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test]
async fn a_stuck_route_is_cut_off_and_stalls_no_local_client() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start_from_config(&member("HOLDS", ANY, &[])).await;
    let port = route_port(&server);
    // A peer that completes the handshake, wants `flood`, then reads
    // nothing more.
    let mut stuck = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stuck
        .write_all(
            b"CONNECT {\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true,\"name\":\"NSTUCK\",\"cluster\":\"C1\"}\r\n\
INFO {\"server_id\":\"NSTUCK\",\"server_name\":\"STUCK\",\"cluster\":\"C1\",\"port\":1,\"proto\":2,\"headers\":true}\r\n\
RS+ $G flood\r\nPING\r\n",
        )
        .await
        .expect("write");
    // The interest is in once the peer's PING is answered (operations
    // are handled in order).
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("PONG") {
        let n = tokio::time::timeout(Duration::from_secs(10), stuck.read(&mut buf))
            .await
            .expect("PONG")
            .expect("read");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let publisher = client(server.client_addr()).await;
    let other = client(server.client_addr()).await;
    // 128 MB for the route, twice its max_pending: it is cut off as a slow
    // consumer rather than holding the publisher.
    let payload = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
    for _ in 0..2048 {
        publisher
            .publish("flood", payload.clone())
            .await
            .expect("publish");
    }
    tokio::time::timeout(
        Duration::from_secs(30),
        starling_tests::round_trip(&publisher),
    )
    .await
    .expect("the publisher is not held for good");
    tokio::time::timeout(Duration::from_secs(5), starling_tests::round_trip(&other))
        .await
        .expect("another client is served meanwhile");
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match stuck.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the stuck route was cut off");
    server.shutdown().await;
}

#[tokio::test]
async fn monitoring_shows_the_routes() {
    let a = start_from_config(&format!("http_port: -1\n{}", member("MA", ANY, &[]))).await;
    let pa = route_port(&a);
    let b = start_from_config(&member("MB", ANY, &[pa])).await;
    let (ca, cb) = (client(a.client_addr()).await, client(b.client_addr()).await);
    // B's subscription, as A sees the route (in before the probe's).
    let _kept = cb.subscribe("kept").await.expect("subscribe");
    until_linked(&ca, &cb, "route.up").await;
    let get = |path: &'static str| {
        let addr = a.monitor_addr().expect("monitor");
        async move {
            let answer = starling_tests::http_exchange(
                addr,
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await;
            let text = String::from_utf8_lossy(&answer).into_owned();
            let body = text
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.to_owned())
                .unwrap_or_default();
            serde_json::from_str::<serde_json::Value>(&body).expect("JSON")
        }
    };
    let varz = get("/varz").await;
    assert_eq!(varz["cluster"]["name"], "C1");
    assert_eq!(varz["cluster"]["cluster_port"], pa);
    assert_eq!(
        (varz["routes"].as_u64(), varz["remotes"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        varz["connect_urls"],
        serde_json::json!([a.client_addr().to_string(), b.client_addr().to_string()])
    );
    let routez = get("/routez?subs=1").await;
    assert_eq!(routez["num_routes"], 1);
    let route = &routez["routes"][0];
    assert_eq!(
        (
            route["did_solicit"].as_bool(),
            route["is_configured"].as_bool()
        ),
        (Some(false), Some(false))
    );
    let list = route["subscriptions_list"].as_array().expect("list");
    assert!(list.iter().any(|s| s == "kept"), "{route}");
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test]
async fn a_member_in_lame_duck_mode_leaves_the_clients_urls() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the lame-duck test is skipped");
        return;
    }
    use starling_tests::RawClient;
    use std::time::Duration;
    let pn = free_port();
    let starling = start_from_config(&member("LDS", ANY, &[])).await;
    let ps = route_port(&starling);
    let nats = NatsServer::start(&member("LDN", pn, &[ps]), &[]).await;
    let (cs, cn) = (
        client(starling.client_addr()).await,
        client(nats.addr).await,
    );
    until_linked(&cn, &cs, "route.up").await;
    let own = starling.client_addr().to_string();
    let mut watcher = RawClient::connect(starling.client_addr()).await;
    assert_eq!(
        connect_urls(&watcher.info),
        Some(vec![own.clone(), nats.addr.to_string()]),
        "{}",
        watcher.info
    );
    takes_info_updates(&mut watcher).await;
    // nats-server enters lame-duck mode: its route INFO says `ldm`, and
    // Starling's clients are told to stop counting on it.
    let signalled = std::process::Command::new("kill")
        .args(["-USR2", &nats.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    let (pushed, _) = watcher.read_until(b"}", Duration::from_secs(10)).await;
    let pushed = String::from_utf8_lossy(&pushed).into_owned();
    assert_eq!(connect_urls(&pushed), Some(vec![own]), "{pushed}");
    starling.shutdown().await;
}

#[tokio::test]
async fn route_authorization_both_ways_and_through_gossip() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the route authorization test is skipped");
        return;
    }
    // Every member requires ruser/T0p; routes carry it in their URLs, and
    // a route learnt by gossip uses the member's own.
    let guarded = |name: &str, port: u16, routes: &[u16]| {
        let routes: Vec<String> = routes
            .iter()
            .map(|p| format!("\"nats://ruser:T0p@127.0.0.1:{p}\""))
            .collect();
        format!(
            "server_name: {name}\ncluster {{ name: C1, listen: \"{}\", authorization {{ user: ruser, password: T0p }}, routes: [{}] }}\n",
            listen(port),
            routes.join(", ")
        )
    };
    let (pn, pm) = (free_port(), free_port());
    let nats = NatsServer::start(&guarded("AN", pn, &[]), &[]).await;
    // Starling dials nats-server with credentials.
    let starling = start_from_config(&guarded("AS", ANY, &[pn])).await;
    let ps = route_port(&starling);
    // A second nats-server dials Starling only: nats-server must then
    // learn it through gossip and dial it with its own credentials, and
    // Starling's credentials are checked on the way in.
    let nats_m = NatsServer::start(&guarded("AM", pm, &[ps]), &[]).await;
    let clients = [
        client(nats.addr).await,
        client(starling.client_addr()).await,
        client(nats_m.addr).await,
    ];
    for (i, from) in clients.iter().enumerate() {
        for (j, to) in clients.iter().enumerate() {
            if i != j {
                until_linked(from, to, &format!("auth.{i}.{j}")).await;
            }
        }
    }
    // A member without the credentials is refused.
    let wrong = start_from_config(&member("AW", ANY, &[ps])).await;
    let cw = client(wrong.client_addr()).await;
    let mut probe = cw.subscribe("never").await.expect("subscribe");
    starling_tests::round_trip(&cw).await;
    for _ in 0..20 {
        clients[1]
            .publish("never", "x".into())
            .await
            .expect("publish");
    }
    starling_tests::round_trip(&clients[1]).await;
    let got = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        futures_util::StreamExt::next(&mut probe),
    )
    .await;
    assert!(got.is_err(), "a member without credentials got a message");
    wrong.shutdown().await;
    starling.shutdown().await;
}

#[tokio::test]
async fn leafs_learn_the_members_leafnode_urls() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the leafnode_urls test is skipped");
        return;
    }
    use tokio::io::AsyncWriteExt;
    let (pn, leaf_n) = (free_port(), free_port());
    let hub = start_from_config(&format!(
        "leafnodes {{ host: 127.0.0.1, port: -1 }}\n{}",
        member("LA", ANY, &[])
    ))
    .await;
    let pa = route_port(&hub);
    let own = hub.leaf_addr().expect("leafnode port").to_string();
    let mut leaf = tokio::net::TcpStream::connect(hub.leaf_addr().expect("leafnode port"))
        .await
        .expect("connect");
    leaf.write_all(b"CONNECT {\"name\":\"RAWLEAF\",\"version\":\"2.9.10\"}\r\nPING\r\n")
        .await
        .expect("write");
    let mut seen = String::new();
    read_until(&mut leaf, &mut seen, "PONG\r\n").await;
    // A nats-server member with a leafnode port joins: the leaf is told.
    let _nats = NatsServer::start(
        &format!(
            "leafnodes {{ host: 127.0.0.1, port: {leaf_n} }}\n{}",
            member("LN", pn, &[pa])
        ),
        &[],
    )
    .await;
    let both = format!("\"leafnode_urls\":[\"{own}\",\"127.0.0.1:{leaf_n}\"]");
    read_until(&mut leaf, &mut seen, &both).await;
    hub.shutdown().await;
}

/// Reads from `stream` into `seen` until it holds `pattern`.
async fn read_until(stream: &mut tokio::net::TcpStream, seen: &mut String, pattern: &str) {
    use tokio::io::AsyncReadExt;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while !seen.contains(pattern) {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {pattern:?} in {seen}"))
            .expect("read");
        assert!(n > 0, "closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

#[tokio::test]
async fn a_member_without_a_name_takes_the_clusters() {
    // No `name`: the member makes one up and takes its peer's fixed one.
    let a = start_from_config(&member("NA", ANY, &[])).await;
    let pa = route_port(&a);
    let b = start_from_config(&format!(
        "server_name: NB\ncluster {{ listen: \"127.0.0.1:-1\", routes: [\"nats://127.0.0.1:{pa}\"] }}\n"
    ))
    .await;
    pair(a.client_addr(), b.client_addr()).await;
    b.shutdown().await;
    a.shutdown().await;
}

/// A member named `name` without a cluster name, routing to `routes`.
fn nameless(name: &str, routes: &[u16]) -> String {
    format!(
        "server_name: {name}\ncluster {{ listen: \"127.0.0.1:-1\", routes: [{}] }}\n",
        route_urls(routes)
    )
}

#[tokio::test]
async fn members_without_names_meet_at_the_first_attempt() {
    use starling_tests::RawClient;
    use std::time::Duration;
    // Both names made up: the one that sorts last wins on both sides at
    // once (nats-server refuses the first route and meets again a second
    // later, so its clients see the peer come and go). The names are
    // random: a few rounds meet both orders.
    for round in 0..4 {
        let a = start_from_config(&nameless("DA", &[])).await;
        let mut watcher = RawClient::connect(a.client_addr()).await;
        takes_info_updates(&mut watcher).await;
        let b = start_from_config(&nameless("DB", &[route_port(&a)])).await;
        pair(a.client_addr(), b.client_addr()).await;
        watcher.send(b"PING\r\n").await;
        let (seen, _) = watcher
            .read_until(b"PONG\r\n", Duration::from_secs(5))
            .await;
        let seen = String::from_utf8_lossy(&seen).into_owned();
        let infos: Vec<&str> = seen.lines().filter(|l| l.starts_with("INFO ")).collect();
        assert_eq!(infos.len(), 1, "round {round}: {seen}");
        assert!(
            infos[0].contains(&b.client_addr().to_string()),
            "round {round}: {seen}"
        );
        b.shutdown().await;
        a.shutdown().await;
    }
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the nameless interop is skipped");
        return;
    }
    // With nats-server on either side the members end under one name.
    for round in 0..2 {
        let starling = start_from_config(&nameless("DS", &[])).await;
        let pn = free_port();
        let nats_config = format!(
            "server_name: DN\ncluster {{ listen: \"127.0.0.1:{pn}\", routes: [\"nats://127.0.0.1:{}\"] }}\n",
            route_port(&starling)
        );
        let nats = NatsServer::start(&nats_config, &[]).await;
        pair(starling.client_addr(), nats.addr).await;
        drop(nats);
        starling.shutdown().await;
        let pn = free_port();
        let nats = NatsServer::start(
            &format!("server_name: DN2\ncluster {{ listen: \"127.0.0.1:{pn}\" }}\n"),
            &[],
        )
        .await;
        let starling = start_from_config(&nameless("DS2", &[pn])).await;
        pair(starling.client_addr(), nats.addr).await;
        drop(nats);
        starling.shutdown().await;
        eprintln!("round {round}: met nats-server both ways");
    }
}

#[tokio::test]
async fn client_advertise_is_what_clients_and_members_are_told() {
    use starling_tests::RawClient;
    let a = start_from_config(&format!(
        "client_advertise: \"a.example:4333\"\n{}",
        member("ADVA", ANY, &[])
    ))
    .await;
    let b = start_from_config(&member("ADVB", ANY, &[route_port(&a)])).await;
    let (ca, cb) = (client(a.client_addr()).await, client(b.client_addr()).await);
    until_linked(&ca, &cb, "adv.up").await;
    until_linked(&cb, &ca, "adv.up").await;
    let b_url = b.client_addr().to_string();
    // INFO's host and port are the advertised ones, and so is this
    // server's entry in connect_urls, here and on the peer.
    let on_a = RawClient::connect(a.client_addr()).await;
    assert!(
        on_a.info.contains("\"host\":\"a.example\",\"port\":4333"),
        "{}",
        on_a.info
    );
    // The cluster's name, as nats-server's client INFO has it.
    assert!(on_a.info.contains("\"cluster\":\"C1\""), "{}", on_a.info);
    let mut expected = vec!["a.example:4333".to_owned(), b_url.clone()];
    assert_eq!(
        connect_urls(&on_a.info),
        Some(expected.clone()),
        "{}",
        on_a.info
    );
    let on_b = RawClient::connect(b.client_addr()).await;
    assert_eq!(
        connect_urls(&on_b.info),
        Some(vec![b_url, "a.example:4333".to_owned()]),
        "{}",
        on_b.info
    );
    if NatsServer::installed() {
        // A nats-server member with its own: each side's clients get the
        // other's advertised URL.
        let pn = free_port();
        let nats = NatsServer::start(
            &format!(
                "client_advertise: \"n.example:4444\"\n{}",
                member("ADVN", pn, &[route_port(&a)])
            ),
            &[],
        )
        .await;
        let cn = client(nats.addr).await;
        until_linked(&ca, &cn, "adv.nats").await;
        until_linked(&cn, &ca, "adv.nats").await;
        expected.push("n.example:4444".to_owned());
        let on_a = RawClient::connect(a.client_addr()).await;
        assert_eq!(connect_urls(&on_a.info), Some(expected), "{}", on_a.info);
        let on_nats = RawClient::connect(nats.addr).await;
        let urls = connect_urls(&on_nats.info).unwrap_or_default();
        assert!(
            urls.contains(&"a.example:4333".to_owned()),
            "{}",
            on_nats.info
        );
    } else {
        eprintln!("nats-server is not installed: its part of the client_advertise test is skipped");
    }
    b.shutdown().await;
    a.shutdown().await;
}
