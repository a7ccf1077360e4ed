//! The leaf-node protocol between two servers, as nats-server 2.9.10
//! speaks it (`leafnode.md` §2–3): `INFO`, `CONNECT`, `LS+`/`LS-`
//! (interest, with queue weights), `LMSG`/`HMSG` (messages, with the queue
//! groups the receiver must serve), `PING`, `PONG`, `+OK`, `-ERR`.
//!
//! The same parser reads routes (`cluster.md` §4–5) with
//! [`LeafParser::for_route`]: there `RS+`/`RS-`/`RMSG`/`HMSG` name the
//! account first, `LS+`/`LMSG` the origin cluster too (read and set
//! aside), and `A+`/`A-` are read and ignored; [`crate::route`] writes
//! the route lines.
//!
//! [`LeafParser`] works like the client parser: incremental, zero-copy,
//! operation names in any case, runs of spaces and tabs between arguments,
//! and the same result whatever byte the input is split at. The encoders
//! write the lines nats-server writes.
//!
//! ```
//! use bytes::BytesMut;
//! use starling_proto::leaf::{LeafOp, LeafParser, encode_lmsg};
//! use starling_proto::ParserLimits;
//!
//! let mut parser = LeafParser::new(ParserLimits::default());
//! let mut input = BytesMut::from(&b"LS+ orders.* q1 2\r\nLMSG orders.new | q1 2\r\nhi\r\n"[..]);
//! let Some(LeafOp::Sub(sub)) = parser.decode(&mut input)? else { panic!() };
//! assert_eq!((&sub.subject[..], sub.weight), (&b"orders.*"[..], 2));
//! let Some(LeafOp::Msg(msg)) = parser.decode(&mut input)? else { panic!() };
//! assert_eq!(msg.queues().collect::<Vec<_>>(), [&b"q1"[..]]);
//!
//! let mut out = Vec::new();
//! encode_lmsg(&mut out, msg.subject(), msg.reply(), &[&b"q1"[..]], msg.headers(), msg.payload());
//! assert_eq!(out, b"LMSG orders.new | q1 2\r\nhi\r\n");
//! # Ok::<(), starling_proto::ProtoError>(())
//! ```

use bytes::{Buf, Bytes, BytesMut};

use crate::op::Span;
use crate::parser::{
    Classified, classify_with, find_line, is_blank, parse_size, range, skip_blanks, span,
};
use crate::{ParserLimits, ProtoError};

mod encode;
mod message;

pub(crate) use encode::encode_message;
pub use encode::{encode_lmsg, encode_sub, encode_unsub};
pub use message::{LeafMessage, LeafSub, LeafUnsub};

/// One complete operation from a leaf connection's (or a route's) peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeafOp {
    /// `INFO <json>`.
    Info(Bytes),
    /// `CONNECT <json>`.
    Connect(Bytes),
    /// `LS+` (`RS+`): the peer is interested in a subject (with a queue
    /// group and its weight, the number of members behind it).
    Sub(LeafSub),
    /// `LS-` (`RS-`): the peer lost its interest.
    Unsub(LeafUnsub),
    /// `LMSG` or `HMSG` (`RMSG`).
    Msg(LeafMessage),
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `+OK`.
    Ok,
    /// `-ERR <text>`.
    Err(Bytes),
    /// A route's `A+`/`A-` (gateway interest): read, nothing to do.
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Info,
    Connect,
    Sub,
    /// A route's `LS+ <origin> <account> ...`.
    OriginSub,
    Unsub,
    /// `LMSG` (on a route: with an origin and a header size).
    Lmsg,
    Hmsg,
    /// A route's `RMSG`.
    Rmsg,
    Account,
    Ping,
    Pong,
    Ok,
    Err,
}

const LEAF_OPS: [(&[u8], Name, bool); 10] = [
    (b"LMSG", Name::Lmsg, true),
    (b"HMSG", Name::Hmsg, true),
    (b"LS+", Name::Sub, true),
    (b"LS-", Name::Unsub, true),
    (b"PING", Name::Ping, false),
    (b"PONG", Name::Pong, false),
    (b"INFO", Name::Info, false),
    (b"CONNECT", Name::Connect, false),
    (b"+OK", Name::Ok, false),
    (b"-ERR", Name::Err, true),
];

