//! The conformance scenarios for async-nats (the Rust client), over TCP or
//! websocket, as `cargo xtask conformance` runs them.
//!
//! The settings come as JSON in `$CONFORMANCE`; one JSON line per scenario
//! goes to stdout. A `{"control": ...}` line asks xtask to act on the broker
//! (restart it), and xtask answers with one line on stdin. The same line
//! protocol drives the Python and JavaScript suites, so the orchestrator
//! treats every client alike.
#![allow(clippy::print_stdout, reason = "stdout is the report channel")]

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use async_nats::{ConnectOptions, Event, HeaderMap};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::timeout;

type Outcome = Result<(), String>;

const STEP: Duration = Duration::from_secs(5);

/// The settings xtask passes in `$CONFORMANCE`.
struct Env {
    transport: String,
    url: String,
    compression_url: String,
    wss_url: String,
    users_url: String,
    accounts_url: String,
    leaf_hub_url: String,
    leaf_spoke_url: String,
    cluster_a_url: String,
    cluster_b_url: String,
    ca_file: String,
    max_payload: usize,
    scenarios: Vec<String>,
}

impl Env {
    fn from_json(text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("$CONFORMANCE: {e}"))?;
        let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
        Ok(Self {
            transport: text("transport"),
            url: text("url"),
            compression_url: text("compression_url"),
            wss_url: text("wss_url"),
            users_url: text("users_url"),
            accounts_url: text("accounts_url"),
            leaf_hub_url: text("leaf_hub_url"),
            leaf_spoke_url: text("leaf_spoke_url"),
            cluster_a_url: text("cluster_a_url"),
            cluster_b_url: text("cluster_b_url"),
            ca_file: text("ca_file"),
            max_payload: value["max_payload"]
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or_default(),
            scenarios: value["scenarios"]
                .as_array()
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

fn check(condition: bool, message: impl FnOnce() -> String) -> Outcome {
    if condition { Ok(()) } else { Err(message()) }
}

fn options() -> ConnectOptions {
    ConnectOptions::new()
        .name("conformance")
        .connection_timeout(STEP)
        .max_reconnects(0)
}

async fn connect(
    env: &Env,
    url: &str,
    options: ConnectOptions,
) -> Result<async_nats::Client, String> {
    let options = if url.starts_with("wss://") {
        options.add_root_certificates(PathBuf::from(&env.ca_file))
    } else {
        options
    };
    options
        .connect(url)
        .await
        .map_err(|e| format!("connect {url}: {e}"))
}

async fn next(sub: &mut async_nats::Subscriber, what: &str) -> Result<async_nats::Message, String> {
    match timeout(STEP, sub.next()).await {
        Ok(Some(message)) => Ok(message),
        Ok(None) => Err(format!("{what}: subscription ended")),
        Err(_) => Err(format!("{what}: nothing within {STEP:?}")),
    }
}

async fn publish(
    client: &async_nats::Client,
    subject: &'static str,
    payload: impl Into<Bytes>,
) -> Outcome {
    client
        .publish(subject, payload.into())
        .await
        .map_err(|e| format!("publish {subject}: {e}"))
}

async fn flush(client: &async_nats::Client) -> Outcome {
    client.flush().await.map_err(|e| format!("flush: {e}"))
}

/// A message to itself and back: unlike async-nats's `flush` (which only
/// writes), this proves the server has processed everything sent before,
/// so another connection may rely on it.
async fn round_trip(client: &async_nats::Client) -> Outcome {
    let inbox = client.new_inbox();
    let mut sub = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| format!("subscribe {inbox}: {e}"))?;
    client
        .publish(inbox, Bytes::new())
        .await
        .map_err(|e| format!("publish: {e}"))?;
    next(&mut sub, "round trip").await.map(drop)
}

async fn subscribe(
    client: &async_nats::Client,
    subject: &'static str,
) -> Result<async_nats::Subscriber, String> {
    client
        .subscribe(subject)
        .await
        .map_err(|e| format!("subscribe {subject}: {e}"))
}

async fn connect_info(env: &Env, client: &async_nats::Client) -> Outcome {
    let info = client.server_info();
    check(!info.server_id.is_empty(), || {
        "INFO has no server_id".into()
    })?;
    check(info.max_payload == env.max_payload, || {
        format!(
            "INFO max_payload {}, expected {}",
            info.max_payload, env.max_payload
        )
    })?;
    check(info.headers, || "INFO does not announce headers".into())?;
    check(info.proto == 1, || format!("INFO proto {}", info.proto))?;
    flush(client).await
}

async fn pubsub(client: &async_nats::Client) -> Outcome {
    let mut sub = subscribe(client, "conformance.pubsub").await?;
    flush(client).await?;
    for text in ["one", "two", "three"] {
        publish(client, "conformance.pubsub", text).await?;
    }
    for text in ["one", "two", "three"] {
        let message = next(&mut sub, "pubsub").await?;
        check(message.payload == text, || {
            format!("received {:?}", message.payload)
        })?;
    }
    Ok(())
}

async fn wildcards(client: &async_nats::Client) -> Outcome {
    let mut star = subscribe(client, "conformance.wild.*").await?;
    let mut tail = subscribe(client, "conformance.>").await?;
    flush(client).await?;
    publish(client, "conformance.wild.a.b", "deep").await?;
    publish(client, "conformance.wild.a", "shallow").await?;
    let s = next(&mut star, "token wildcard").await?;
    check(s.subject.as_str() == "conformance.wild.a", || {
        format!("* matched {}", s.subject)
    })?;
    for expected in ["conformance.wild.a.b", "conformance.wild.a"] {
        let t = next(&mut tail, "tail wildcard").await?;
        check(t.subject.as_str() == expected, || {
            format!("> matched {}", t.subject)
        })?;
    }
    Ok(())
}

async fn queue(client: &async_nats::Client) -> Outcome {
    const TOTAL: usize = 20;
    let (tx, mut rx) = mpsc::unbounded_channel();
    for _ in 0..2 {
        let mut sub = client
            .queue_subscribe("conformance.queue", "workers".into())
            .await
            .map_err(|e| format!("queue subscribe: {e}"))?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(message) = sub.next().await {
                if tx.send(message.payload).is_err() {
                    break;
                }
            }
        });
    }
    flush(client).await?;
    for i in 0..TOTAL {
        publish(client, "conformance.queue", i.to_string()).await?;
    }
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..TOTAL {
        match timeout(STEP, rx.recv()).await {
            Ok(Some(payload)) => {
                seen.insert(payload);
            }
            _ => return Err(format!("queue group: {} of {TOTAL} delivered", seen.len())),
        }
    }
    flush(client).await?;
    check(seen.len() == TOTAL && rx.try_recv().is_err(), || {
        format!("queue group: {} distinct, or a message twice", seen.len())
    })
}

