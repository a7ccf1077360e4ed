//! Timers and credentials: pings, the authorization deadline, JWT expiry,
//! wrong credentials, the costly check handed to the driver.

use std::time::Duration;

use super::*;

#[test]
fn pings_an_idle_client_and_closes_it_when_stale() {
    let mut clock = Clock::new();
    let broker = broker(ServerOptions {
        ping_interval: Duration::from_secs(10),
        ping_max: 2,
        ..ServerOptions::default()
    });
    let mut client = Client::new(&broker, clock);
    client.send(clock, CONNECT);
    // The first PING comes within 2 s (plus up to 20 % jitter) of CONNECT.
    let first = client.state.poll_timeout() - clock.start;
    assert!(
        first >= Duration::from_secs(2) && first <= Duration::from_millis(2400),
        "{first:?}"
    );
    clock.elapsed = first;
    assert_eq!(client.tick(clock).output(), "PING\r\n");
    // Unanswered: another at the next interval, then the stale close.
    clock.elapsed += Duration::from_secs(10);
    assert_eq!(client.tick(clock).output(), "PING\r\n");
    clock.elapsed += Duration::from_secs(10);
    assert_eq!(client.tick(clock).output(), "-ERR 'Stale Connection'\r\n");
    assert_eq!(client.closed, Some(CloseReason::StaleConnection));
}

#[test]
fn a_pong_keeps_an_active_client_unpinged() {
    let mut clock = Clock::new();
    let broker = broker(ServerOptions {
        ping_interval: Duration::from_secs(10),
        ..ServerOptions::default()
    });
    let mut client = Client::new(&broker, clock);
    client.send(clock, CONNECT);
    clock.elapsed = Duration::from_secs(3);
    assert_eq!(client.tick(clock).output(), "PING\r\n");
    client.send(clock, "PONG\r\n");
    // Active (it publishes) and its RTT is known: no PING at the next tick.
    for _ in 0..5 {
        clock.elapsed += Duration::from_secs(5);
        client.send(clock, "PUB x 0\r\n\r\n");
        clock.elapsed += Duration::from_secs(5);
        assert_eq!(client.tick(clock).output(), "");
    }
    assert_eq!(client.closed, None);
    // Idle again: pinged again.
    clock.elapsed += Duration::from_secs(20);
    assert_eq!(client.tick(clock).output(), "PING\r\n");
}

#[test]
fn no_connect_within_the_authorization_timeout_closes() {
    let clock = Clock::new();
    let broker = broker_from("authorization { user: a, password: b, timeout: 3 }");
    let mut client = Client::new(&broker, clock);
    assert_eq!(
        client.state.poll_timeout(),
        clock.start + Duration::from_secs(3)
    );
    let mut later = clock;
    later.elapsed = Duration::from_millis(2999);
    assert_eq!(client.tick(later).output(), "");
    later.elapsed = Duration::from_secs(3);
    assert_eq!(
        client.tick(later).output(),
        "-ERR 'Authentication Timeout'\r\n"
    );
    assert_eq!(client.closed, Some(CloseReason::AuthenticationTimeout));
    // Authenticated in time: the deadline is gone.
    let mut client = Client::new(&broker, clock);
    client.send(
        clock,
        "CONNECT {\"user\":\"a\",\"pass\":\"b\",\"verbose\":true}\r\n",
    );
    assert_eq!(client.output(), "+OK\r\n");
    later.elapsed = Duration::from_secs(60);
    client.tick(later);
    assert_eq!(client.closed, None);
}

#[test]
fn wrong_credentials_and_operations_before_connect_are_refused() {
    let clock = Clock::new();
    let broker = broker_from("authorization { user: a, password: b }");
    let mut client = Client::new(&broker, clock);
    client.send(clock, "CONNECT {\"user\":\"a\",\"pass\":\"x\"}\r\n");
    assert_eq!(client.output(), "-ERR 'Authorization Violation'\r\n");
    assert_eq!(client.closed, Some(CloseReason::AuthenticationViolation));
    let mut client = Client::new(&broker, clock);
    client.send(clock, "SUB foo 1\r\n");
    assert_eq!(client.output(), "-ERR 'Authorization Violation'\r\n");
}

