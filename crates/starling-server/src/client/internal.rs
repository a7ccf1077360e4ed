//! A client inside the broker: the system account's services subscribe and
//! publish through a [`ClientState`] of their own, so their messages take
//! the path every client's do (permissions aside: it has none), and what
//! is delivered to them arrives as `MSG`/`HMSG` bytes on their [`Link`],
//! which they read back as a socket writer would.
//!
//! It speaks the protocol in memory: each operation is encoded and handed
//! to a parser without a payload limit (a `/connz` answer may pass
//! `max_payload`, as nats-server's internal messages may).

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use starling_auth::ConnectionKind;
use starling_proto::{ClientParser, ParserLimits};

use super::state::{ClientState, Time};
use crate::account::{Account, Subscriber};
use crate::broker::Broker;
use crate::link::Link;

/// An internal client bound to one account.
pub(crate) struct InternalClient {
    state: Box<ClientState>,
    parser: ClientParser,
    ops: BytesMut,
    /// Where deliveries to its subscriptions arrive.
    pub(crate) link: Arc<Link>,
}

impl InternalClient {
    /// A client of `account`, authenticated already, that takes headers
    /// and does not hear its own messages. Its link is not in the registry
    /// (monitoring does not list it, as nats-server does not list its
    /// internal clients).
    pub(crate) fn new(broker: Arc<Broker>, account: Arc<Account>) -> Self {
        let link = Arc::new(Link::new(0, broker.options.max_pending));
        let me = Arc::new(Subscriber::new(Arc::clone(&link)));
        me.set_headers(true);
        let mut state = Box::new(ClientState::bound(
            broker,
            me,
            ConnectionKind::Standard,
            account,
            true,
            Time::now(),
        ));
        // nats-server maps clients' and leafs' messages, not its own.
        state.mapper.off = true;
        Self {
            state,
            parser: ClientParser::new(ParserLimits {
                max_control_line: usize::MAX,
                max_payload: usize::MAX,
            }),
            ops: BytesMut::new(),
            link,
        }
    }

    /// Subscribes to `subject` under `sid`, in `queue` if given.
    pub(crate) fn subscribe(&mut self, subject: &str, queue: Option<&str>, sid: usize) {
        self.ops.put_slice(b"SUB ");
        self.ops.put_slice(subject.as_bytes());
        if let Some(queue) = queue {
            self.ops.put_slice(b" ");
            self.ops.put_slice(queue.as_bytes());
        }
        self.ops.put_slice(format!(" {sid}\r\n").as_bytes());
        self.run();
    }

    /// Removes the subscription `sid`.
    pub(crate) fn unsubscribe(&mut self, sid: usize) {
        self.ops.put_slice(format!("UNSUB {sid}\r\n").as_bytes());
        self.run();
    }

    /// Publishes `payload` on `subject`, with `headers` (a whole header
    /// block, `NATS/1.0` line and blank line included) if any.
    pub(crate) fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) {
        let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
        let line = match headers {
            Some(headers) => format!(
                "HPUB {subject}{reply} {} {}\r\n",
                headers.len(),
                headers.len() + payload.len()
            ),
            None => format!("PUB {subject}{reply} {}\r\n", payload.len()),
        };
        self.ops.put_slice(line.as_bytes());
        self.ops.put_slice(headers.unwrap_or_default());
        self.ops.put_slice(payload);
        self.ops.put_slice(b"\r\n");
        self.run();
    }

    /// Hands the encoded operations to the state machine, then ends the
    /// batch (wakes the receivers' writers).
    fn run(&mut self) {
        let now = Time::now();
        // With `trace_verbose` and `-V` as they are now (a reload changes
        // both), its operations are traced, payloads cut at
        // `max_traced_msg_len`.
        let live = &self.state.broker.live;
        let trace = (live.trace_verbose() && tracing::enabled!(tracing::Level::TRACE))
            .then(|| live.max_traced_msg_len());
        while let Ok(Some(op)) = self.parser.decode(&mut self.ops) {
            if let Some(max_traced) = trace {
                super::trace::trace_op(self.link.cid, &op, max_traced);
            }
            if let Err(reason) = self.state.handle(op, now) {
                tracing::debug!("system client operation refused: {}", reason.as_str());
            }
        }
        // Only a subject the client itself built badly leaves bytes here.
        self.ops.clear();
        self.state.end_batch();
        // The system client never waits for a backlogged receiver (a slow
        // requester is cut off past max_pending like any slow consumer).
        drop(self.state.take_backlog());
    }
}