async fn request_reply(client: &async_nats::Client) -> Outcome {
    let mut service = subscribe(client, "conformance.service").await?;
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(message) = service.next().await {
            if let Some(reply) = message.reply {
                let mut answer = b"re: ".to_vec();
                answer.extend_from_slice(&message.payload);
                let _ = responder.publish(reply, answer.into()).await;
            }
        }
    });
    flush(client).await?;
    let reply = timeout(STEP, client.request("conformance.service", "ping".into()))
        .await
        .map_err(|_| "request: no reply in time".to_owned())?
        .map_err(|e| format!("request: {e}"))?;
    check(reply.payload == "re: ping", || {
        format!("reply {:?}", reply.payload)
    })
}

async fn headers(client: &async_nats::Client) -> Outcome {
    let mut sub = subscribe(client, "conformance.headers").await?;
    flush(client).await?;
    let mut map = HeaderMap::new();
    map.insert("X-Conformance", "yes");
    map.append("X-Multi", "a");
    map.append("X-Multi", "b");
    client
        .publish_with_headers("conformance.headers", map, "with headers".into())
        .await
        .map_err(|e| format!("publish: {e}"))?;
    let message = next(&mut sub, "headers").await?;
    let got = message.headers.ok_or("headers lost")?;
    check(
        got.get("X-Conformance").map(|v| v.as_str()) == Some("yes"),
        || "X-Conformance lost".into(),
    )?;
    let multi: Vec<&str> = got.get_all("X-Multi").map(|v| v.as_str()).collect();
    check(multi == ["a", "b"], || format!("X-Multi {multi:?}"))?;
    check(message.payload == "with headers", || {
        "payload changed".into()
    })
}

async fn no_responders(client: &async_nats::Client) -> Outcome {
    match client.request("conformance.nobody", Bytes::new()).await {
        Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
        Err(e) => Err(format!("request failed otherwise: {e}")),
        Ok(_) => Err("a request with no responders got a reply".into()),
    }
}

