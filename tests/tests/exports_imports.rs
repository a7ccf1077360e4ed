//! Account exports and imports end to end with async-nats: stream imports
//! (same subject, `prefix`, `to` with wildcards), service imports with
//! responses routed back (singleton and streamed), queue groups in the
//! importer, no-responders across accounts, and isolation of accounts that
//! import nothing.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::time::Duration;

use futures_util::StreamExt;
use starling_tests::{round_trip, start_from_config, url};
use tokio::time::timeout;

const CONFIG: &str = r#"
accounts {
  A: {
    users: [ { user: a, password: a } ]
    exports: [
      { stream: "a.>" }
      { stream: "private.>", accounts: [B] }
      { service: "svc.>" }
      { service: "feed.*", response: stream, threshold: "2s" }
    ]
  }
  B: {
    users: [ { user: b, password: b } ]
    imports: [
      { stream: { account: A, subject: "a.>" } }
      { stream: { account: A, subject: "private.>" }, prefix: "from_a" }
      { service: { account: A, subject: "svc.echo" }, to: "echo" }
      { service: { account: A, subject: "feed.*" }, to: "feed.*" }
      { service: { account: A, subject: "svc.nobody" } }
    ]
  }
  C: {
    users: [ { user: c, password: c } ]
    imports: [
      { stream: { account: A, subject: "a.*" }, to: "mapped.$1" }
    ]
  }
}
"#;

async fn connect(server: &starling_server::Server, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        .connect(url(server))
        .await
        .unwrap()
}

