//! A leaf cluster attached to two members of a hub cluster (`cluster.md`
//! §4.4, §5.6): nats-server leafs L1 and L2 (cluster `L`, routed to each
//! other), L1 a leaf of hub H1 and L2 of hub H2 (H1 and H2 routed). A
//! message published in the leaf cluster must reach each subscriber once:
//! a hub sends nothing of the leaf cluster's own interest back into it,
//! and a message that came from it crosses the hub cluster as
//! `LMSG <origin>`, so the other hub delivers none to its link into `L`.
//! Every mix of hubs: Starling and Starling, Starling and nats-server,
//! nats-server and Starling. Skipped (with a note) without nats-server.

use starling_tests::crossing::{client, fence, until_linked};
use starling_tests::nats_server::{NatsServer, free_port};
use starling_tests::start_from_config;

/// A hub member: Starling or nats-server, its client, route and leaf ports.
enum Hub {
    Starling(starling_server::Server),
    Nats(NatsServer, u16, u16),
}

impl Hub {
    async fn start(starling: bool, name: &str, route_to: Option<u16>) -> Self {
        let routes = route_to.map_or_else(String::new, |p| {
            format!("routes: [\"nats://127.0.0.1:{p}\"]")
        });
        if starling {
            return Self::Starling(
                start_from_config(&format!(
                    "server_name: {name}\ncluster {{ name: HUB, listen: \"127.0.0.1:-1\", {routes} }}\n\
leafnodes {{ listen: \"127.0.0.1:-1\" }}\n"
                ))
                .await,
            );
        }
        let (route, leaf) = (free_port(), free_port());
        let nats = NatsServer::start(
            &format!(
                "server_name: {name}\ncluster {{ name: HUB, listen: \"127.0.0.1:{route}\", {routes} }}\n\
leafnodes {{ listen: \"127.0.0.1:{leaf}\" }}\n"
            ),
            &[],
        )
        .await;
        Self::Nats(nats, route, leaf)
    }

    fn client_addr(&self) -> std::net::SocketAddr {
        match self {
            Self::Starling(s) => s.client_addr(),
            Self::Nats(n, _, _) => n.addr,
        }
    }

    fn route_port(&self) -> u16 {
        match self {
            Self::Starling(s) => s.route_addr().expect("a route port").port(),
            Self::Nats(_, route, _) => *route,
        }
    }

    fn leaf_port(&self) -> u16 {
        match self {
            Self::Starling(s) => s.leaf_addr().expect("a leaf port").port(),
            Self::Nats(_, _, leaf) => *leaf,
        }
    }

    async fn stop(self) {
        if let Self::Starling(s) = self {
            s.shutdown().await;
        }
    }
}

/// nats-server leaf `name` of cluster `L`, routed to `route_to`, a leaf of
/// the hub whose leaf port is `hub_leaf`.
async fn leaf(name: &str, route: u16, route_to: Option<u16>, hub_leaf: u16) -> NatsServer {
    let routes = route_to.map_or_else(String::new, |p| {
        format!("routes: [\"nats://127.0.0.1:{p}\"]")
    });
    NatsServer::start(
        &format!(
            "server_name: {name}\ncluster {{ name: L, listen: \"127.0.0.1:{route}\", {routes} }}\n\
leafnodes {{ remotes: [ {{ url: \"nats://127.0.0.1:{hub_leaf}\" }} ] }}\n"
        ),
        &[],
    )
    .await
}

async fn once_each(h1_starling: bool, h2_starling: bool) {
    let label = format!("H1 starling={h1_starling}, H2 starling={h2_starling}");
    let h1 = Hub::start(h1_starling, "H1", None).await;
    let h2 = Hub::start(h2_starling, "H2", Some(h1.route_port())).await;
    let (p1, p2) = (free_port(), free_port());
    let l1 = leaf("L1", p1, None, h1.leaf_port()).await;
    let l2 = leaf("L2", p2, Some(p1), h2.leaf_port()).await;
    let (c1, c2) = (client(l1.addr).await, client(l2.addr).await);
    let (ch1, ch2) = (
        client(h1.client_addr()).await,
        client(h2.client_addr()).await,
    );
    until_linked(&ch1, &ch2, "up.hubs").await;
    until_linked(&c1, &c2, "up.leafs").await;
    // Subscribers in the leaf cluster and on both hubs.
    let mut on_l2 = c2.subscribe("dup.>").await.expect("subscribe");
    let mut on_h1 = ch1.subscribe("dup.>").await.expect("subscribe");
    let mut on_h2 = ch2.subscribe("dup.>").await.expect("subscribe");
    // Every server has learnt that interest (each probe's subscription is
    // announced after the one above, on the same links): H1 of L2's (through
    // H2), L1 of what H1 passes it, L1 of L2's through their route.
    until_linked(&ch1, &c2, "dup.probe.hub").await;
    until_linked(&ch1, &c1, "probe.l1").await;
    until_linked(&c1, &c2, "dup.probe.leaf").await;
    until_linked(&c1, &ch2, "dup.probe.h2").await;
    c1.publish("dup.x", "once".into()).await.expect("publish");
    // Whatever crossed H1 and H2 is on its way to L2 before these fences:
    // L1 -> H1 -> H2, then H2 -> L2 on the link a duplicate would take.
    fence(&c1, &ch1).await;
    fence(&c1, &ch2).await;
    fence(&ch2, &c2).await;
    fence(&c1, &c2).await;
    for (name, sub) in [("L2", &mut on_l2), ("H1", &mut on_h1), ("H2", &mut on_h2)] {
        assert_eq!(count_subject(sub, "dup.x").await, 1, "{label}: {name}");
    }
    drop(l2);
    drop(l1);
    h2.stop().await;
    h1.stop().await;
}

/// Messages on `subject` waiting in `sub` (probes on other subjects skipped).
async fn count_subject(sub: &mut async_nats::Subscriber, subject: &str) -> usize {
    use futures_util::StreamExt;
    let mut n = 0;
    while let Ok(Some(message)) =
        tokio::time::timeout(std::time::Duration::from_millis(50), sub.next()).await
    {
        n += usize::from(message.subject.as_str() == subject);
    }
    n
}

#[tokio::test]
async fn a_leaf_cluster_on_two_hub_members_gets_each_message_once() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the leaf cluster test is skipped");
        return;
    }
    for (h1, h2) in [(true, true), (true, false), (false, true)] {
        once_each(h1, h2).await;
    }
}
