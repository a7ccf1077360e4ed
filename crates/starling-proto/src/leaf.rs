//! The leaf-node protocol between two servers, as nats-server 2.9.10
//! speaks it (`leafnode.md` §2–3): `INFO`, `CONNECT`, `LS+`/`LS-`
//! (interest, with queue weights), `LMSG`/`HMSG` (messages, with the queue
//! groups the receiver must serve), `PING`, `PONG`, `+OK`, `-ERR`.
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

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::op::{Publish, Span};
use crate::parser::{
    Classified, classify_with, find_line, is_blank, parse_size, range, skip_blanks, span,
};
use crate::{ParserLimits, ProtoError};

/// One complete operation from a leaf connection's peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeafOp {
    /// `INFO <json>`.
    Info(Bytes),
    /// `CONNECT <json>`.
    Connect(Bytes),
    /// `LS+`: the peer is interested in a subject (with a queue group and
    /// its weight, the number of members behind it).
    Sub(LeafSub),
    /// `LS-`: the peer lost its interest.
    Unsub(LeafUnsub),
    /// `LMSG` or `HMSG`.
    Msg(LeafMessage),
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `+OK`.
    Ok,
    /// `-ERR <text>`.
    Err(Bytes),
}

/// `LS+ <subject> [<queue> <weight>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSub {
    /// The subject filter, as sent.
    pub subject: Bytes,
    /// The queue group, if any.
    pub queue: Option<Bytes>,
    /// The queue group's weight (1 for plain interest).
    pub weight: u32,
}

/// `LS- <subject> [<queue>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafUnsub {
    /// The subject filter.
    pub subject: Bytes,
    /// The queue group, if any.
    pub queue: Option<Bytes>,
}

/// An `LMSG` or `HMSG`: subject, reply, the queue groups the receiver must
/// serve, headers and payload.
#[derive(Clone, PartialEq, Eq)]
pub struct LeafMessage {
    frame: Bytes,
    subject: Span,
    reply: Option<Span>,
    queues: Vec<Span>,
    header_token: Option<Span>,
    size_token: Span,
    header_len: u32,
    message: Span,
}

impl LeafMessage {
    /// The subject.
    pub fn subject(&self) -> &[u8] {
        &self.frame[range(&self.subject)]
    }

    /// The subject as a shared slice of the read buffer.
    pub fn subject_bytes(&self) -> Bytes {
        self.frame.slice(range(&self.subject))
    }

    /// The reply subject, if any.
    pub fn reply(&self) -> Option<&[u8]> {
        self.reply.as_ref().map(|r| &self.frame[range(r)])
    }

    /// The queue groups named (the receiver delivers to one member of
    /// each, besides its plain subscribers).
    pub fn queues(&self) -> impl Iterator<Item = &[u8]> {
        self.queues.iter().map(|q| &self.frame[range(q)])
    }

    /// The queue groups named, as shared slices of the read buffer.
    pub fn queue_bytes(&self) -> impl Iterator<Item = Bytes> + '_ {
        self.queues.iter().map(|q| self.frame.slice(range(q)))
    }

    /// The message as a [`Publish`] of its subject, reply, headers and
    /// payload (sharing the read buffer, its size tokens as sent), so it
    /// takes the path a client's does.
    pub fn to_publish(&self) -> Publish {
        Publish {
            frame: self.frame.clone(),
            subject: self.subject.clone(),
            reply: self.reply.clone(),
            header_token: self.header_token.clone(),
            size_token: self.size_token.clone(),
            message: self.message.clone(),
            header_len: self.header_len,
        }
    }

    /// Whether any queue group is named.
    pub fn has_queues(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Headers and payload together.
    pub fn message(&self) -> &[u8] {
        &self.frame[range(&self.message)]
    }

    /// The header block (empty for `LMSG`).
    pub fn headers(&self) -> &[u8] {
        &self.message()[..self.header_len as usize]
    }

    /// The payload after the header block.
    pub fn payload(&self) -> &[u8] {
        &self.message()[self.header_len as usize..]
    }
}

impl std::fmt::Debug for LeafMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        f.debug_struct("LeafMessage")
            .field("subject", &text(self.subject()))
            .field("reply", &self.reply().map(text))
            .field("queues", &self.queues().map(text).collect::<Vec<_>>())
            .field("headers", &text(self.headers()))
            .field("payload", &text(self.payload()))
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Info,
    Connect,
    Sub,
    Unsub,
    Lmsg,
    Hmsg,
    Ping,
    Pong,
    Ok,
    Err,
}

