//! The system account's services with real clients (async-nats): the
//! `$SYS.REQ...` requests from a system-account user, the imports that let
//! any account list its own connections, the refusal of everything else,
//! and the events (connect, disconnect, refused login, account counts,
//! STATSZ heartbeat). Then the same scenario against a live nats-server
//! 2.9.10, every answer and event compared by keys and JSON types.
//!
//! The comparison is skipped (with a note) where nats-server is not
//! installed; CI installs it.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Subscriber};
use futures_util::StreamExt;
use serde_json::Value;
use starling_tests::json_shape::{differences, shape};
use starling_tests::nats_server::{NatsServer, free_port};
use starling_tests::{round_trip, start_from_config, url};
use tokio::time::{Instant, timeout};

const CONFIG: &str = r#"
server_name: sysref
server_tags: ["Edge:1", " b ", "edge:1"]
accounts {
  SYS { users [{user: sys, password: sys}] }
  APP { users [{user: app, password: app}] }
}
system_account: SYS
"#;

/// How long any one expected message may take (a bound, not a pace).
const WAIT: Duration = Duration::from_secs(10);

async fn login(url: &str, user: &str, pass: &str, name: &str) -> Result<Client, String> {
    ConnectOptions::with_user_and_password(user.into(), pass.into())
        .name(name)
        .max_reconnects(Some(0))
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| e.to_string())
}

async fn request(client: &Client, subject: &str, body: &str) -> Result<Value, String> {
    request_within(client, subject, body, WAIT).await
}

