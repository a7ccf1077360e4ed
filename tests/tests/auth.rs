//! Authentication end to end, over TCP and websocket: users and passwords
//! (plain and bcrypt), tokens, allowed_connection_types and its aliases,
//! no_auth_user (top level and websocket), the websocket authorization
//! override, cookie credentials, the authorization timeout, and the exact
//! refusals.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::time::Duration;

use bytes::BytesMut;
use starling_tests::{RawClient, raw_upgrade, read_frames, start_from_config, url, ws_url};
use starling_ws::encode_client_frame;
use starling_ws::frame::OpCode;
use tokio::io::AsyncWriteExt;

const USERS: &str = r#"
authorization {
  users: [
    { user: tcp, password: t, allowed_connection_types: ["STANDARD"] }
    { user: ws, password: w, connection_types: ["WEBSOCKET"] }
    { user: both, password: b, clients: ["standard", "websocket"] }
    { user: any, password: a }
  ]
}
websocket { port: 1, no_tls: true }
"#;

async fn accepted(url: &str, user: &str, pass: &str) -> bool {
    match async_nats::ConnectOptions::with_user_and_password(user.into(), pass.into())
        .max_reconnects(Some(0))
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
    {
        Ok(client) => {
            let mut sub = client.subscribe("probe").await.unwrap();
            client.publish("probe", "x".into()).await.unwrap();
            tokio::time::timeout(
                Duration::from_secs(2),
                futures_util::StreamExt::next(&mut sub),
            )
            .await
            .is_ok_and(|m| m.is_some())
        }
        Err(_) => false,
    }
}

#[tokio::test]
async fn connection_types_over_tcp_and_websocket() {
    let server = start_from_config(USERS).await;
    let (tcp, ws) = (url(&server), ws_url(&server));
    let table = [
        ("tcp", "t", true, false),
        ("ws", "w", false, true),
        ("both", "b", true, true),
        ("any", "a", true, true),
    ];
    for (user, pass, over_tcp, over_ws) in table {
        assert_eq!(
            accepted(&tcp, user, pass).await,
            over_tcp,
            "{user} over TCP"
        );
        assert_eq!(
            accepted(&ws, user, pass).await,
            over_ws,
            "{user} over websocket"
        );
    }
}

#[tokio::test]
async fn refusals_are_authorization_violations_and_close() {
    let server = start_from_config(USERS).await;
    let mut raw = RawClient::connect(server.client_addr()).await;
    assert!(raw.info.contains("\"auth_required\":true"), "{}", raw.info);
    for connect in [
        r#"CONNECT {"verbose":false,"user":"tcp","pass":"wrong"}"#,
        r#"CONNECT {"verbose":false,"user":"nobody","pass":"t"}"#,
        r#"CONNECT {"verbose":false}"#,
        r#"CONNECT {"verbose":false,"user":"ws","pass":"w"}"#,
        "PING",
    ] {
        let mut raw = RawClient::connect(server.client_addr()).await;
        raw.send(format!("{connect}\r\n").as_bytes()).await;
        let (reply, closed) = raw.read_to_close(Duration::from_secs(5)).await;
        assert_eq!(reply, b"-ERR 'Authorization Violation'\r\n", "{connect}");
        assert!(closed, "{connect}");
    }
    raw.send(b"CONNECT {\"verbose\":false,\"user\":\"tcp\",\"pass\":\"t\"}\r\nPING\r\n")
        .await;
    let (reply, _) = raw.read_until(b"PONG\r\n", Duration::from_secs(5)).await;
    assert_eq!(reply, b"PONG\r\n");
}

#[tokio::test]
async fn bcrypt_passwords_and_tokens() {
    // bcrypt of "hunter2", cost 4.
    let hash = "$2b$04$hkdvIqqOSEHsXHvhU1R2nu1sLIdXfIisaqTXDFmDcdAgnhNYnLJEy";
    let server = start_from_config(&format!(
        "authorization {{ users: [ {{ user: b, password: \"{hash}\" }} ] }}"
    ))
    .await;
    assert!(accepted(&url(&server), "b", "hunter2").await);
    assert!(!accepted(&url(&server), "b", hash).await);

    let server = start_from_config("authorization { token: s3cr3t }").await;
    let ok = async_nats::ConnectOptions::with_token("s3cr3t".into())
        .connect(url(&server))
        .await;
    assert!(ok.is_ok());
    let mut raw = RawClient::connect(server.client_addr()).await;
    raw.send(b"CONNECT {\"verbose\":false,\"auth_token\":\"nope\"}\r\n")
        .await;
    assert_eq!(
        raw.read_to_close(Duration::from_secs(5)).await,
        (b"-ERR 'Authorization Violation'\r\n".to_vec(), true)
    );
}

