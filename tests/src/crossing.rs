//! Messages crossing a link between two servers (a leaf link, a route),
//! with async-nats clients on either side: helpers that wait on facts (a
//! probe that crossed), and the checks every pair of servers runs.

use std::net::SocketAddr;
use std::time::Duration;

use async_nats::{Client, HeaderMap};
use futures_util::StreamExt;
use tokio::time::{Instant, timeout};

use crate::round_trip;

/// The longest any expected fact may take (a bound, not a pace).
const WAIT: Duration = Duration::from_secs(10);

/// An async-nats client of the server at `addr`.
pub async fn client(addr: SocketAddr) -> Client {
    async_nats::connect(format!("nats://{addr}"))
        .await
        .expect("client connects")
}

/// Publishes probes on `subject` from `from` until `to`'s subscription
/// gets one: the interest has crossed the link.
pub async fn until_linked(from: &Client, to: &Client, subject: &str) {
    let mut sub = to.subscribe(subject.to_owned()).await.expect("subscribe");
    round_trip(to).await;
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(
            Instant::now() < deadline,
            "no message crossed the link on {subject}"
        );
        from.publish(subject.to_owned(), "probe".into())
            .await
            .expect("publish");
        if let Ok(Some(_)) = timeout(Duration::from_millis(100), sub.next()).await {
            return;
        }
    }
}

/// Waits until a message on `subject` from `from` reaches `sub`.
pub async fn delivered(from: &Client, sub: &mut async_nats::Subscriber, subject: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "{subject} never crossed");
        from.publish(subject.to_owned(), "x".into())
            .await
            .expect("publish");
        if let Ok(Some(_)) = timeout(Duration::from_millis(100), sub.next()).await {
            return;
        }
    }
}

/// Waits until a message `from` sends now reaches `to`: everything `from`
/// published before (on the same link, in order) has reached `to` too.
pub async fn fence(from: &Client, to: &Client) {
    let subject = to.new_inbox();
    let mut sub = to.subscribe(subject.clone()).await.expect("subscribe");
    round_trip(to).await;
    delivered(from, &mut sub, &subject).await;
}

/// Messages already waiting in `subs` (after a [`fence`]).
pub async fn count(subs: &mut [&mut async_nats::Subscriber]) -> usize {
    let mut n = 0;
    for sub in subs.iter_mut() {
        while let Ok(Some(_)) = timeout(Duration::from_millis(20), sub.next()).await {
            n += 1;
        }
    }
    n
}

/// How a queue group with members on both sides shares messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queues {
    /// The publisher's side serves every message (leaf links).
    LocalFirst,
    /// Members anywhere, drawn cluster-wide (routes): only the total is
    /// checked.
    Anywhere,
}

/// The checks every pair runs, `a` and `b` being clients on either side.
pub async fn exchange(a: &Client, b: &Client, queues: Queues) {
    // Plain and wildcard subjects, both ways.
    let mut on_b = b.subscribe("orders.>").await.expect("subscribe");
    delivered(a, &mut on_b, "orders.sync").await;
    while timeout(Duration::from_millis(50), on_b.next())
        .await
        .is_ok()
    {}
    a.publish("orders.new.1", "first".into())
        .await
        .expect("publish");
    let message = timeout(WAIT, on_b.next())
        .await
        .expect("in time")
        .expect("open");
    assert_eq!(
        (message.subject.as_str(), &message.payload[..]),
        ("orders.new.1", &b"first"[..])
    );

    // Headers cross.
    let mut headers = HeaderMap::new();
    headers.insert("X-Trace", "42");
    a.publish_with_headers("orders.h", headers, "with".into())
        .await
        .expect("publish");
    let message = timeout(WAIT, on_b.next())
        .await
        .expect("in time")
        .expect("open");
    let header = message.headers.as_ref().and_then(|h| h.get("X-Trace"));
    assert_eq!(header.map(|v| v.as_str()), Some("42"));

    // A large payload.
    let big = vec![b'z'; 512 * 1024];
    a.publish("orders.big", big.clone().into())
        .await
        .expect("publish");
    let message = timeout(WAIT, on_b.next())
        .await
        .expect("in time")
        .expect("open");
    assert_eq!(message.payload.len(), big.len());

    // Request/reply both ways.
    for (requester, responder) in [(a, b), (b, a)] {
        let mut service = responder.subscribe("svc.echo").await.expect("subscribe");
        let answering = responder.clone();
        let task = tokio::spawn(async move {
            if let Some(request) = service.next().await
                && let Some(reply) = request.reply
            {
                let _ = answering.publish(reply, request.payload).await;
                let _ = answering.flush().await;
            }
        });
        round_trip(responder).await;
        let deadline = Instant::now() + WAIT;
        let answer = loop {
            assert!(Instant::now() < deadline, "no answer across the link");
            match timeout(
                Duration::from_secs(1),
                requester.request("svc.echo", "ping".into()),
            )
            .await
            {
                Ok(Ok(answer)) => break answer,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        assert_eq!(&answer.payload[..], b"ping");
        let _ = task.await;
    }

    // Queue groups: members on both sides get each message once, the
    // publisher's side first; members only on the far side, once too.
    let queue = |client: &Client, subject: &'static str, group: &'static str| {
        let client = client.clone();
        async move {
            client
                .queue_subscribe(subject, group.into())
                .await
                .expect("queue subscribe")
        }
    };
    let mut near = queue(a, "work", "grp").await;
    let mut far = queue(b, "work", "grp").await;
    let mut far_only = queue(b, "far", "fgrp").await;
    let mut far_only_2 = queue(b, "far", "fgrp").await;
    round_trip(a).await;
    round_trip(b).await;
    let mut watch = b.subscribe("far").await.expect("subscribe");
    delivered(a, &mut watch, "far").await;
    drop(watch);
    // What the far group got of the probes is counted out first.
    fence(a, b).await;
    count(&mut [&mut far_only, &mut far_only_2]).await;
    for i in 0..50 {
        a.publish("work", format!("{i}").into())
            .await
            .expect("publish");
        a.publish("far", format!("{i}").into())
            .await
            .expect("publish");
    }
    fence(a, a).await;
    fence(a, b).await;
    let (near_n, far_n) = (count(&mut [&mut near]).await, count(&mut [&mut far]).await);
    match queues {
        Queues::LocalFirst => assert_eq!(
            (near_n, far_n),
            (50, 0),
            "the local member is preferred, once each"
        ),
        Queues::Anywhere => assert_eq!(near_n + far_n, 50, "once each: {near_n} + {far_n}"),
    }
    let split = count(&mut [&mut far_only, &mut far_only_2]).await;
    assert_eq!(split, 50, "far-only members get each message once");

    // Unsubscribe crosses: a request then finds no responders.
    let lonely = b.subscribe("lonely").await.expect("subscribe");
    round_trip(b).await;
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(
            Instant::now() < deadline,
            "interest in lonely never crossed"
        );
        // Interest but nobody answering: the request waits (rather than
        // failing at once with no responders).
        if timeout(Duration::from_millis(300), a.request("lonely", "?".into()))
            .await
            .is_err()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(lonely);
    round_trip(b).await;
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "the unsubscribe never crossed");
        match timeout(Duration::from_millis(300), a.request("lonely", "?".into())).await {
            Ok(Err(error)) if error.kind() == async_nats::RequestErrorKind::NoResponders => break,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
