//! The client state machine with a fake clock: operations and time in,
//! bytes on links and close reasons out. No sockets, no sleeps, no tokio
//! runtime. This file is the harness; the tests are in `timers.rs`
//! (pings, deadlines, credentials) and `operations.rs` (delivery and its
//! rules).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use starling_auth::ConnectionKind;
use starling_proto::{ClientParser, ParserLimits};

mod operations;
mod timers;

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