#[tokio::test]
async fn websocket_no_auth_user_takes_precedence_for_websocket_clients() {
    let config = r#"
        authorization { users: [
            { user: tcpdefault, password: x, allowed_connection_types: ["STANDARD"] }
            { user: wsdefault, password: y, allowed_connection_types: ["WEBSOCKET"] }
        ] }
        no_auth_user: tcpdefault
        websocket { port: 1, no_tls: true, no_auth_user: wsdefault }
    "#;
    let server = start_from_config(config).await;
    // Both connect without credentials, each bound to its own default user.
    let tcp = async_nats::connect(url(&server)).await.unwrap();
    let ws = async_nats::connect(ws_url(&server)).await.unwrap();
    assert!(!tcp.server_info().auth_required && !ws.server_info().auth_required);
    starling_tests::round_trip(&tcp).await;
    starling_tests::round_trip(&ws).await;

    // Without the websocket block's no_auth_user, a websocket client would
    // be bound to the STANDARD-only top-level user, and refused.
    let server = start_from_config(&config.replace("no_auth_user: wsdefault", "")).await;
    let (mut stream, _) = raw_upgrade(server.websocket_addr().unwrap(), "").await;
    read_frames(&mut stream, false, b" \r\n").await;
    let mut frame = BytesMut::new();
    encode_client_frame(
        &mut frame,
        OpCode::Binary,
        true,
        false,
        b"CONNECT {\"verbose\":false}\r\nPING\r\n",
        [3, 3, 3, 3],
    );
    stream.write_all(&frame).await.unwrap();
    let (payloads, _) = read_frames(&mut stream, false, b"\x00never").await;
    assert_eq!(payloads, b"-ERR 'Authorization Violation'\r\n");
}

#[tokio::test]
async fn websocket_authorization_overrides_the_main_token() {
    let server = start_from_config(
        "authorization { token: main }\nwebsocket { port: 1, no_tls: true, authorization { username: wu, password: wp } }",
    )
    .await;
    assert!(
        async_nats::ConnectOptions::with_token("main".into())
            .connect(url(&server))
            .await
            .is_ok()
    );
    assert!(accepted(&ws_url(&server), "wu", "wp").await);
    let main_on_ws = async_nats::ConnectOptions::with_token("main".into())
        .max_reconnects(Some(0))
        .connection_timeout(Duration::from_secs(2))
        .connect(ws_url(&server))
        .await;
    let refused = match main_on_ws {
        Err(_) => true,
        Ok(client) => {
            client.flush().await.is_err() || !starling_tests::round_trip_ok(&client).await
        }
    };
    assert!(refused, "the main token does not open the websocket port");
}

#[tokio::test]
async fn websocket_credentials_from_cookies() {
    let server = start_from_config(
        "authorization { users: [ { user: c, password: cp } ] }\nwebsocket { port: 1, no_tls: true, user_cookie: u, pass_cookie: p }",
    )
    .await;
    for (cookie, accepted) in [
        ("u=c; p=cp", true),
        ("u=c; p=nope", false),
        ("other=c; p=cp", false),
    ] {
        let (mut stream, _) = raw_upgrade(
            server.websocket_addr().unwrap(),
            &format!("Cookie: {cookie}\r\n"),
        )
        .await;
        let (info, _) = read_frames(&mut stream, false, b" \r\n").await;
        assert!(String::from_utf8_lossy(&info).contains("\"auth_required\":true"));
        let mut frame = BytesMut::new();
        encode_client_frame(
            &mut frame,
            OpCode::Binary,
            true,
            false,
            b"CONNECT {\"verbose\":false}\r\nPING\r\n",
            [7, 7, 7, 7],
        );
        stream.write_all(&frame).await.unwrap();
        let until: &[u8] = if accepted { b"PONG\r\n" } else { b"\x00never" };
        let (payloads, _) = read_frames(&mut stream, false, until).await;
        let expected: &[u8] = if accepted {
            b"PONG\r\n"
        } else {
            b"-ERR 'Authorization Violation'\r\n"
        };
        assert_eq!(payloads, expected, "{cookie}");
    }
}