const ROUTE_OPS: [(&[u8], Name, bool); 15] = [
    (b"RMSG", Name::Rmsg, true),
    (b"HMSG", Name::Hmsg, true),
    (b"RS+", Name::Sub, true),
    (b"RS-", Name::Unsub, true),
    (b"LMSG", Name::Lmsg, true),
    (b"LS+", Name::OriginSub, true),
    (b"LS-", Name::Unsub, true),
    (b"A+", Name::Account, true),
    (b"A-", Name::Account, true),
    (b"PING", Name::Ping, false),
    (b"PONG", Name::Pong, false),
    (b"INFO", Name::Info, false),
    (b"CONNECT", Name::Connect, false),
    (b"+OK", Name::Ok, false),
    (b"-ERR", Name::Err, true),
];

/// A message whose line is parsed and whose payload is incomplete.
#[derive(Debug, Clone)]
struct Pending {
    line_len: usize,
    total: usize,
    origin: Option<Span>,
    account: Option<Span>,
    subject: Span,
    reply: Option<Span>,
    queues: Vec<Span>,
    header_token: Option<Span>,
    size_token: Span,
    header_len: u32,
}

/// Turns a leaf connection's (or a route's) byte stream into [`LeafOp`]s
/// (see the client parser for how to drive it).
#[derive(Debug, Clone)]
pub struct LeafParser {
    limits: ParserLimits,
    route: bool,
    scanned: usize,
    pending: Option<Pending>,
}

impl LeafParser {
    /// A parser enforcing `limits` (`max_payload` bounds messages).
    pub fn new(limits: ParserLimits) -> Self {
        Self {
            limits,
            route: false,
            scanned: 0,
            pending: None,
        }
    }

    /// A parser of a route's lines, where every interest line and message
    /// names its account (nats-server sets no payload limit on routes:
    /// give a large one).
    pub fn for_route(limits: ParserLimits) -> Self {
        Self {
            route: true,
            ..Self::new(limits)
        }
    }