/// Signs `nonce` with the seed of a `.creds` file, as a client does.
fn sign(creds: &str, nonce: &str) -> (String, String) {
    use ed25519_dalek::Signer as _;
    let jwt = creds
        .lines()
        .skip_while(|l| !l.contains("BEGIN NATS USER JWT"))
        .nth(1)
        .expect("a JWT")
        .to_owned();
    let seed = creds
        .lines()
        .find(|l| l.starts_with("SU"))
        .expect("a user seed");
    let raw = data_encoding::BASE32_NOPAD
        .decode(seed.as_bytes())
        .expect("base32 seed");
    let key: [u8; 32] = raw[2..34].try_into().expect("32 key bytes");
    let signature = ed25519_dalek::SigningKey::from_bytes(&key).sign(nonce.as_bytes());
    (
        jwt,
        data_encoding::BASE64URL_NOPAD.encode(&signature.to_bytes()),
    )
}

#[test]
fn expiring_credentials_close_the_connection_at_their_expiry() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/operator");
    let config = std::fs::read_to_string(format!("{fixtures}/server.conf")).expect("fixture");
    let creds = std::fs::read_to_string(format!("{fixtures}/expired.creds")).expect("fixture");
    let broker = broker_from(&config);
    // The fixture's user expires at 1795519739 (Unix seconds); the fake
    // clock starts 739 s before that.
    let mut clock = Clock::new();
    let nonce = "c3RhcmxpbmctdGVzdA";
    let mut client = Client::with_nonce(&broker, clock, nonce);
    let (jwt, sig) = sign(&creds, nonce);
    client.send(
        clock,
        &format!("CONNECT {{\"jwt\":\"{jwt}\",\"sig\":\"{sig}\",\"verbose\":true}}\r\n"),
    );
    assert_eq!(client.output(), "+OK\r\n");
    // The first PING is due before the expiry; nothing closes then.
    clock.elapsed = Duration::from_secs(738);
    assert_eq!(client.tick(clock).output(), "PING\r\n");
    assert_eq!(client.closed, None);
    assert_eq!(
        client.state.poll_timeout(),
        clock.start + Duration::from_secs(739)
    );
    clock.elapsed = Duration::from_secs(739);
    assert_eq!(
        client.tick(clock).output(),
        "-ERR 'User Authentication Expired'\r\n"
    );
    assert_eq!(client.closed, Some(CloseReason::AuthenticationExpired));
}

#[test]
fn a_costly_credentials_check_is_handed_to_the_driver() {
    let clock = Clock::new();
    // bcrypt of "hunter2", cost 4.
    let broker = broker_from(
        "authorization { users: [ { user: b, password: \"$2b$04$hkdvIqqOSEHsXHvhU1R2nu1sLIdXfIisaqTXDFmDcdAgnhNYnLJEy\" } ] }",
    );
    for (password, reply) in [
        ("hunter2", "+OK\r\n"),
        ("wrong", "-ERR 'Authorization Violation'\r\n"),
    ] {
        let mut client = Client::new(&broker, clock);
        client.send(
            clock,
            &format!("CONNECT {{\"user\":\"b\",\"pass\":\"{password}\",\"verbose\":true}}\r\n"),
        );
        // Nothing is decided until the check's result comes back.
        assert_eq!(client.output(), "");
        let job = client.state.take_auth_job().expect("a job to run");
        assert!(client.state.take_auth_job().is_none(), "handed out once");
        let done = client.state.finish_connect(job.run(), clock.now());
        client.state.end_batch();
        assert_eq!(client.output(), reply);
        assert_eq!(done.is_ok(), password == "hunter2");
    }
}
