//! Exports and imports written in account JWTs (operator mode), with the
//! operator, accounts and users made in the test: a public stream, a
//! service imported under a local subject, and a `token_req` stream open
//! only to the account its activation token names.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::time::Duration;

use futures_util::StreamExt;
use nkeys::KeyPair;
use starling_tests::{nats_jwt, round_trip, start_from_config, url};
use tokio::time::timeout;

/// A v2 JWT of `claims` (with `iss` and `sub` filled in) signed by `issuer`.
fn jwt(issuer: &KeyPair, subject: &str, mut claims: serde_json::Value) -> String {
    claims["sub"] = subject.into();
    claims["iat"] = 1_700_000_000_i64.into();
    claims["jti"] = subject.into();
    nats_jwt::encode(
        &issuer.public_key(),
        |bytes| issuer.sign(bytes).unwrap(),
        claims,
    )
}

fn account(operator: &KeyPair, key: &KeyPair, name: &str, links: serde_json::Value) -> String {
    let mut nats = links;
    nats["type"] = "account".into();
    nats["version"] = 2.into();
    jwt(
        operator,
        &key.public_key(),
        serde_json::json!({ "name": name, "nats": nats }),
    )
}

async fn user(server: &starling_server::Server, account: &KeyPair) -> async_nats::Client {
    let key = KeyPair::new_user();
    let user = jwt(
        account,
        &key.public_key(),
        serde_json::json!({ "name": "u", "nats": { "type": "user", "version": 2, "pub": {}, "sub": {} } }),
    );
    let creds = nats_jwt::creds(&user, &key.seed().unwrap());
    async_nats::ConnectOptions::with_credentials(&creds)
        .unwrap()
        .connect(url(server))
        .await
        .unwrap()
}

#[tokio::test]
async fn account_jwts_export_and_import() {
    let operator = KeyPair::new_operator();
    let (exporter, importer, other) = (
        KeyPair::new_account(),
        KeyPair::new_account(),
        KeyPair::new_account(),
    );
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        serde_json::json!({ "name": "O", "nats": { "type": "operator", "version": 2 } }),
    );
    let exports = account(
        &operator,
        &exporter,
        "EXP",
        serde_json::json!({ "exports": [
            { "subject": "feed.>", "type": "stream" },
            { "subject": "svc.echo", "type": "service" },
            { "subject": "private.>", "type": "stream", "token_req": true },
        ] }),
    );
    let activation = jwt(
        &exporter,
        &importer.public_key(),
        serde_json::json!({ "name": "a", "nats": { "type": "activation", "version": 2,
            "subject": "private.>", "kind": "stream" } }),
    );
    let imports = account(
        &operator,
        &importer,
        "IMP",
        serde_json::json!({ "imports": [
            { "subject": "feed.>", "account": exporter.public_key(), "type": "stream" },
            { "subject": "svc.echo", "account": exporter.public_key(), "type": "service",
              "local_subject": "echo" },
            { "subject": "private.>", "account": exporter.public_key(), "type": "stream",
              "token": activation },
        ] }),
    );
    // No token: the private stream is not imported.
    let others = account(
        &operator,
        &other,
        "OTHER",
        serde_json::json!({ "imports": [
            { "subject": "private.>", "account": exporter.public_key(), "type": "stream" },
        ] }),
    );
    let config = format!(
        "operator: \"{operator_jwt}\"\nresolver: MEMORY\nresolver_preload: {{\n\
           {}: \"{exports}\"\n {}: \"{imports}\"\n {}: \"{others}\"\n}}\n",
        exporter.public_key(),
        importer.public_key(),
        other.public_key()
    );
    let server = start_from_config(&config).await;
    let (exp, imp, oth) = (
        user(&server, &exporter).await,
        user(&server, &importer).await,
        user(&server, &other).await,
    );
    let mut feed = imp.subscribe("feed.*").await.unwrap();
    let mut private = imp.subscribe("private.*").await.unwrap();
    let mut leaked = oth.subscribe("private.*").await.unwrap();
    let mut service = exp.subscribe("svc.echo").await.unwrap();
    round_trip(&imp).await;
    round_trip(&oth).await;
    round_trip(&exp).await;
    exp.publish("feed.1", "f".into()).await.unwrap();
    exp.publish("private.1", "p".into()).await.unwrap();
    let got = timeout(Duration::from_secs(5), feed.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.subject.as_str(), "feed.1");
    let got = timeout(Duration::from_secs(5), private.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.subject.as_str(), "private.1");
    let responder = async move {
        let request = service.next().await.unwrap();
        exp.publish(request.reply.unwrap(), "pong".into())
            .await
            .unwrap();
        exp
    };
    let (answer, exp) = tokio::join!(imp.request("echo", "ping".into()), responder);
    assert_eq!(&answer.unwrap().payload[..], b"pong");
    // private.1 reached imp, so a delivery to oth would be queued by now:
    // oth's own round trip comes after it.
    drop(exp);
    round_trip(&oth).await;
    assert!(
        timeout(Duration::from_millis(100), leaked.next())
            .await
            .is_err(),
        "no token, no private stream"
    );
    server.shutdown().await;
}
