//! Operator-mode accounts across routes (`cluster.md` §7): members that
//! share the operator and the account JWTs (the fixture of
//! `operator.rs`), users from creds on different members (one signed by
//! the account's signing key), messages and a request crossing in their
//! account.
//! A Starling pair (see the note in the test on nats-server).
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use starling_tests::crossing::until_linked;
use starling_tests::start_from_config;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/operator")
        .join(name)
}

/// The operator fixture with a cluster block (websocket left out: not
/// what this test is about).
fn member(name: &str, listen: &str, routes: &[u16]) -> String {
    let fixture = std::fs::read_to_string(fixture("server.conf")).unwrap();
    let fixture = fixture
        .split("websocket {")
        .next()
        .unwrap_or_default()
        .to_owned();
    let routes: Vec<String> = routes
        .iter()
        .map(|p| format!("\"nats://127.0.0.1:{p}\""))
        .collect();
    format!(
        "{fixture}\nserver_name: {name}\ncluster {{ name: OP, listen: \"{listen}\", routes: [{}] }}\n",
        routes.join(", ")
    )
}

async fn user(addr: std::net::SocketAddr, creds: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_credentials_file(fixture(&format!("{creds}.creds")))
        .await
        .unwrap()
        .connect(format!("nats://{addr}"))
        .await
        .unwrap()
}

/// Users of the same account on `a` and `b` reach each other both ways,
/// and a request from `a` is served on `b`.
async fn crossing(a: std::net::SocketAddr, b: std::net::SocketAddr) {
    let (ua, ub) = (
        user(a, "plain").await,
        user(b, "signed_by_signing_key").await,
    );
    until_linked(&ua, &ub, "op.up").await;
    until_linked(&ub, &ua, "op.up").await;
    let service = ub.subscribe("op.service").await.unwrap();
    let reply = ub.clone();
    let responder = tokio::spawn(async move {
        let mut service = service;
        if let Some(request) = service.next().await {
            let inbox = request.reply.unwrap();
            reply.publish(inbox, "served".into()).await.unwrap();
            reply.flush().await.unwrap();
        }
    });
    until_linked(&ua, &ub, "op.service.ready").await;
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        ua.request("op.service", "ask".into()),
    )
    .await
    .expect("in time")
    .expect("an answer");
    assert_eq!(&answer.payload[..], b"served");
    responder.await.unwrap();
}

#[tokio::test]
async fn operator_accounts_cross_routes() {
    let a = start_from_config(&member("OPA", "127.0.0.1:-1", &[])).await;
    let pa = a.route_addr().unwrap().port();
    let b = start_from_config(&member("OPB", "127.0.0.1:-1", &[pa])).await;
    crossing(a.client_addr(), b.client_addr()).await;
    crossing(b.client_addr(), a.client_addr()).await;
    // No nats-server member here: the fixture's account JWTs carry no
    // `limits`, which nats-server 2.9.10 reads as zero connections
    // ("maximum account active connections exceeded" for every user).
    b.shutdown().await;
    a.shutdown().await;
}
