//! The client state machine with a fake clock: operations and time in,
//! bytes on links and close reasons out. No sockets, no sleeps, no tokio
//! runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use starling_auth::ConnectionKind;
use starling_proto::{ClientParser, ParserLimits};

use super::{ClientState, Time};
use crate::account::Subscriber;
use crate::broker::Broker;
use crate::link::{CloseReason, Link};
use crate::{ServerOptions, options_from_config};

/// Unix seconds at the fake clock's start.
const UNIX_START: i64 = 1_795_519_000;

/// A fake clock every client of one test shares.
#[derive(Clone, Copy)]
struct Clock {
    start: Instant,
    elapsed: Duration,
}

impl Clock {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            elapsed: Duration::ZERO,
        }
    }

    fn now(self) -> Time {
        Time {
            instant: self.start + self.elapsed,
            unix: UNIX_START + self.elapsed.as_secs() as i64,
        }
    }
}

/// One client: its state machine, the link its replies go to, and a parser
/// for what the test sends.
struct Client {
    state: ClientState,
    link: Arc<Link>,
    parser: ClientParser,
    closed: Option<CloseReason>,
}

fn broker(options: ServerOptions) -> Arc<Broker> {
    Arc::new(Broker::new(options, 4222))
}

fn broker_from(config: &str) -> Arc<Broker> {
    let root = starling_conf::parse_str(config).expect("config parses");
    let options = options_from_config(&root).expect("config is valid");
    broker(options.server)
}

impl Client {
    fn new(broker: &Arc<Broker>, clock: Clock) -> Self {
        Self::with_nonce(broker, clock, "")
    }

    fn with_nonce(broker: &Arc<Broker>, clock: Clock, nonce: &str) -> Self {
        let link = Arc::new(Link::new(broker.task().0, broker.options.max_pending));
        let me = Arc::new(Subscriber::new(Arc::clone(&link)));
        let state = ClientState::new(
            Arc::clone(broker),
            me,
            ConnectionKind::Standard,
            Vec::new(),
            nonce.to_owned(),
            clock.now(),
        );
        Self {
            state,
            link,
            parser: ClientParser::new(ParserLimits::default()),
            closed: None,
        }
    }

    /// Sends `bytes` as one batch at the clock's time.
    fn send(&mut self, clock: Clock, bytes: &str) -> &mut Self {
        let mut buf = BytesMut::from(bytes);
        while self.closed.is_none() {
            match self.parser.decode(&mut buf) {
                Ok(Some(op)) => {
                    if let Err(reason) = self.state.handle(op, clock.now()) {
                        self.closed = Some(reason);
                    }
                }
                Ok(None) => break,
                Err(error) => self.closed = Some(self.state.handle_parse_error(error)),
            }
        }
        self.state.end_batch();
        self
    }

    /// Lets the clock reach `clock`: runs the timeout if it is due.
    fn tick(&mut self, clock: Clock) -> &mut Self {
        if self.closed.is_none() && clock.now().instant >= self.state.poll_timeout() {
            if let Err(reason) = self.state.handle_timeout(clock.now()) {
                self.closed = Some(reason);
            }
            self.state.end_batch();
        }
        self
    }

    /// Everything queued for this client since the last call.
    fn output(&self) -> String {
        let mut out = BytesMut::new();
        self.link.take_outbound(&mut out);
        self.link.written();
        String::from_utf8_lossy(&out).into_owned()
    }
}

const CONNECT: &str = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

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
fn a_slow_consumer_is_cut_off_and_its_publisher_goes_on() {
    let clock = Clock::new();
    let broker = broker(ServerOptions {
        max_pending: 4096,
        max_payload: 1024,
        ..ServerOptions::default()
    });
    let mut slow = Client::new(&broker, clock);
    let mut healthy = Client::new(&broker, clock);
    let mut publisher = Client::new(&broker, clock);
    slow.send(clock, CONNECT).send(clock, "SUB foo 1\r\n");
    healthy.send(clock, CONNECT).send(clock, "SUB foo 1\r\n");
    publisher.send(clock, CONNECT);
    let message = format!("PUB foo 1000\r\n{}\r\n", "x".repeat(1000));
    for round in 0..10 {
        publisher.send(clock, &message);
        // The healthy subscriber's writer keeps up; the slow one's never runs.
        assert!(
            healthy.output().starts_with("MSG foo 1 1000\r\n"),
            "round {round}"
        );
    }
    assert_eq!(
        slow.link.close_reason(),
        Some(CloseReason::SlowConsumerPendingBytes)
    );
    assert_eq!(publisher.closed, None);
    assert_eq!(publisher.output(), "");
}

#[test]
fn permissions_refuse_publish_and_subscribe_with_nats_servers_texts() {
    let clock = Clock::new();
    let broker = broker_from(
        "authorization { users: [ { user: a, password: b, permissions: { publish: \"foo.>\", subscribe: { deny: \"secret\" } } } ] }",
    );
    let mut client = Client::new(&broker, clock);
    client.send(
        clock,
        "CONNECT {\"user\":\"a\",\"pass\":\"b\",\"verbose\":false}\r\n",
    );
    client.output();
    client.send(
        clock,
        "PUB bar 0\r\n\r\nSUB secret 1\r\nSUB foo.* q 2\r\nPUB foo.x 0\r\n\r\n",
    );
    assert_eq!(
        client.output(),
        "-ERR 'Permissions Violation for Publish to \"bar\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"secret\"'\r\n\
         MSG foo.x 2 0\r\n\r\n"
    );
    assert_eq!(client.closed, None);
}

#[test]
fn echo_off_skips_the_publishers_own_subscriptions() {
    let clock = Clock::new();
    let broker = broker(ServerOptions::default());
    let mut quiet = Client::new(&broker, clock);
    let mut other = Client::new(&broker, clock);
    quiet.send(
        clock,
        "CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\n",
    );
    other.send(clock, CONNECT).send(clock, "SUB foo 9\r\n");
    quiet.send(clock, "PUB foo 2\r\nhi\r\n");
    assert_eq!(quiet.output(), "");
    assert_eq!(other.output(), "MSG foo 9 2\r\nhi\r\n");
    other.send(clock, "PUB foo 2\r\nyo\r\n");
    assert_eq!(quiet.output(), "MSG foo 1 2\r\nyo\r\n");
}

#[test]
fn unsub_with_a_maximum_stops_after_that_many() {
    let clock = Clock::new();
    let broker = broker(ServerOptions::default());
    let mut client = Client::new(&broker, clock);
    client
        .send(clock, CONNECT)
        .send(clock, "SUB foo 1\r\nUNSUB 1 2\r\n");
    for _ in 0..4 {
        client.send(clock, "PUB foo 1\r\nx\r\n");
    }
    assert_eq!(client.output(), "MSG foo 1 1\r\nx\r\n".repeat(2));
    assert_eq!(client.state.me.subscription_count(), 0);
}

#[test]
fn verbose_and_pedantic_are_nats_servers_defaults_until_connect() {
    let clock = Clock::new();
    let broker = broker(ServerOptions::default());
    let mut client = Client::new(&broker, clock);
    client.send(clock, "SUB foo 1\r\nPUB foo.*.bar 0\r\n\r\n");
    assert_eq!(
        client.output(),
        "+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\n"
    );
    client
        .send(clock, CONNECT)
        .send(clock, "PUB foo.*.bar 0\r\n\r\nPING\r\n");
    assert_eq!(client.output(), "PONG\r\n");
}
