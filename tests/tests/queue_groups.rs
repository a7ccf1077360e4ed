//! Queue groups: each message goes to one member of each group, spread
//! across members, while plain subscribers get every message.

use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use starling_tests::{start_server, url};

/// Messages waiting in a subscription's channel now (outside tokio's
/// cooperative budget, which would stop the count at 128).
fn drain(sub: &mut async_nats::Subscriber) -> usize {
    let mut count = 0;
    while let Some(Some(_)) = tokio::task::unconstrained(sub.next()).now_or_never() {
        count += 1;
    }
    count
}

#[tokio::test]
async fn each_message_reaches_one_member_and_every_plain_subscriber() {
    let server = start_server(|_| {}).await;
    let client = async_nats::connect(url(&server)).await.unwrap();
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(
            client
                .queue_subscribe("jobs.*", "workers".into())
                .await
                .unwrap(),
        );
    }
    let mut auditors = client
        .queue_subscribe("jobs.>", "auditors".into())
        .await
        .unwrap();
    let mut plain = client.subscribe("jobs.*").await.unwrap();
    let mut fence = client.subscribe("fence").await.unwrap();
    starling_tests::round_trip(&client).await;

    const N: usize = 3000;
    for i in 0..N {
        client
            .publish("jobs.run", format!("{i}").into())
            .await
            .unwrap();
    }
    // The fence comes back on the same connection behind every message
    // the server delivered before it: once it is here, every delivery
    // (and any extra one) sits in its subscription's channel.
    client.publish("fence", "".into()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), fence.next())
        .await
        .expect("the fence arrives")
        .expect("open");
    let counts: Vec<usize> = members.iter_mut().map(drain).collect();
    assert_eq!(
        counts.iter().sum::<usize>(),
        N,
        "exactly one member per message: {counts:?}"
    );
    assert!(
        counts.iter().all(|&c| c > N / 6),
        "spread across members: {counts:?}"
    );
    assert_eq!(
        drain(&mut auditors),
        N,
        "each group gets every message once"
    );
    assert_eq!(drain(&mut plain), N, "plain subscribers get every message");
}
