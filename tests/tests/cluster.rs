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

fn member(name: &str, port: u16, routes: &[u16]) -> String {
    let routes: Vec<String> = routes
        .iter()
        .map(|p| format!("\"nats://127.0.0.1:{p}\""))
        .collect();
    format!(
        "server_name: {name}\ncluster {{ name: C1, listen: \"127.0.0.1:{port}\", routes: [{}] }}\n",
        routes.join(", ")
    )
}

/// Clients on two members: once routed both ways, every check both ways.
async fn pair(a: std::net::SocketAddr, b: std::net::SocketAddr) {
    let (ca, cb) = (client(a).await, client(b).await);
    until_linked(&ca, &cb, "route.up").await;
    until_linked(&cb, &ca, "route.up").await;
    exchange(&ca, &cb, Queues::Anywhere).await;
    exchange(&cb, &ca, Queues::Anywhere).await;
}

#[tokio::test]
async fn a_starling_pair() {
    let (pa, pb) = (free_port(), free_port());
    let a = start_from_config(&member("SA", pa, &[])).await;
    let b = start_from_config(&member("SB", pb, &[pa])).await;
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
    let (ps, pn) = (free_port(), free_port());
    let starling = start_from_config(&member("STAR", ps, &[])).await;
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

    let (ps, pn) = (free_port(), free_port());
    let nats = NatsServer::start(&member("NATS2", pn, &[]), &[]).await;
    let starling = start_from_config(&member("STAR2", ps, &[pn])).await;
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
    let (p1, ps, p2, pt) = (free_port(), free_port(), free_port(), free_port());
    let n1 = NatsServer::start(&member("N1", p1, &[]), &[]).await;
    let s = start_from_config(&member("S", ps, &[p1])).await;
    let n2 = NatsServer::start(&member("N2", p2, &[ps]), &[]).await;
    let t = start_from_config(&member("T", pt, &[p1])).await;
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
