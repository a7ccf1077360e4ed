//! Lame-duck mode (nats-server's `lameDuckMode`): the client port closes,
//! clients and routes are told (`ldm: true`), clients are closed after
//! the grace period, then the server shuts down. With a cluster member
//! beside it, the clients learn only the other member's URL and the
//! member stops handing out this server's.

use std::time::Duration;

use starling_tests::crossing::{client, until_linked};
use starling_tests::nats_server::{NatsServer, free_port};
use starling_tests::{RawClient, start_from_config};

/// Lame-duck settings with a short grace period (the duration's minimum
/// is 30 s, as nats-server's; with two clients the closes take about a
/// second after the grace period).
const LAME_DUCK: &str = "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n";

/// A client that takes INFO updates, through its first PONG.
async fn watcher(addr: std::net::SocketAddr) -> RawClient {
    let mut raw = RawClient::connect(addr).await;
    raw.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n")
        .await;
    raw.read_until(b"PONG\r\n", Duration::from_secs(5)).await;
    raw
}

#[tokio::test]
async fn lame_duck_mode_stops_accepting_tells_closes_and_exits() {
    let server = std::sync::Arc::new(start_from_config(LAME_DUCK).await);
    let addr = server.client_addr();
    let mut first = watcher(addr).await;
    let mut second = watcher(addr).await;
    let running = tokio::spawn({
        let server = std::sync::Arc::clone(&server);
        async move { server.lame_duck().await }
    });
    // Told once the port no longer accepts.
    let (told, _) = first.read_until(b"}", Duration::from_secs(10)).await;
    let told = String::from_utf8_lossy(&told).into_owned();
    assert!(told.contains("\"ldm\":true"), "{told}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the client port still accepts"
    );
    // Both are closed after the grace period, and the server shuts down.
    for raw in [&mut first, &mut second] {
        let (_, closed) = raw.read_to_close(Duration::from_secs(20)).await;
        assert!(closed, "a client was not closed");
    }
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("lame-duck mode ends")
        .expect("no panic");
    assert_eq!(server.connection_count(), 0);
}

#[tokio::test]
async fn without_clients_lame_duck_mode_shuts_down_at_once() {
    let server = start_from_config(LAME_DUCK).await;
    tokio::time::timeout(Duration::from_secs(5), server.lame_duck())
        .await
        .expect("no wait without clients");
}

#[tokio::test]
async fn a_member_in_lame_duck_mode_gives_clients_only_the_others() {
    let member = |name: &str, port: &str, routes: &str| {
        format!(
            "{LAME_DUCK}server_name: {name}\ncluster {{ name: LD, listen: \"127.0.0.1:{port}\", routes: [{routes}] }}\n"
        )
    };
    let a = std::sync::Arc::new(start_from_config(&member("LDA", "-1", "")).await);
    let pa = a.route_addr().expect("route port").port();
    let b = start_from_config(&member("LDB", "-1", &format!("\"nats://127.0.0.1:{pa}\""))).await;
    let (ca, cb) = (client(a.client_addr()).await, client(b.client_addr()).await);
    until_linked(&ca, &cb, "ld.up").await;
    until_linked(&cb, &ca, "ld.up").await;
    let b_url = b.client_addr().to_string();
    let a_url = a.client_addr().to_string();
    let mut on_a = watcher(a.client_addr()).await;
    let mut on_b = watcher(b.client_addr()).await;
    let running = tokio::spawn({
        let a = std::sync::Arc::clone(&a);
        async move { a.lame_duck().await }
    });
    // A's clients: `ldm`, and only B's URL.
    let (told, _) = on_a.read_until(b"}", Duration::from_secs(10)).await;
    let told = String::from_utf8_lossy(&told).into_owned();
    assert!(told.contains("\"ldm\":true"), "{told}");
    assert!(
        told.contains(&format!("\"connect_urls\":[\"{b_url}\"]")),
        "{told}"
    );
    // B's clients are told A's URL is gone (B read A's route INFO).
    let (pushed, _) = on_b.read_until(b"}", Duration::from_secs(10)).await;
    let pushed = String::from_utf8_lossy(&pushed).into_owned();
    assert!(!pushed.contains(&a_url), "{pushed}");
    if NatsServer::installed() {
        // nats-server reads Starling's `ldm` the same way.
        let pn = free_port();
        let c = start_from_config(&member("LDC", "-1", "")).await;
        let pc = c.route_addr().expect("route port").port();
        let nats = NatsServer::start(
            &format!(
                "server_name: LDN\ncluster {{ name: LD, listen: \"127.0.0.1:{pn}\", routes: [\"nats://127.0.0.1:{pc}\"] }}\n"
            ),
            &[],
        )
        .await;
        let (cc, cn) = (client(c.client_addr()).await, client(nats.addr).await);
        until_linked(&cc, &cn, "ld.nats").await;
        until_linked(&cn, &cc, "ld.nats").await;
        let c_url = c.client_addr().to_string();
        let mut on_nats = watcher(nats.addr).await;
        assert!(on_nats.info.contains(&c_url), "{}", on_nats.info);
        let c = std::sync::Arc::new(c);
        let ldm = tokio::spawn({
            let c = std::sync::Arc::clone(&c);
            async move { c.lame_duck().await }
        });
        let (pushed, _) = on_nats.read_until(b"}", Duration::from_secs(10)).await;
        let pushed = String::from_utf8_lossy(&pushed).into_owned();
        assert!(!pushed.contains(&c_url), "{pushed}");
        drop(cc);
        drop(cn);
        ldm.abort();
        c.shutdown().await;
    } else {
        eprintln!("nats-server is not installed: its part of the lame-duck test is skipped");
    }
    running.abort();
    a.shutdown().await;
    b.shutdown().await;
}