#[tokio::test]
async fn silent_clients_get_authentication_timeout() {
    let server = start_from_config("authorization { token: t, timeout: 0.3 }").await;
    let mut raw = RawClient::connect(server.client_addr()).await;
    let started = std::time::Instant::now();
    let (reply, closed) = raw.read_to_close(Duration::from_secs(5)).await;
    assert_eq!(reply, b"-ERR 'Authentication Timeout'\r\n");
    assert!(closed && started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn accounts_keep_their_subjects_to_themselves() {
    let server = start_from_config(
        r#"
        accounts {
          A: { users: [ { user: a1, password: p }, { user: a2, password: p } ] }
          B: { users: [ { user: b1, password: p } ] }
        }
        authorization { users: [ { user: g, password: p } ] }
        "#,
    )
    .await;
    let connect = |user: &'static str| {
        let url = url(&server);
        async move {
            async_nats::ConnectOptions::with_user_and_password(user.into(), "p".into())
                .connect(url)
                .await
                .unwrap()
        }
    };
    let (a1, a2, b1, g) = (
        connect("a1").await,
        connect("a2").await,
        connect("b1").await,
        connect("g").await,
    );
    let mut on_a1 = a1.subscribe("x").await.unwrap();
    let mut on_g = g.subscribe("x").await.unwrap();
    starling_tests::round_trip(&a1).await;
    starling_tests::round_trip(&g).await;
    for (client, text) in [(&b1, "from B"), (&g, "from global"), (&a2, "from A")] {
        client.publish("x", text.into()).await.unwrap();
        starling_tests::round_trip(client).await;
    }
    let next = |sub: &mut async_nats::Subscriber| {
        futures_util::FutureExt::now_or_never(futures_util::StreamExt::next(sub))
            .flatten()
            .map(|m| m.payload)
    };
    // A fence on each receiving connection: its own message comes back
    // behind everything the server queued for it before.
    starling_tests::round_trip(&a1).await;
    starling_tests::round_trip(&g).await;
    assert_eq!(next(&mut on_a1).as_deref(), Some(&b"from A"[..]));
    assert_eq!(next(&mut on_a1), None, "nothing from other accounts");
    assert_eq!(next(&mut on_g).as_deref(), Some(&b"from global"[..]));
    assert_eq!(next(&mut on_g), None);
}

#[tokio::test]
async fn allow_responses_lets_a_service_answer_and_nothing_more() {
    let server = start_from_config(
        r#"authorization { users: [
            { user: svc, password: s, permissions: { subscribe: "svc", allow_responses: { max: 2 } } }
            { user: client, password: c }
        ] }"#,
    )
    .await;
    let mut service = RawClient::connect(server.client_addr()).await;
    service
        .send(
            b"CONNECT {\"verbose\":false,\"user\":\"svc\",\"pass\":\"s\"}\r\nSUB svc 1\r\nPING\r\n",
        )
        .await;
    service
        .read_until(b"PONG\r\n", Duration::from_secs(5))
        .await;

    let client = async_nats::ConnectOptions::with_user_and_password("client".into(), "c".into())
        .connect(url(&server))
        .await
        .unwrap();
    let mut replies = client.subscribe("reply.here").await.unwrap();
    starling_tests::round_trip(&client).await;
    client
        .publish_with_reply("svc", "reply.here", "question".into())
        .await
        .unwrap();
    let (request, _) = service
        .read_until(b"question\r\n", Duration::from_secs(5))
        .await;
    assert_eq!(request, b"MSG svc 1 reply.here 8\r\nquestion\r\n");

    // Two answers allowed, the third refused; other subjects never.
    service.send(b"PUB reply.here 1\r\n1\r\nPUB reply.here 1\r\n2\r\nPUB reply.here 1\r\n3\r\nPUB elsewhere 1\r\nx\r\nPING\r\n").await;
    let (errors, _) = service
        .read_until(b"PONG\r\n", Duration::from_secs(5))
        .await;
    assert_eq!(
        errors,
        b"-ERR 'Permissions Violation for Publish to \"reply.here\"'\r\n-ERR 'Permissions Violation for Publish to \"elsewhere\"'\r\nPONG\r\n"
    );
    for expected in [b"1", b"2"] {
        let message = tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::StreamExt::next(&mut replies),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(&message.payload[..], expected);
    }
}

#[tokio::test]
async fn nkey_users_sign_the_nonce() {
    // Keys made by the nats-io nkeys crate, as nsc and the clients make them.
    let known = nkeys::KeyPair::new_user();
    let stranger = nkeys::KeyPair::new_user();
    let server = start_from_config(&format!(
        "authorization {{ users: [ {{ nkey: {}, permissions: {{ publish: \"ok.>\", subscribe: \"ok.>\" }} }} ] }}",
        known.public_key()
    ))
    .await;
    let mut raw = RawClient::connect(server.client_addr()).await;
    assert!(raw.info.contains("\"nonce\":\""), "{}", raw.info);

    let client = async_nats::ConnectOptions::with_nkey(known.seed().unwrap())
        .connect(url(&server))
        .await
        .unwrap();
    let mut sub = client.subscribe("ok.x").await.unwrap();
    client.publish("ok.x", "signed in".into()).await.unwrap();
    let message = tokio::time::timeout(
        Duration::from_secs(5),
        futures_util::StreamExt::next(&mut sub),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(&message.payload[..], b"signed in");

    // Another key, or the right key with a signature of something else, is refused.
    let refused = async_nats::ConnectOptions::with_nkey(stranger.seed().unwrap())
        .max_reconnects(Some(0))
        .connection_timeout(Duration::from_secs(2))
        .connect(url(&server))
        .await;
    assert!(refused.is_err() || !starling_tests::round_trip_ok(&refused.unwrap()).await);
    let bad_sig = known.sign(b"not the nonce").unwrap();
    let bad_sig = data_encoding::BASE64URL_NOPAD.encode(&bad_sig);
    raw.send(
        format!(
            "CONNECT {{\"verbose\":false,\"nkey\":\"{}\",\"sig\":\"{bad_sig}\"}}\r\n",
            known.public_key()
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(
        raw.read_to_close(Duration::from_secs(5)).await,
        (b"-ERR 'Authorization Violation'\r\n".to_vec(), true)
    );
}