async fn next(sub: &mut async_nats::Subscriber) -> Option<async_nats::Message> {
    timeout(Duration::from_millis(500), sub.next())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn streams_cross_into_importers_only() {
    let server = start_from_config(CONFIG).await;
    let (a, b, c) = (
        connect(&server, "a").await,
        connect(&server, "b").await,
        connect(&server, "c").await,
    );
    let mut b_same = b.subscribe("a.>").await.unwrap();
    let mut b_prefixed = b.subscribe("from_a.private.>").await.unwrap();
    let mut c_mapped = c.subscribe("mapped.*").await.unwrap();
    let mut c_private = c.subscribe("private.>").await.unwrap();
    let mut c_prefixed = c.subscribe("from_a.>").await.unwrap();
    let mut b_queue_1 = b.queue_subscribe("a.q", "g".into()).await.unwrap();
    let mut b_queue_2 = b.queue_subscribe("a.q", "g".into()).await.unwrap();
    round_trip(&b).await;
    round_trip(&c).await;

    a.publish("a.x", "one".into()).await.unwrap();
    a.publish("private.y", "two".into()).await.unwrap();
    round_trip(&a).await;

    let m = next(&mut b_same).await.unwrap();
    assert_eq!((m.subject.as_str(), &m.payload[..]), ("a.x", &b"one"[..]));
    let m = next(&mut b_prefixed).await.unwrap();
    assert_eq!(m.subject.as_str(), "from_a.private.y");
    let m = next(&mut c_mapped).await.unwrap();
    assert_eq!(m.subject.as_str(), "mapped.x");
    // A's private stream is exported to B only.
    assert!(next(&mut c_private).await.is_none());
    assert!(next(&mut c_prefixed).await.is_none());

    // A queue group in the importer gets each message once.
    for _ in 0..10 {
        a.publish("a.q", "q".into()).await.unwrap();
    }
    round_trip(&a).await;
    let mut got = 0;
    while next(&mut b_queue_1).await.is_some() {
        got += 1;
    }
    while next(&mut b_queue_2).await.is_some() {
        got += 1;
    }
    assert_eq!(got, 10);

    // Nothing flows backwards: B publishing on a.x reaches no one in A.
    let mut a_sub = a.subscribe("a.>").await.unwrap();
    round_trip(&a).await;
    b.publish("a.back", "no".into()).await.unwrap();
    round_trip(&b).await;
    assert!(next(&mut a_sub).await.is_none());
}

#[tokio::test]
async fn services_answer_across_accounts() {
    let server = start_from_config(CONFIG).await;
    let (a, b) = (connect(&server, "a").await, connect(&server, "b").await);
    let mut requests = a.subscribe("svc.echo").await.unwrap();
    let responder = a.clone();
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let reply = request.reply.unwrap();
            let headers = request.headers.as_ref();
            let info = headers.and_then(|h| {
                h.get_all("Nats-Request-Info")
                    .map(|v| v.to_string())
                    .reduce(|a, b| a + "," + &b)
            });
            assert!(
                request.payload != "again"
                    || headers.and_then(|h| h.get("X-Kept")).map(|v| v.as_str()) == Some("yes")
            );
            seen_tx.send((reply.to_string(), info)).unwrap();
            let mut answer = b"re: ".to_vec();
            answer.extend_from_slice(&request.payload);
            responder
                .publish(reply.clone(), answer.into())
                .await
                .unwrap();
            // A second response to a singleton service goes nowhere.
            responder.publish(reply, "late".into()).await.unwrap();
        }
    });
    round_trip(&a).await;

    let answer = timeout(Duration::from_secs(2), b.request("echo", "hi".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&answer.payload[..], b"re: hi");

    // The requester's own inbox gets exactly one response.
    let inbox = b.new_inbox();
    let mut replies = b.subscribe(inbox.clone()).await.unwrap();
    round_trip(&b).await;
    // A requester cannot pass itself off as another account: its own
    // Nats-Request-Info is replaced, its other headers are kept.
    let mut spoofed = async_nats::HeaderMap::new();
    spoofed.insert("Nats-Request-Info", r#"{"acc":"A"}"#);
    spoofed.insert("X-Kept", "yes");
    b.publish_with_reply_and_headers("echo", inbox, spoofed, "again".into())
        .await
        .unwrap();
    let first = next(&mut replies).await.unwrap();
    assert_eq!(&first.payload[..], b"re: again");
    assert!(
        next(&mut replies).await.is_none(),
        "a singleton answers once"
    );

    // The exporter saw reply subjects of its own, not B's inboxes, and
    // the requester's account in nats-server's header.
    for _ in 0..2 {
        let (reply, info) = seen.recv().await.unwrap();
        assert!(reply.starts_with("_R_."), "{reply}");
        assert_eq!(info.as_deref(), Some(r#"{"acc":"B"}"#));
    }
}

#[tokio::test]
async fn streamed_responses_and_no_responders() {
    let server = start_from_config(CONFIG).await;
    let (a, b) = (connect(&server, "a").await, connect(&server, "b").await);
    let mut requests = a.subscribe("feed.*").await.unwrap();
    let responder = a.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let reply = request.reply.unwrap();
            for part in ["1", "2", "3"] {
                responder.publish(reply.clone(), part.into()).await.unwrap();
            }
        }
    });
    round_trip(&a).await;
    let inbox = b.new_inbox();
    let mut replies = b.subscribe(inbox.clone()).await.unwrap();
    round_trip(&b).await;
    b.publish_with_reply("feed.x", inbox, "go".into())
        .await
        .unwrap();
    for part in ["1", "2", "3"] {
        let m = next(&mut replies).await.unwrap();
        assert_eq!(&m.payload[..], part.as_bytes());
    }

    // An imported service with no subscriber in the exporter: 503.
    let err = b.request("svc.nobody", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

/// `account_token_position`: each importer takes only the subject that
/// names it, as nats-server authorizes it (its `-t` refuses the same
/// file for a subject naming another account, or a position that is no
/// `*`).
#[tokio::test]
async fn account_token_position_names_the_importer() {
    let config = r#"
accounts {
  A: { users: [ { user: a, password: a } ], exports: [ { service: "req.*", account_token_position: 2 } ] }
  B: { users: [ { user: b, password: b } ], imports: [ { service: { account: A, subject: "req.B" } } ] }
}
"#;
    let server = start_from_config(config).await;
    let (a, b) = (connect(&server, "a").await, connect(&server, "b").await);
    let mut requests = a.subscribe("req.*").await.unwrap();
    let responder = a.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let answer = format!("for {}", request.subject);
            let _ = responder
                .publish(request.reply.unwrap(), answer.into())
                .await;
        }
    });
    round_trip(&a).await;
    let answer = b.request("req.B", "?".into()).await.unwrap();
    assert_eq!(&answer.payload[..], b"for req.B");
    for (refused, text) in [
        (
            config.replace("\"req.B\" } }", "\"req.C\" } }"),
            "Error adding service import \"req.C\": service import not authorized",
        ),
        (
            config.replace("account_token_position: 2", "account_token_position: 1"),
            "Error adding service export \"req.*\": sublist: invalid subject",
        ),
    ] {
        let root = starling_conf::parse_str(&refused).unwrap();
        let errors = starling_server::options_from_config(&root).unwrap_err();
        assert!(
            errors.iter().any(|e| e.to_string().contains(text)),
            "{errors:?}"
        );
    }
    server.shutdown().await;
}