async fn unsub_max(client: &async_nats::Client) -> Outcome {
    let mut sub = subscribe(client, "conformance.max").await?;
    sub.unsubscribe_after(3)
        .await
        .map_err(|e| format!("unsubscribe after 3: {e}"))?;
    flush(client).await?;
    for i in 0..5 {
        publish(client, "conformance.max", i.to_string()).await?;
    }
    for expected in ["0", "1", "2"] {
        let message = next(&mut sub, "unsubscribe after 3").await?;
        check(message.payload == expected, || {
            format!("received {:?}", message.payload)
        })?;
    }
    match timeout(Duration::from_millis(500), sub.next()).await {
        Ok(Some(extra)) => Err(format!("a fourth message arrived: {:?}", extra.payload)),
        _ => Ok(()),
    }
}

async fn max_payload(env: &Env, client: &async_nats::Client) -> Outcome {
    let limit = env.max_payload;
    let mut sub = subscribe(client, "conformance.big").await?;
    flush(client).await?;
    publish(client, "conformance.big", vec![b'a'; limit]).await?;
    let message = next(&mut sub, "largest payload").await?;
    check(message.payload.len() == limit, || {
        format!("received {} bytes", message.payload.len())
    })?;
    match client
        .publish("conformance.big", vec![b'a'; limit + 1].into())
        .await
    {
        Err(e) if e.kind() == async_nats::client::PublishErrorKind::MaxPayloadExceeded => Ok(()),
        Err(e) => Err(format!("refused otherwise: {e}")),
        Ok(()) => Err("a payload over max_payload was accepted".into()),
    }
}

async fn compression(env: &Env) -> Outcome {
    let client = connect(env, &env.compression_url, options()).await?;
    let mut sub = subscribe(&client, "conformance.compressed").await?;
    flush(&client).await?;
    let text = "compressible ".repeat(5000);
    let binary: Vec<u8> = (0..4096u32)
        .map(|i| ((i * 7919 + 13) % 251) as u8)
        .collect();
    publish(&client, "conformance.compressed", text.clone()).await?;
    publish(&client, "conformance.compressed", binary.clone()).await?;
    let a = next(&mut sub, "compressible payload").await?;
    let b = next(&mut sub, "binary payload").await?;
    check(a.payload == text.as_bytes() && b.payload == binary, || {
        "payload changed".into()
    })
}

async fn wss(env: &Env) -> Outcome {
    let client = connect(env, &env.wss_url, options()).await?;
    pubsub(&client).await
}

async fn auth_connection_types(env: &Env) -> Outcome {
    let (mine, other) = if env.transport == "tcp" {
        ("tcp-user", "ws-user")
    } else {
        ("ws-user", "tcp-user")
    };
    let as_user = |user: &str| options().user_and_password(user.into(), "secret".into());
    let client = connect(env, &env.users_url, as_user(mine)).await?;
    flush(&client).await?;
    drop(client);
    match connect(env, &env.users_url, as_user(other)).await {
        Err(said) if said.to_lowercase().contains("authorization") => Ok(()),
        Err(said) => Err(format!("refusal said {said}")),
        Ok(_) => Err(format!("{other} connected where a refusal was expected")),
    }
}

/// ORDERS answers `orders.lookup` and publishes `orders.events.new`; SHOP
/// sees them as `lookup` and `shop.orders.events.new`.
async fn accounts(env: &Env) -> Outcome {
    let as_user = |user: &str| options().user_and_password(user.into(), "secret".into());
    let orders = connect(env, &env.accounts_url, as_user("orders")).await?;
    let shop = connect(env, &env.accounts_url, as_user("shop")).await?;
    let mut requests = subscribe(&orders, "orders.lookup").await?;
    let responder = orders.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let account = request
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Request-Info"))
                .map(|v| v.to_string())
                .unwrap_or_default();
            if let Some(reply) = request.reply {
                let mut answer = b"found:".to_vec();
                answer.extend_from_slice(&request.payload);
                answer.extend_from_slice(format!(" {account}").as_bytes());
                let _ = responder.publish(reply, answer.into()).await;
            }
        }
    });
    let mut events = subscribe(&shop, "shop.orders.events.>").await?;
    round_trip(&orders).await?;
    round_trip(&shop).await?;
    let reply = timeout(STEP, shop.request("lookup", "id-1".into()))
        .await
        .map_err(|_| "request across accounts: no reply in time".to_owned())?
        .map_err(|e| format!("request across accounts: {e}"))?;
    check(reply.payload == r#"found:id-1 {"acc":"SHOP"}"#, || {
        format!("reply {:?}", reply.payload)
    })?;
    publish(&orders, "orders.events.new", "created").await?;
    let event = next(&mut events, "imported stream").await?;
    check(event.subject.as_str() == "shop.orders.events.new", || {
        format!("imported as {}", event.subject)
    })
}