    /// Splits the next complete operation off the front of `buf`;
    /// `Ok(None)` means more bytes are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<LeafOp>, ProtoError> {
        if let Some(pending) = self.pending.take() {
            return self.finish(buf, pending);
        }
        if buf.is_empty() {
            return Ok(None);
        }
        let table: &[(&[u8], Name, bool)] = if self.route { &ROUTE_OPS } else { &LEAF_OPS };
        let (name, name_len) = match classify_with(buf, table) {
            Classified::Op(name, len) => (name, len),
            Classified::NeedMore => return Ok(None),
            Classified::Unknown => return Err(ProtoError::UnknownOperation),
        };
        let Some((line_end, line_len)) = find_line(
            buf,
            name_len,
            &mut self.scanned,
            self.limits.max_control_line,
        )?
        else {
            return Ok(None);
        };
        match name {
            Name::Ping => Ok(Some(consume(buf, line_len, LeafOp::Ping))),
            Name::Pong => Ok(Some(consume(buf, line_len, LeafOp::Pong))),
            Name::Ok => Ok(Some(consume(buf, line_len, LeafOp::Ok))),
            Name::Account => Ok(Some(consume(buf, line_len, LeafOp::Ignored))),
            Name::Info | Name::Connect | Name::Err => {
                let start = skip_blanks(buf, name_len, line_end);
                // nats-server writes `INFO {...} \r\n`: the trailing blanks go.
                let mut end = line_end;
                while end > start && is_blank(buf[end - 1]) {
                    end -= 1;
                }
                let frame = buf.split_to(line_len).freeze();
                let text = frame.slice(start..end);
                Ok(Some(match name {
                    Name::Info => LeafOp::Info(text),
                    Name::Connect => LeafOp::Connect(text),
                    _ => LeafOp::Err(text),
                }))
            }
            Name::Sub | Name::OriginSub => {
                let what = if self.route { "RS+" } else { "LS+" };
                // Before the subject: the account on routes, and the
                // origin cluster before it in a route's LS+.
                let leading = usize::from(self.route) + usize::from(name == Name::OriginSub);
                let args = split(buf, name_len, line_end);
                let frame = buf.split_to(line_len).freeze();
                let arg = |i: usize| frame.slice(range(&args[i]));
                let (queue, weight) = match args.len().checked_sub(leading) {
                    Some(1) => (None, 1),
                    Some(3) => {
                        // nats-server takes any weight (a bad one reads
                        // as -1) and keeps the member: here at least 1.
                        let weight = parse_size(&frame[range(&args[leading + 2])])
                            .and_then(|w| u32::try_from(w).ok())
                            .map_or(1, |w| w.max(1));
                        (Some(arg(leading + 1)), weight)
                    }
                    _ => return Err(ProtoError::WrongArgumentCount(what)),
                };
                Ok(Some(LeafOp::Sub(LeafSub {
                    origin: (name == Name::OriginSub).then(|| arg(0)),
                    account: self.route.then(|| arg(leading - 1)),
                    subject: arg(leading),
                    queue,
                    weight,
                })))
            }
            Name::Unsub => {
                let args = split(buf, name_len, line_end);
                let frame = buf.split_to(line_len).freeze();
                let arg = |i: usize| frame.slice(range(&args[i]));
                if self.route {
                    let (subject, queue) = match args.len() {
                        2 => (arg(1), None),
                        3 => (arg(1), Some(arg(2))),
                        _ => return Err(ProtoError::WrongArgumentCount("RS-")),
                    };
                    return Ok(Some(LeafOp::Unsub(LeafUnsub {
                        account: Some(arg(0)),
                        subject,
                        queue,
                    })));
                }
                // nats-server looks the whole argument up as a key and
                // ignores what it does not know: no arguments, or too
                // many, name no interest (an empty subject).
                let (subject, queue) = match args.len() {
                    1 => (arg(0), None),
                    2 => (arg(0), Some(arg(1))),
                    _ => (Bytes::new(), None),
                };
                Ok(Some(LeafOp::Unsub(LeafUnsub {
                    account: None,
                    subject,
                    queue,
                })))
            }
            Name::Lmsg | Name::Hmsg | Name::Rmsg => {
                let pending = self.message_line(buf, name, name_len, (line_end, line_len))?;
                self.finish(buf, pending)
            }
        }
    }

    /// The line of a message: its account and subject, reply and queue
    /// groups, sizes.
    fn message_line(
        &self,
        buf: &[u8],
        name: Name,
        name_len: usize,
        (line_end, line_len): (usize, usize),
    ) -> Result<Pending, ProtoError> {
        let what = match name {
            Name::Hmsg => "HMSG",
            Name::Rmsg => "RMSG",
            _ => "LMSG",
        };
        // A route's LMSG has an origin, then an account, and always
        // carries a header size.
        let (leading, sizes) = match (self.route, name) {
            (false, Name::Hmsg) => (0, 2),
            (false, _) => (0, 1),
            (true, Name::Lmsg) => (2, 2),
            (true, Name::Hmsg) => (1, 2),
            (true, _) => (1, 1),
        };
        let args = split(buf, name_len, line_end);
        if args.len() < leading + 1 + sizes {
            return Err(ProtoError::WrongArgumentCount(what));
        }
        let size_of = |s: &Span| parse_size(&buf[range(s)]).ok_or(ProtoError::BadSize(what));
        let total = size_of(&args[args.len() - 1])?;
        let header_len = if sizes == 2 {
            size_of(&args[args.len() - 2])?
        } else {
            0
        };
        if header_len > total {
            return Err(ProtoError::HeaderSizeExceedsTotal);
        }
        if total > self.limits.max_payload {
            return Err(ProtoError::MaxPayloadExceeded);
        }
        let middle = &args[leading + 1..args.len() - sizes];
        let (reply, queues) = match middle {
            [] => (None, Vec::new()),
            [reply] => (Some(reply.clone()), Vec::new()),
            [marker, rest @ ..] => match (&buf[range(marker)], rest) {
                (b"+", [reply, queues @ ..]) if !queues.is_empty() => {
                    (Some(reply.clone()), queues.to_vec())
                }
                (b"|", queues) => (None, queues.to_vec()),
                _ => return Err(ProtoError::BadReplyIndicator),
            },
        };
        // A header size of 0 (a route's LMSG without headers) is none.
        let header_token = (sizes == 2 && (header_len > 0 || name == Name::Hmsg))
            .then(|| args[args.len() - 2].clone());
        Ok(Pending {
            line_len,
            total,
            origin: (leading > 1).then(|| args[0].clone()),
            account: (leading > 0).then(|| args[leading - 1].clone()),
            subject: args[leading].clone(),
            reply,
            queues,
            header_token,
            size_token: args[args.len() - 1].clone(),
            header_len: header_len as u32,
        })
    }

    fn finish(&mut self, buf: &mut BytesMut, p: Pending) -> Result<Option<LeafOp>, ProtoError> {
        let message_end = p.line_len + p.total;
        let frame_len = message_end + 2;
        if buf.len() < frame_len {
            self.pending = Some(p);
            return Ok(None);
        }
        if &buf[message_end..frame_len] != b"\r\n" {
            return Err(ProtoError::MissingPayloadTerminator);
        }
        let frame = buf.split_to(frame_len).freeze();
        Ok(Some(LeafOp::Msg(LeafMessage {
            frame,
            origin: p.origin,
            account: p.account,
            subject: p.subject,
            reply: p.reply,
            queues: p.queues,
            header_token: p.header_token,
            size_token: p.size_token,
            header_len: p.header_len,
            message: span(p.line_len, message_end),
        })))
    }
}