const OPS: [(&[u8], Name, bool); 10] = [
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

/// A message whose line is parsed and whose payload is incomplete.
#[derive(Debug, Clone)]
struct Pending {
    line_len: usize,
    total: usize,
    subject: Span,
    reply: Option<Span>,
    queues: Vec<Span>,
    header_token: Option<Span>,
    size_token: Span,
    header_len: u32,
}

/// Turns a leaf connection's byte stream into [`LeafOp`]s (see the
/// client parser for how to drive it).
#[derive(Debug, Clone)]
pub struct LeafParser {
    limits: ParserLimits,
    scanned: usize,
    pending: Option<Pending>,
}

impl LeafParser {
    /// A parser enforcing `limits` (`max_payload` bounds messages).
    pub fn new(limits: ParserLimits) -> Self {
        Self {
            limits,
            scanned: 0,
            pending: None,
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
        let (name, name_len) = match classify_with(buf, &OPS) {
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
            Name::Sub | Name::Unsub => {
                let args = split(buf, name_len, line_end);
                let frame = buf.split_to(line_len).freeze();
                let arg = |i: usize| frame.slice(range(&args[i]));
                if name == Name::Sub {
                    let (queue, weight) = match args.len() {
                        1 => (None, 1),
                        3 => {
                            // nats-server takes any weight (a bad one reads
                            // as -1) and keeps the member: here at least 1.
                            let weight = parse_size(&frame[range(&args[2])])
                                .and_then(|w| u32::try_from(w).ok())
                                .map_or(1, |w| w.max(1));
                            (Some(arg(1)), weight)
                        }
                        _ => return Err(ProtoError::WrongArgumentCount("LS+")),
                    };
                    Ok(Some(LeafOp::Sub(LeafSub {
                        subject: arg(0),
                        queue,
                        weight,
                    })))
                } else {
                    // nats-server looks the whole argument up as a key
                    // and ignores what it does not know: no arguments, or
                    // too many, name no interest (an empty subject).
                    let (subject, queue) = match args.len() {
                        1 => (arg(0), None),
                        2 => (arg(0), Some(arg(1))),
                        _ => (Bytes::new(), None),
                    };
                    Ok(Some(LeafOp::Unsub(LeafUnsub { subject, queue })))
                }
            }
            Name::Lmsg | Name::Hmsg => {
                let headers = name == Name::Hmsg;
                let what = if headers { "HMSG" } else { "LMSG" };
                let args = split(buf, name_len, line_end);
                let sizes = if headers { 2 } else { 1 };
                if args.len() < 1 + sizes {
                    return Err(ProtoError::WrongArgumentCount(what));
                }
                let size_of =
                    |s: &Span| parse_size(&buf[range(s)]).ok_or(ProtoError::BadSize(what));
                let total = size_of(&args[args.len() - 1])?;
                let header_len = if headers {
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
                let middle = &args[1..args.len() - sizes];
                let (reply, queues) = match middle {
                    [] => (None, Vec::new()),
                    [reply] => (Some(reply.clone()), Vec::new()),
                    [marker, rest @ ..] => {
                        let marker = &buf[range(marker)];
                        match (marker, rest) {
                            (b"+", [reply, queues @ ..]) if !queues.is_empty() => {
                                (Some(reply.clone()), queues.to_vec())
                            }
                            (b"|", queues) => (None, queues.to_vec()),
                            _ => return Err(ProtoError::BadReplyIndicator),
                        }
                    }
                };
                let pending = Pending {
                    line_len,
                    total,
                    subject: args[0].clone(),
                    reply,
                    queues,
                    header_token: headers.then(|| args[args.len() - 2].clone()),
                    size_token: args[args.len() - 1].clone(),
                    header_len: header_len as u32,
                };
                self.finish(buf, pending)
            }
        }
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

/// `LS+ <subject>\r\n`, or with a queue group `LS+ <subject> <queue> <weight>\r\n`.
pub fn encode_sub<B: BufMut>(out: &mut B, subject: &[u8], queue: Option<(&[u8], u32)>) {
    out.put_slice(b"LS+ ");
    out.put_slice(subject);
    if let Some((queue, weight)) = queue {
        out.put_u8(b' ');
        out.put_slice(queue);
        out.put_u8(b' ');
        out.put_slice(weight.to_string().as_bytes());
    }
    out.put_slice(b"\r\n");
}

/// `LS- <subject> [<queue>]\r\n`.
pub fn encode_unsub<B: BufMut>(out: &mut B, subject: &[u8], queue: Option<&[u8]>) {
    out.put_slice(b"LS- ");
    out.put_slice(subject);
    if let Some(queue) = queue {
        out.put_u8(b' ');
        out.put_slice(queue);
    }
    out.put_slice(b"\r\n");
}

/// `LMSG`, or `HMSG` when `headers` is not empty, with the queue groups
/// the receiver must serve (`+ <reply> <queues>` or `| <queues>`).
pub fn encode_lmsg<B: BufMut>(
    out: &mut B,
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: &[&[u8]],
    headers: &[u8],
    payload: &[u8],
) {
    out.put_slice(if headers.is_empty() {
        b"LMSG "
    } else {
        b"HMSG "
    });
    out.put_slice(subject);
    match (reply, queues.is_empty()) {
        (Some(reply), true) => {
            out.put_u8(b' ');
            out.put_slice(reply);
        }
        (Some(reply), false) => {
            out.put_slice(b" + ");
            out.put_slice(reply);
        }
        (None, false) => out.put_slice(b" |"),
        (None, true) => {}
    }
    for queue in queues {
        out.put_u8(b' ');
        out.put_slice(queue);
    }
    out.put_u8(b' ');
    if !headers.is_empty() {
        out.put_slice(headers.len().to_string().as_bytes());
        out.put_u8(b' ');
    }
    out.put_slice((headers.len() + payload.len()).to_string().as_bytes());
    out.put_slice(b"\r\n");
    out.put_slice(headers);
    out.put_slice(payload);
    out.put_slice(b"\r\n");
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