async fn reconnect(env: &Env, answers: &mut mpsc::UnboundedReceiver<String>) -> Outcome {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let options = ConnectOptions::new()
        .name("conformance")
        .connection_timeout(STEP)
        .reconnect_delay_callback(|_| Duration::from_millis(100))
        .event_callback(move |event| {
            let events_tx = events_tx.clone();
            async move {
                let _ = events_tx.send(event);
            }
        });
    let client = connect(env, &env.url, options).await?;
    let mut sub = subscribe(&client, "conformance.reconnect").await?;
    flush(&client).await?;
    while events.try_recv().is_ok() {}
    control("restart", answers).await?;
    let back = async {
        let mut disconnected = false;
        while let Some(event) = events.recv().await {
            match event {
                Event::Disconnected => disconnected = true,
                Event::Connected if disconnected => return true,
                _ => {}
            }
        }
        false
    };
    match timeout(Duration::from_secs(10), back).await {
        Ok(true) => {}
        _ => return Err("no reconnect within 10 s of the restart".into()),
    }
    publish(&client, "conformance.reconnect", "back").await?;
    let message = next(&mut sub, "message after reconnect").await?;
    check(message.payload == "back", || "payload changed".into())
}

/// Clients on the hub and on its leaf (or on two cluster members), the
/// link known to be up once a probe has crossed it.
async fn leaf_pair(
    env: &Env,
    cluster: bool,
) -> Result<(async_nats::Client, async_nats::Client), String> {
    let (a, b) = if cluster {
        (&env.cluster_a_url, &env.cluster_b_url)
    } else {
        (&env.leaf_hub_url, &env.leaf_spoke_url)
    };
    let hub = connect(env, a, options()).await?;
    let spoke = connect(env, b, options()).await?;
    crossed(&hub, &spoke, "leaf.link").await?;
    Ok((hub, spoke))
}

/// Publishes probes on `subject` from `from` until `to` (subscribed to it)
/// gets one: its interest has crossed the link.
async fn crossed(
    from: &async_nats::Client,
    to: &async_nats::Client,
    subject: &'static str,
) -> Outcome {
    let mut sub = subscribe(to, subject).await?;
    round_trip(to).await?;
    for _ in 0..100 {
        publish(from, subject, Bytes::from_static(b"probe")).await?;
        if let Ok(Some(_)) = timeout(Duration::from_millis(100), sub.next()).await {
            return Ok(());
        }
    }
    Err(format!("nothing crossed the leaf link on {subject}"))
}

async fn leaf_pubsub(env: &Env, cluster: bool) -> Outcome {
    let (hub, spoke) = leaf_pair(env, cluster).await?;
    for (from, to, side) in [(&hub, &spoke, "hub to leaf"), (&spoke, &hub, "leaf to hub")] {
        crossed(from, to, "leaf.orders.sync").await?;
        let mut sub = subscribe(to, "leaf.orders.>").await?;
        crossed(from, to, "leaf.orders.sync2").await?;
        publish(from, "leaf.orders.new", Bytes::from_static(b"order")).await?;
        loop {
            let message = next(&mut sub, side).await?;
            if message.subject.as_str() == "leaf.orders.new" {
                check(&message.payload[..] == b"order", || {
                    format!("{side}: payload")
                })?;
                break;
            }
        }
    }
    Ok(())
}