fn consume(buf: &mut BytesMut, len: usize, op: LeafOp) -> LeafOp {
    buf.advance(len);
    op
}

/// The arguments of `buf[start..end]`, split at runs of spaces and tabs.
fn split(buf: &[u8], start: usize, end: usize) -> Vec<Span> {
    let mut args = Vec::new();
    let mut at = start;
    loop {
        at = skip_blanks(buf, at, end);
        if at == end {
            return args;
        }
        let arg_start = at;
        while at < end && !is_blank(buf[at]) {
            at += 1;
        }
        args.push(span(arg_start, at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> (Vec<LeafOp>, Option<ProtoError>) {
        let mut parser = LeafParser::new(ParserLimits {
            max_control_line: 128,
            max_payload: 64,
        });
        let mut buf = BytesMut::from(input);
        let mut ops = Vec::new();
        loop {
            match parser.decode(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => return (ops, None),
                Err(error) => return (ops, Some(error)),
            }
        }
    }

    fn message(op: &LeafOp) -> (String, Option<String>, Vec<String>, String, String) {
        let LeafOp::Msg(m) = op else {
            panic!("not a message: {op:?}")
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (
            text(m.subject()),
            m.reply().map(text),
            m.queues().map(text).collect(),
            text(m.headers()),
            text(m.payload()),
        )
    }

    #[test]
    fn the_lines_nats_server_writes() {
        let input = b"INFO {\"server_id\":\"N\"} \r\nLS+ foo\r\nLS+ bar.* q1 2\r\nls- bar.* q1\r\nLS-  baz.>\r\n\
LMSG foo 5\r\nhello\r\nLMSG foo rep.1 2\r\nhi\r\nHMSG foo 18 21\r\nNATS/1.0\r\nA: b\r\n\r\nhdr\r\n\
LMSG bar.x | q1 1\r\nq\r\nLMSG bar.x + rep.2 q1 q2 2\r\nqr\r\nLMSG baz.1.2 0\r\n\r\nPING\r\nPONG\r\n-ERR 'x'\r\n";
        let (ops, error) = parse(input);
        assert_eq!(error, None);
        assert_eq!(
            ops[0],
            LeafOp::Info(Bytes::from_static(b"{\"server_id\":\"N\"}"))
        );
        let LeafOp::Sub(sub) = &ops[2] else { panic!() };
        assert_eq!(
            (&sub.subject[..], sub.queue.as_deref(), sub.weight),
            (&b"bar.*"[..], Some(&b"q1"[..]), 2)
        );
        let LeafOp::Unsub(unsub) = &ops[4] else {
            panic!()
        };
        assert_eq!(
            (&unsub.subject[..], unsub.queue.as_deref()),
            (&b"baz.>"[..], None)
        );
        assert_eq!(
            message(&ops[5]),
            ("foo".into(), None, vec![], String::new(), "hello".into())
        );
        assert_eq!(message(&ops[6]).1.as_deref(), Some("rep.1"));
        assert_eq!(message(&ops[7]).3, "NATS/1.0\r\nA: b\r\n\r\n");
        assert_eq!(message(&ops[8]).2, vec!["q1".to_owned()]);
        let (_, reply, queues, _, payload) = message(&ops[9]);
        assert_eq!(
            (reply.as_deref(), queues, payload.as_str()),
            (Some("rep.2"), vec!["q1".into(), "q2".into()], "qr")
        );
        assert_eq!(message(&ops[10]).4, "");
        let LeafOp::Msg(hmsg) = &ops[7] else { panic!() };
        let publish = hmsg.to_publish();
        assert!(publish.is_hpub() && publish.has_headers());
        assert_eq!(
            (publish.size_token(), publish.payload()),
            (&b"21"[..], &b"hdr"[..])
        );
        assert_eq!(
            &ops[11..],
            [
                LeafOp::Ping,
                LeafOp::Pong,
                LeafOp::Err(Bytes::from_static(b"'x'"))
            ]
        );
    }

    #[test]
    fn malformed_lines_are_refused() {
        for (input, expected) in [
            (&b"LS+ a b\r\n"[..], ProtoError::WrongArgumentCount("LS+")),
            (b"LS+\r\n", ProtoError::UnknownOperation),
            (b"LMSG a\r\n", ProtoError::WrongArgumentCount("LMSG")),
            (b"LMSG a b c 1\r\nx\r\n", ProtoError::BadReplyIndicator),
            (b"LMSG a + r 1\r\nx\r\n", ProtoError::BadReplyIndicator),
            (b"LMSG a x\r\n", ProtoError::BadSize("LMSG")),
            (b"HMSG a 5 2\r\n", ProtoError::HeaderSizeExceedsTotal),
            (b"LMSG a 65\r\n", ProtoError::MaxPayloadExceeded),
            (b"LMSG a 1\r\nxy\r\n", ProtoError::MissingPayloadTerminator),
            (b"PUB a 1\r\nx\r\n", ProtoError::UnknownOperation),
        ] {
            assert_eq!(
                parse(input).1,
                Some(expected),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    fn parse_route(input: &[u8]) -> (Vec<LeafOp>, Option<ProtoError>) {
        let mut parser = LeafParser::for_route(ParserLimits {
            max_control_line: 4096,
            max_payload: 1 << 20,
        });
        let mut buf = BytesMut::from(input);
        let mut ops = Vec::new();
        loop {
            match parser.decode(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => return (ops, None),
                Err(error) => return (ops, Some(error)),
            }
        }
    }

    #[test]
    fn the_route_lines_nats_server_writes() {
        // cluster.md §4.2, §4.4, §5.1.
        let input = b"RS+ $G foo\r\nRS+ $G bar.* q1 2\r\nRS- $G foo\r\nRS- $G bar.* q1\r\n\
LS+ LEAF1 $G lq qq 1\r\nLS-  $G lsub\r\nA+ ACC\r\n\
RMSG $G foo 5\r\nhello\r\nRMSG $G foo rep.1 2\r\nhi\r\nHMSG $G foo 18 21\r\nNATS/1.0\r\nA: b\r\n\r\nhdr\r\n\
RMSG $G bar.x | q1 1\r\nq\r\nHMSG $G bar.y + rep.3 q1 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nqh\r\n\
LMSG LEAF1 $G lpub.x 0 5\r\nhello\r\n";
        let (ops, error) = parse_route(input);
        assert_eq!(error, None);
        let LeafOp::Sub(sub) = &ops[1] else { panic!() };
        assert_eq!(
            (
                sub.account.as_deref(),
                &sub.subject[..],
                sub.queue.as_deref(),
                sub.weight
            ),
            (Some(&b"$G"[..]), &b"bar.*"[..], Some(&b"q1"[..]), 2)
        );
        assert_eq!(sub.origin, None);
        let LeafOp::Sub(sub) = &ops[4] else { panic!() };
        assert_eq!(
            (
                sub.origin.as_deref(),
                sub.account.as_deref(),
                &sub.subject[..]
            ),
            (Some(&b"LEAF1"[..]), Some(&b"$G"[..]), &b"lq"[..])
        );
        let LeafOp::Unsub(unsub) = &ops[5] else {
            panic!()
        };
        assert_eq!(
            (&unsub.subject[..], unsub.queue.as_deref()),
            (&b"lsub"[..], None)
        );
        assert_eq!(ops[6], LeafOp::Ignored);
        assert_eq!(
            message(&ops[7]),
            ("foo".into(), None, vec![], String::new(), "hello".into())
        );
        let LeafOp::Msg(m) = &ops[7] else { panic!() };
        assert_eq!(m.account(), Some(&b"$G"[..]));
        assert_eq!(message(&ops[8]).1.as_deref(), Some("rep.1"));
        assert_eq!(message(&ops[9]).3, "NATS/1.0\r\nA: b\r\n\r\n");
        assert_eq!(message(&ops[10]).2, vec!["q1".to_owned()]);
        let (_, reply, queues, headers, payload) = message(&ops[11]);
        assert_eq!(
            (reply.as_deref(), queues, headers.len(), payload.as_str()),
            (Some("rep.3"), vec!["q1".to_owned()], 18, "qh")
        );
        let LeafOp::Msg(lmsg) = &ops[12] else {
            panic!()
        };
        assert!(
            !lmsg.to_publish().is_hpub(),
            "a header size of 0 is no header"
        );
        assert_eq!(
            (lmsg.origin(), lmsg.account(), lmsg.payload()),
            (Some(&b"LEAF1"[..]), Some(&b"$G"[..]), &b"hello"[..])
        );
        assert_eq!(m.origin(), None);
        for (input, expected) in [
            (&b"RS+ $G\r\n"[..], ProtoError::WrongArgumentCount("RS+")),
            (b"RS+ $G a q\r\n", ProtoError::WrongArgumentCount("RS+")),
            (b"RS- $G\r\n", ProtoError::WrongArgumentCount("RS-")),
            (b"RMSG $G 5\r\n", ProtoError::WrongArgumentCount("RMSG")),
            (b"RMSG $G a b c 1\r\nx\r\n", ProtoError::BadReplyIndicator),
            (b"LS+ $G a\r\n", ProtoError::WrongArgumentCount("RS+")),
        ] {
            assert_eq!(
                parse_route(input).1,
                Some(expected),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn what_nats_server_lets_through_passes() {
        // Any queue weight (a bad one counts as 1 here) and an LS- of no
        // known key (nothing, or too much) keep the link up.
        let (ops, error) = parse(b"LS+ a q 0\r\nLS+ a q x\r\nLS+ a q -1\r\nLS- \r\nLS- a b c\r\n");
        assert_eq!(error, None);
        let weights: Vec<u32> = ops
            .iter()
            .filter_map(|op| match op {
                LeafOp::Sub(sub) => Some(sub.weight),
                _ => None,
            })
            .collect();
        assert_eq!(weights, [1, 1, 1]);
        for op in &ops[3..] {
            let LeafOp::Unsub(unsub) = op else {
                panic!("{op:?}")
            };
            assert!(unsub.subject.is_empty() && unsub.queue.is_none());
        }
    }

    #[test]
    fn encoders_write_what_the_parser_reads() {
        let mut out = Vec::new();
        encode_sub(&mut out, b"foo", None);
        encode_sub(&mut out, b"bar.*", Some((b"q1", 3)));
        encode_unsub(&mut out, b"bar.*", Some(b"q1"));
        encode_lmsg(&mut out, b"a", Some(b"r"), &[b"q1", b"q2"], b"", b"xy");
        encode_lmsg(&mut out, b"a", None, &[b"q1"], b"NATS/1.0\r\n\r\n", b"z");
        encode_lmsg(&mut out, b"a", Some(b"r"), &[], b"", b"");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "LS+ foo\r\nLS+ bar.* q1 3\r\nLS- bar.* q1\r\nLMSG a + r q1 q2 2\r\nxy\r\n\
HMSG a | q1 12 13\r\nNATS/1.0\r\n\r\nz\r\nLMSG a r 0\r\n\r\n"
        );
        let (ops, error) = parse(&out);
        assert_eq!((ops.len(), error), (6, None));
    }
}