async fn request_within(
    client: &Client,
    subject: &str,
    body: &str,
    within: Duration,
) -> Result<Value, String> {
    let asked = client.request(subject.to_owned(), body.to_owned().into());
    match timeout(within, asked).await {
        Ok(Ok(message)) => serde_json::from_slice(&message.payload).map_err(|e| e.to_string()),
        Ok(Err(error)) => Err(format!("{:?}", error.kind())),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// The event kind a subject carries (`CONNECT`, `AUTH.ERR`, ...).
fn event_kind(subject: &str) -> String {
    let tokens: Vec<&str> = subject.split('.').collect();
    match tokens.as_slice() {
        ["$SYS", "ACCOUNT", _, "SERVER", "CONNS"] => "SERVER.CONNS".to_owned(),
        ["$SYS", "SERVER", "ACCOUNT", _, "CONNS"] => "OLD.CONNS".to_owned(),
        ["$SYS", "ACCOUNT", _, last] => (*last).to_owned(),
        ["$SYS", "SERVER", _, "CLIENT", "AUTH", "ERR"] => "AUTH.ERR".to_owned(),
        ["$SYS", "SERVER", _, last] => (*last).to_owned(),
        _ => subject.to_owned(),
    }
}

/// Reads events until one of each `wanted` kind arrived (the first kept).
async fn collect(events: &mut Subscriber, wanted: &[&str]) -> BTreeMap<String, Value> {
    let mut seen = BTreeMap::new();
    let deadline = Instant::now() + WAIT;
    while wanted.iter().any(|w| !seen.contains_key(*w)) {
        let Ok(Some(message)) = tokio::time::timeout_at(deadline, events.next()).await else {
            panic!("events seen: {:?}; wanted {wanted:?}", seen.keys());
        };
        // The system users' own comings and goings are not the scenario's.
        if message.subject.starts_with("$SYS.ACCOUNT.SYS.") {
            continue;
        }
        let body: Value = serde_json::from_slice(&message.payload).expect("JSON event");
        seen.entry(event_kind(&message.subject)).or_insert(body);
    }
    seen
}

/// Everything one server says in the scenario, by label.
async fn scenario(url: &str) -> BTreeMap<String, Value> {
    // One system user listens to every event; another makes the requests
    // (and so does not hear them itself).
    let listener = login(url, "sys", "sys", "listener")
        .await
        .expect("system user");
    let mut events = listener.subscribe("$SYS.>").await.expect("subscribe");
    round_trip(&listener).await;
    let sys = login(url, "sys", "sys", "sysc").await.expect("system user");
    let mut said = BTreeMap::new();

    let app = login(url, "app", "app", "appc").await.expect("app user");
    app.publish("foo", "hello".into()).await.expect("publish");
    round_trip(&app).await;
    app.drain().await.expect("drain");
    let refused = login(url, "app", "wrong", "bad").await;
    assert!(refused.is_err(), "a wrong password is refused");
    let wanted = [
        "CONNECT",
        "DISCONNECT",
        "SERVER.CONNS",
        "OLD.CONNS",
        "AUTH.ERR",
        "STATSZ",
    ];
    for (kind, body) in collect(&mut events, &wanted).await {
        said.insert(format!("event {kind}"), body);
    }
    // The listener stops listening (a request it heard would count as
    // delivered, and a subject nobody answers would time out instead of
    // getting its no-responders status).
    events.unsubscribe().await.expect("unsubscribe");
    round_trip(&listener).await;
    let id = said["event STATSZ"]["server"]["id"]
        .as_str()
        .expect("server id")
        .to_owned();

    let requests = [
        ("$SYS.REQ.SERVER.PING", ""),
        ("$SYS.REQ.SERVER.PING.STATSZ", ""),
        ("$SYS.REQ.SERVER.PING.VARZ", ""),
        (
            "$SYS.REQ.SERVER.PING.CONNZ",
            r#"{"subscriptions": true, "auth": true}"#,
        ),
        ("$SYS.REQ.SERVER.PING.CONNZ", r#"{"state": 1}"#),
        ("$SYS.REQ.SERVER.PING.SUBSZ", ""),
        ("$SYS.REQ.SERVER.PING.ROUTEZ", ""),
        ("$SYS.REQ.SERVER.PING.GATEWAYZ", ""),
        ("$SYS.REQ.SERVER.PING.LEAFZ", ""),
        ("$SYS.REQ.SERVER.PING.ACCOUNTZ", ""),
        ("$SYS.REQ.SERVER.PING.JSZ", ""),
        ("$SYS.REQ.SERVER.PING.HEALTHZ", ""),
        ("$SYS.REQ.SERVER.ID.CONNZ", r#"{"limit": 1}"#),
        ("$SYS.REQ.ACCOUNT.APP.CONNZ", r#"{"state": 2}"#),
        ("$SYS.REQ.ACCOUNT.SYS.SUBSZ", ""),
        ("$SYS.REQ.ACCOUNT.APP.STATZ", r#"{"include_unused": true}"#),
        ("$SYS.REQ.ACCOUNT.PING.STATZ", ""),
        ("$SYS.REQ.ACCOUNT.SYS.CONNS", ""),
        ("$SYS.REQ.SERVER.PING.VARZ", "{bad"),
        ("$SYS.REQ.SERVER.PING.CONNZ", r#"{"limit": "ten"}"#),
        ("$SYS.REQ.SERVER.PING.CONNZ", r#"{"sort": "nope"}"#),
        ("$SYS.REQ.SERVER.PING.NOPE", ""),
        ("$SYS.REQ.SERVER.PING.VARZ", r#"{"tags": ["EDGE:1", "b"]}"#),
    ];
    for (subject, body) in requests {
        let subject = subject.replace(".ID.", &format!(".{id}."));
        let answer = request(&sys, &subject, body).await;
        let label = format!("sys {} {body}", subject.replace(&id, "ID"));
        said.insert(label, answer.unwrap_or_else(Value::String));
    }
    // A server that does not match a filter stays silent (a bound is all
    // silence can be checked with; an answer comes in microseconds).
    let filter = r#"{"server_name": "other"}"#;
    let within = Duration::from_millis(500);
    let filtered = request_within(&sys, "$SYS.REQ.SERVER.PING.VARZ", filter, within);
    said.insert(
        "sys filtered".into(),
        filtered.await.unwrap_or_else(Value::String),
    );
    let filter = r#"{"tags": ["edge:1", "nope"]}"#;
    let filtered = request_within(&sys, "$SYS.REQ.SERVER.PING.VARZ", filter, within);
    said.insert(
        "sys filtered by tags".into(),
        filtered.await.unwrap_or_else(Value::String),
    );

    // Any account may list its own connections and statistics; the rest
    // of `$SYS` has no responders outside the system account.
    let other = login(url, "app", "app", "other").await.expect("app user");
    for subject in [
        "$SYS.REQ.SERVER.PING.CONNZ",
        "$SYS.REQ.ACCOUNT.PING.CONNZ",
        "$SYS.REQ.ACCOUNT.PING.STATZ",
        "$SYS.REQ.SERVER.PING.VARZ",
        "$SYS.REQ.SERVER.PING",
        "$SYS.REQ.ACCOUNT.SYS.CONNZ",
    ] {
        let answer = request(&other, subject, "").await;
        said.insert(
            format!("app {subject}"),
            answer.unwrap_or_else(Value::String),
        );
    }
    said
}

#[tokio::test]
async fn system_account_answers_and_announces() {
    let server = start_from_config(CONFIG).await;
    let said = scenario(&url(&server)).await;
    let id = server.server_id();

    let statsz = &said["sys $SYS.REQ.SERVER.PING "];
    assert_eq!(statsz["server"]["id"], id);
    assert_eq!(statsz["statsz"]["connections"], 2, "{statsz}");
    assert!(statsz["statsz"]["total_connections"].as_u64() >= Some(3));
    let varz = &said["sys $SYS.REQ.SERVER.PING.VARZ "];
    assert_eq!(varz["data"]["server_id"], id);
    assert_eq!(varz["data"]["system_account"], "SYS");
    let closed = &said[r#"sys $SYS.REQ.SERVER.PING.CONNZ {"state": 1}"#];
    let reasons: Vec<&str> = closed["data"]["connections"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|row| row["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"Client Closed"), "{reasons:?}");
    assert!(reasons.contains(&"Authentication Failure"), "{reasons:?}");
    let one = &said[r#"sys $SYS.REQ.SERVER.ID.CONNZ {"limit": 1}"#];
    assert_eq!(one["data"]["limit"], 1);

    let event = &said["event CONNECT"];
    assert_eq!(event["type"], "io.nats.server.advisory.v1.client_connect");
    assert_eq!(event["client"]["acc"], "APP");
    assert_eq!(event["client"]["user"], "app");
    assert_eq!(event["client"]["name"], "appc");
    let event = &said["event DISCONNECT"];
    assert_eq!(event["reason"], "Client Closed");
    // foo, and the round trip's message to itself.
    assert_eq!(event["sent"]["msgs"], 2, "what the client published");
    let event = &said["event AUTH.ERR"];
    assert_eq!(event["reason"], "Authentication Failure");
    assert_eq!(event["client"]["user"], "app");

    let bad = &said["sys $SYS.REQ.SERVER.PING.VARZ {bad"];
    assert_eq!(bad["error"]["code"], 400);
    let bad = &said[r#"sys $SYS.REQ.SERVER.PING.CONNZ {"sort": "nope"}"#];
    assert_eq!(bad["error"]["code"], 500);
    assert_eq!(said["sys $SYS.REQ.SERVER.PING.NOPE "], "NoResponders");
    assert_eq!(said["sys filtered"], "timed out");
    assert_eq!(said["sys filtered by tags"], "timed out");
    let tagged = &said[r#"sys $SYS.REQ.SERVER.PING.VARZ {"tags": ["EDGE:1", "b"]}"#];
    assert_eq!(
        tagged["data"]["tags"],
        serde_json::json!(["edge:1", "b"]),
        "{tagged}"
    );
    assert_eq!(
        tagged["server"]["tags"],
        serde_json::json!(["edge:1", "b"]),
        "{tagged}"
    );

    let own = &said["app $SYS.REQ.SERVER.PING.CONNZ"];
    assert_eq!(own["data"]["total"], 1, "only its own account: {own}");
    let own = &said["app $SYS.REQ.ACCOUNT.PING.STATZ"];
    assert_eq!(own["data"]["account_statz"][0]["acc"], "APP");
    for refused in [
        "app $SYS.REQ.SERVER.PING.VARZ",
        "app $SYS.REQ.SERVER.PING",
        "app $SYS.REQ.ACCOUNT.SYS.CONNZ",
    ] {
        assert_eq!(said[refused], "NoResponders", "{refused}");
    }
    server.shutdown().await;
}

/// Differences kept on purpose (docs/monitoring.md).
const ACCEPTED: &[&str] = &[];

#[tokio::test]
async fn system_account_matches_nats_server() {
    if !NatsServer::installed() {
        eprintln!("nats-server is not installed: the live $SYS comparison is skipped");
        return;
    }
    let ours = start_from_config(CONFIG).await;
    // Ready when its monitoring port answers: a probe of the client port
    // would be one more closed connection in what is compared.
    let http = free_port();
    let config = format!("{CONFIG}\nhttp: \"127.0.0.1:{http}\"\n");
    let nats = NatsServer::start(&config, &[([127, 0, 0, 1], http).into()]).await;
    let (a, b) = (
        scenario(&url(&ours)).await,
        scenario(&format!("nats://{}", nats.addr)).await,
    );
    let mut problems = Vec::new();
    for label in a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (a.get(label), b.get(label)) {
            (Some(x), Some(y)) => differences(label, &shape("", x), &shape("", y), &mut problems),
            _ => problems.push(format!("{label}: said by one side only")),
        }
        // Error codes and refusals are values, not just types.
        if let (Some(x), Some(y)) = (a.get(label), b.get(label))
            && (x["error"]["code"] != y["error"]["code"] || x.is_string() != y.is_string())
        {
            problems.push(format!("{label}: {x} / {y}"));
        }
    }
    // Values both must agree on: the close reasons (a client that left,
    // a refused login), the events' reasons and accounts.
    let reasons = |said: &BTreeMap<String, Value>| {
        let closed = &said[r#"sys $SYS.REQ.SERVER.PING.CONNZ {"state": 1}"#];
        let mut reasons: Vec<String> = closed["data"]["connections"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| row["reason"].to_string())
            .collect();
        reasons.sort();
        reasons
    };
    if reasons(&a) != reasons(&b) {
        problems.push(format!(
            "closed reasons: {:?} / {:?}",
            reasons(&a),
            reasons(&b)
        ));
    }
    for (event, key) in [
        ("event DISCONNECT", "reason"),
        ("event AUTH.ERR", "reason"),
        ("event CONNECT", "type"),
        ("event DISCONNECT", "sent"),
        ("event DISCONNECT", "received"),
    ] {
        if a[event][key] != b[event][key] {
            problems.push(format!(
                "{event}.{key}: {} / {}",
                a[event][key], b[event][key]
            ));
        }
    }
    problems.retain(|p| !ACCEPTED.contains(&p.as_str()));
    assert!(
        problems.is_empty(),
        "Starling / nats-server:\n{}",
        problems.join("\n")
    );
    ours.shutdown().await;
}
