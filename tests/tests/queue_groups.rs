//! Queue groups: each message goes to one member of each group, spread
//! across members, while plain subscribers get every message.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use starling_tests::{start_server, url};

fn count_into(mut sub: async_nats::Subscriber, counter: Arc<AtomicUsize>) {
    tokio::spawn(async move {
        while sub.next().await.is_some() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
}

#[tokio::test]
async fn each_message_reaches_one_member_and_every_plain_subscriber() {
    let server = start_server(|_| {}).await;
    let client = async_nats::connect(url(&server)).await.unwrap();
    let members: Vec<Arc<AtomicUsize>> = (0..3).map(|_| Arc::default()).collect();
    for counter in &members {
        count_into(
            client
                .queue_subscribe("jobs.*", "workers".into())
                .await
                .unwrap(),
            Arc::clone(counter),
        );
    }
    let auditors = Arc::new(AtomicUsize::new(0));
    count_into(
        client
            .queue_subscribe("jobs.>", "auditors".into())
            .await
            .unwrap(),
        Arc::clone(&auditors),
    );
    let plain = Arc::new(AtomicUsize::new(0));
    count_into(
        client.subscribe("jobs.*").await.unwrap(),
        Arc::clone(&plain),
    );
    client.flush().await.unwrap();

    const N: usize = 3000;
    for i in 0..N {
        client
            .publish("jobs.run", format!("{i}").into())
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    let total = || {
        members
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum::<usize>()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while (total() < N || plain.load(Ordering::Relaxed) < N || auditors.load(Ordering::Relaxed) < N)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Anything extra would arrive right behind the last expected message.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let counts: Vec<usize> = members.iter().map(|c| c.load(Ordering::Relaxed)).collect();
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
        auditors.load(Ordering::Relaxed),
        N,
        "each group gets every message once"
    );
    assert_eq!(
        plain.load(Ordering::Relaxed),
        N,
        "plain subscribers get every message"
    );
}