async fn leaf_request_reply(env: &Env, cluster: bool) -> Outcome {
    let (hub, spoke) = leaf_pair(env, cluster).await?;
    for (requester, responder) in [(&hub, &spoke), (&spoke, &hub)] {
        let mut service = subscribe(responder, "leaf.svc").await?;
        crossed(requester, responder, "leaf.svc").await?;
        let answering = responder.clone();
        let task = tokio::spawn(async move {
            while let Some(request) = service.next().await {
                if let Some(reply) = request.reply {
                    let _ = answering.publish(reply, request.payload).await;
                    let _ = answering.flush().await;
                }
            }
        });
        let answer = timeout(
            STEP,
            requester.request("leaf.svc", Bytes::from_static(b"ping")),
        )
        .await
        .map_err(|_| "no answer across the leaf link".to_owned())?
        .map_err(|e| format!("request across the leaf link: {e}"))?;
        task.abort();
        check(&answer.payload[..] == b"ping", || {
            "the answer's payload".into()
        })?;
    }
    Ok(())
}

async fn leaf_queue(env: &Env, cluster: bool) -> Outcome {
    let (hub, spoke) = leaf_pair(env, cluster).await?;
    // Members only on the far side: each message once. The fence's
    // interest crosses after the group's, and the fence itself after the
    // messages, so once it arrives every message has.
    let mut members = Vec::new();
    for _ in 0..2 {
        members.push(
            spoke
                .queue_subscribe("leaf.work", "workers".into())
                .await
                .map_err(|e| format!("queue subscribe: {e}"))?,
        );
    }
    let mut fence = subscribe(&spoke, "leaf.fence").await?;
    crossed(&hub, &spoke, "leaf.fence").await?;
    for i in 0..20 {
        publish(&hub, "leaf.work", Bytes::from(i.to_string())).await?;
    }
    publish(&hub, "leaf.fence", Bytes::from_static(b"end")).await?;
    loop {
        if &next(&mut fence, "the fence").await?.payload[..] == b"end" {
            break;
        }
    }
    let mut got = 0;
    for sub in &mut members {
        while let Ok(Some(_)) = timeout(Duration::from_millis(20), sub.next()).await {
            got += 1;
        }
    }
    check(got == 20, || {
        format!("{got} deliveries of 20 to the far queue group")
    })
}

async fn control(command: &str, answers: &mut mpsc::UnboundedReceiver<String>) -> Outcome {
    println!("{}", json!({ "control": command }));
    match answers.recv().await {
        Some(answer) if answer.trim() == "ok" => Ok(()),
        other => Err(format!("control {command}: {other:?}")),
    }
}

async fn scenario(name: &str, env: &Env, answers: &mut mpsc::UnboundedReceiver<String>) -> Outcome {
    let client = || connect(env, &env.url, options());
    match name {
        "connect" => connect_info(env, &client().await?).await,
        "pubsub" => pubsub(&client().await?).await,
        "wildcards" => wildcards(&client().await?).await,
        "queue" => queue(&client().await?).await,
        "request_reply" => request_reply(&client().await?).await,
        "headers" => headers(&client().await?).await,
        "no_responders" => no_responders(&client().await?).await,
        "unsub_max" => unsub_max(&client().await?).await,
        "max_payload" => max_payload(env, &client().await?).await,
        "compression" => compression(env).await,
        "wss" => wss(env).await,
        "auth_connection_types" => auth_connection_types(env).await,
        "accounts" => accounts(env).await,
        "reconnect" => reconnect(env, answers).await,
        "leaf_pubsub" => leaf_pubsub(env, false).await,
        "cluster_pubsub" => leaf_pubsub(env, true).await,
        "leaf_request_reply" => leaf_request_reply(env, false).await,
        "cluster_request_reply" => leaf_request_reply(env, true).await,
        "leaf_queue" => leaf_queue(env, false).await,
        "cluster_queue" => leaf_queue(env, true).await,
        _ => Err("no such scenario in the Rust suite".into()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let env = match Env::from_json(&std::env::var("CONFORMANCE").unwrap_or_default()) {
        Ok(env) => env,
        Err(message) => {
            println!(
                "{}",
                json!({ "scenario": "settings", "ok": false, "error": message })
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if answers_tx.send(line).is_err() {
                break;
            }
        }
    });
    for name in &env.scenarios {
        let result =
            match timeout(Duration::from_secs(20), scenario(name, &env, &mut answers)).await {
                Ok(outcome) => outcome,
                Err(_) => Err("no outcome within 20 s".into()),
            };
        let line = match result {
            Ok(()) => json!({ "scenario": name, "ok": true }),
            Err(error) => json!({ "scenario": name, "ok": false, "error": error }),
        };
        println!("{line}");
    }
    std::process::ExitCode::SUCCESS
}
