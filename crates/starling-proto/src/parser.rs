//! The incremental parser of client operations.
//!
//! It follows nats-server's parser rule for rule (operation names in any case,
//! spaces and tabs between arguments, a bare `\n` ending a line, payloads
//! skipped by their declared size and checked for a closing CRLF) but works a
//! line at a time with `memchr` instead of a byte at a time. It remembers how
//! far it scanned an unfinished line and which `PUB` is waiting for its
//! payload, so a split at any byte costs no rescanning and gives the same
//! operations as one read.

use bytes::{Buf, BytesMut};

use crate::ProtoError;
use crate::op::{ClientOp, Publish, Span, Subscribe, Unsubscribe};

/// The limits the parser enforces before it buffers anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserLimits {
    /// The longest argument line accepted (nats-server's `max_control_line`).
    pub max_control_line: usize,
    /// The largest `PUB`/`HPUB` size accepted, headers included (`max_payload`).
    pub max_payload: usize,
}

impl Default for ParserLimits {
    /// nats-server's defaults: 4 KB control lines, 1 MB payloads.
    fn default() -> Self {
        Self {
            max_control_line: 4096,
            max_payload: 1024 * 1024,
        }
    }
}

/// Turns a client's byte stream into [`ClientOp`]s.
///
/// Driving it: append what the socket gave to a `BytesMut`, then call
/// [`decode`](Self::decode) until it returns `Ok(None)` (it needs more bytes);
/// complete operations are split off the front of the buffer. An `Err` means
/// the connection is finished; [`ProtoError::reply`] says what to send first.
#[derive(Debug, Clone)]
pub struct ClientParser {
    limits: ParserLimits,
    /// How much of the current, unfinished line has been searched for `\n`.
    scanned: usize,
    /// A `PUB`/`HPUB` whose line is parsed and whose payload is incomplete.
    pending: Option<PendingPublish>,
}

#[derive(Debug, Clone)]
struct PendingPublish {
    /// Length of the argument line, `\n` included.
    line_len: usize,
    /// Declared total size (headers and payload).
    total: usize,
    subject: Span,
    reply: Option<Span>,
    header_token: Option<Span>,
    size_token: Span,
    header_len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpName {
    Connect,
    Info,
    Pub,
    Hpub,
    Sub,
    Unsub,
    Ping,
    Pong,
    Ok,
    Err,
}

/// The operation names, and whether each must be followed by a space or
/// tab (it takes arguments: `PUB`, `SUB`...) or by anything (`PING`, `PONG`,
/// `+OK` ignore the rest of the line; `CONNECT` and `INFO` take one
/// argument after optional blanks).
const OPS: [(&[u8], OpName, bool); 10] = [
    (b"PUB", OpName::Pub, true),
    (b"SUB", OpName::Sub, true),
    (b"PING", OpName::Ping, false),
    (b"PONG", OpName::Pong, false),
    (b"HPUB", OpName::Hpub, true),
    (b"UNSUB", OpName::Unsub, true),
    (b"CONNECT", OpName::Connect, false),
    (b"INFO", OpName::Info, false),
    (b"+OK", OpName::Ok, false),
    (b"-ERR", OpName::Err, true),
];

/// What the front of a buffer holds: an operation name (and its length),
/// not enough bytes to tell, or no known operation.
pub(crate) enum Classified<T> {
    Op(T, usize),
    NeedMore,
    Unknown,
}

/// Up to this many arguments are kept; one more means "too many".
const MAX_ARGS: usize = 4;

/// Spans are `u32`; lines and frames beyond this are refused outright.
pub(crate) const MAX_FRAME: usize = u32::MAX as usize / 2;

impl ClientParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: ParserLimits) -> Self {
        Self {
            limits,
            scanned: 0,
            pending: None,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> ParserLimits {
        self.limits
    }

    /// Changes the limits (for example `max_payload` after authentication).
    pub fn set_limits(&mut self, limits: ParserLimits) {
        self.limits = limits;
    }

    /// When a payload is being waited for, the total number of bytes the
    /// buffer must hold for the operation to complete; lets the caller
    /// reserve once instead of growing the buffer read by read.
    pub fn bytes_needed(&self) -> Option<usize> {
        self.pending.as_ref().map(|p| p.line_len + p.total + 2)
    }

    /// Splits the next complete operation off the front of `buf`.
    ///
    /// `Ok(None)` means more bytes are needed; what was already seen is
    /// remembered, so the next call does not rescan it.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, ProtoError> {
        if let Some(pending) = &self.pending {
            return self.finish_publish(buf, pending.clone());
        }
        if buf.is_empty() {
            return Ok(None);
        }
        let (name, name_len) = match classify(buf) {
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
            OpName::Ping => Ok(Some(consume(buf, line_len, ClientOp::Ping))),
            OpName::Pong => Ok(Some(consume(buf, line_len, ClientOp::Pong))),
            OpName::Ok => Ok(Some(consume(buf, line_len, ClientOp::Ok))),
            OpName::Connect | OpName::Info | OpName::Err => {
                let start = skip_blanks(buf, name_len, line_end);
                let frame = buf.split_to(line_len).freeze();
                let text = frame.slice(start..line_end);
                Ok(Some(match name {
                    OpName::Connect => ClientOp::Connect(text),
                    OpName::Info => ClientOp::Info(text),
                    _ => ClientOp::Err(text),
                }))
            }
            OpName::Sub => {
                let (args, count) = split_args(buf, name_len, line_end);
                let (subject, queue, sid) = match count {
                    2 => (args[0].clone(), None, args[1].clone()),
                    3 => (args[0].clone(), Some(args[1].clone()), args[2].clone()),
                    _ => return Err(ProtoError::WrongArgumentCount("SUB")),
                };
                let frame = buf.split_to(line_len).freeze();
                Ok(Some(ClientOp::Sub(Subscribe {
                    frame,
                    subject,
                    queue,
                    sid,
                })))
            }
            OpName::Unsub => {
                let (args, count) = split_args(buf, name_len, line_end);
                let max = match count {
                    1 => None,
                    // nats-server reads a limit that is not a number as "remove now".
                    2 => Some(parse_size(&buf[range(&args[1])]).map_or(0, |n| n as u64)),
                    _ => return Err(ProtoError::WrongArgumentCount("UNSUB")),
                };
                let sid = args[0].clone();
                let frame = buf.split_to(line_len).freeze();
                Ok(Some(ClientOp::Unsub(Unsubscribe { frame, sid, max })))
            }
            OpName::Pub => {
                let (args, count) = split_args(buf, name_len, line_end);
                let (subject, reply, size_token) = match count {
                    2 => (args[0].clone(), None, args[1].clone()),
                    3 => (args[0].clone(), Some(args[1].clone()), args[2].clone()),
                    _ => return Err(ProtoError::WrongArgumentCount("PUB")),
                };
                let total =
                    parse_size(&buf[range(&size_token)]).ok_or(ProtoError::BadSize("PUB"))?;
                if total > self.limits.max_payload {
                    return Err(ProtoError::MaxPayloadExceeded);
                }
                let pending = PendingPublish {
                    line_len,
                    total,
                    subject,
                    reply,
                    header_token: None,
                    size_token,
                    header_len: 0,
                };
                self.finish_publish(buf, pending)
            }
            OpName::Hpub => {
                let (args, count) = split_args(buf, name_len, line_end);
                let (subject, reply, header_token, size_token) = match count {
                    3 => (args[0].clone(), None, args[1].clone(), args[2].clone()),
                    4 => (
                        args[0].clone(),
                        Some(args[1].clone()),
                        args[2].clone(),
                        args[3].clone(),
                    ),
                    _ => return Err(ProtoError::WrongArgumentCount("HPUB")),
                };
                let header_len =
                    parse_size(&buf[range(&header_token)]).ok_or(ProtoError::BadSize("HPUB"))?;
                let total =
                    parse_size(&buf[range(&size_token)]).ok_or(ProtoError::BadSize("HPUB"))?;
                if header_len > total {
                    return Err(ProtoError::HeaderSizeExceedsTotal);
                }
                if total > self.limits.max_payload {
                    return Err(ProtoError::MaxPayloadExceeded);
                }
                let pending = PendingPublish {
                    line_len,
                    total,
                    subject,
                    reply,
                    header_token: Some(header_token),
                    size_token,
                    header_len: header_len as u32,
                };
                self.finish_publish(buf, pending)
            }
        }
    }

    fn finish_publish(
        &mut self,
        buf: &mut BytesMut,
        p: PendingPublish,
    ) -> Result<Option<ClientOp>, ProtoError> {
        let message_end = p.line_len + p.total;
        let frame_len = message_end + 2;
        if buf.len() < frame_len {
            self.pending = Some(p);
            return Ok(None);
        }
        self.pending = None;
        if &buf[message_end..frame_len] != b"\r\n" {
            return Err(ProtoError::MissingPayloadTerminator);
        }
        let frame = buf.split_to(frame_len).freeze();
        Ok(Some(ClientOp::Pub(Publish {
            frame,
            subject: p.subject,
            reply: p.reply,
            header_token: p.header_token,
            size_token: p.size_token,
            message: span(p.line_len, message_end),
            header_len: p.header_len,
        })))
    }
}

fn consume(buf: &mut BytesMut, len: usize, op: ClientOp) -> ClientOp {
    buf.advance(len);
    op
}

/// Recognises the operation name at the front of `buf`, case-insensitively.
fn classify(buf: &[u8]) -> Classified<OpName> {
    classify_with(buf, &OPS)
}

/// Recognises a name of `table` at the front of `buf`, case-insensitively;
/// the flag says the name must be followed by a space or tab (it takes
/// arguments), else anything may follow.
pub(crate) fn classify_with<T: Copy>(buf: &[u8], table: &[(&[u8], T, bool)]) -> Classified<T> {
    let mut need_more = false;
    for &(name, op, separated) in table {
        let n = name.len().min(buf.len());
        if !buf[..n].eq_ignore_ascii_case(&name[..n]) {
            continue;
        }
        if buf.len() < name.len() {
            need_more = true;
            continue;
        }
        if !separated {
            return Classified::Op(op, name.len());
        }
        match buf.get(name.len()) {
            None => return Classified::NeedMore,
            Some(b' ' | b'\t') => return Classified::Op(op, name.len()),
            Some(_) => return Classified::Unknown,
        }
    }
    if need_more {
        Classified::NeedMore
    } else {
        Classified::Unknown
    }
}

/// Finds the end of the operation line at the front of `buf` (whose name
/// is `name_len` bytes), resuming the search where `scanned` says the last
/// call stopped. `Ok(None)`: the line is not complete yet. Otherwise the
/// end of its arguments (before `\r\n` or `\n`) and the line's length.
pub(crate) fn find_line(
    buf: &[u8],
    name_len: usize,
    scanned: &mut usize,
    max_control_line: usize,
) -> Result<Option<(usize, usize)>, ProtoError> {
    let from = (*scanned).max(name_len);
    let Some(at) = memchr::memchr(b'\n', &buf[from..]) else {
        *scanned = buf.len();
        if buf.len() - name_len > max_control_line || buf.len() > MAX_FRAME {
            return Err(ProtoError::MaxControlLineExceeded);
        }
        return Ok(None);
    };
    *scanned = 0;
    let newline = from + at;
    let line_end = if newline > name_len && buf[newline - 1] == b'\r' {
        newline - 1
    } else {
        newline
    };
    if line_end - name_len > max_control_line || newline > MAX_FRAME {
        return Err(ProtoError::MaxControlLineExceeded);
    }
    Ok(Some((line_end, newline + 1)))
}

pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

pub(crate) fn skip_blanks(buf: &[u8], mut at: usize, end: usize) -> usize {
    while at < end && is_blank(buf[at]) {
        at += 1;
    }
    at
}

/// Splits `buf[start..end]` at runs of spaces and tabs. Returns the spans and
/// how many arguments there were (`MAX_ARGS + 1` meaning "too many").
fn split_args(buf: &[u8], start: usize, end: usize) -> ([Span; MAX_ARGS], usize) {
    let mut args: [Span; MAX_ARGS] = Default::default();
    let mut count = 0;
    let mut at = start;
    loop {
        at = skip_blanks(buf, at, end);
        if at == end {
            return (args, count);
        }
        let arg_start = at;
        while at < end && !is_blank(buf[at]) {
            at += 1;
        }
        if count == MAX_ARGS {
            return (args, MAX_ARGS + 1);
        }
        args[count] = span(arg_start, at);
        count += 1;
    }
}

/// nats-server's size rule: 1 to 9 ASCII digits.
pub(crate) fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))
    })
}

pub(crate) fn span(start: usize, end: usize) -> Span {
    // Callers bound every offset by MAX_FRAME first, so these fit.
    start as u32..end as u32
}

pub(crate) fn range(span: &Span) -> std::ops::Range<usize> {
    span.start as usize..span.end as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (Vec<ClientOp>, Option<ProtoError>) {
        let mut parser = ClientParser::new(ParserLimits {
            max_control_line: 64,
            max_payload: 32,
        });
        let mut buf = BytesMut::from(input);
        let mut ops = Vec::new();
        loop {
            match parser.decode(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => return (ops, None),
                Err(e) => return (ops, Some(e)),
            }
        }
    }

    fn check_err(input: &str, expected: ProtoError) {
        let (_, err) = parse_all(input.as_bytes());
        assert_eq!(err, Some(expected), "{input:?}");
    }

    fn pub_parts(op: &ClientOp) -> (String, Option<String>, String, String) {
        let ClientOp::Pub(p) = op else {
            panic!("not a PUB: {op:?}")
        };
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (
            s(p.subject()),
            p.reply().map(s),
            s(p.headers()),
            s(p.payload()),
        )
    }

    #[test]
    fn simple_ops_in_any_case() {
        let (ops, err) = parse_all(b"PING\r\npong\r\n+ok\r\nPiNgxyz\r\nPING\n");
        assert_eq!(err, None);
        assert_eq!(
            ops,
            vec![
                ClientOp::Ping,
                ClientOp::Pong,
                ClientOp::Ok,
                ClientOp::Ping,
                ClientOp::Ping
            ]
        );
    }

    #[test]
    fn connect_and_info() {
        let (ops, _) = parse_all(b"CONNECT {\"verbose\":false}\r\nconnect{}\r\nINFO \t{}\r\n");
        assert_eq!(ops[0], ClientOp::Connect("{\"verbose\":false}".into()));
        assert_eq!(ops[1], ClientOp::Connect("{}".into()));
        assert_eq!(ops[2], ClientOp::Info("{}".into()));
    }

    #[test]
    fn publishes() {
        let (ops, err) =
            parse_all(b"PUB foo 5\r\nhello\r\npub \t\tfoo\t bar  2  \r\nhi\r\nPUB a 0\r\n\r\n");
        assert_eq!(err, None);
        assert_eq!(
            pub_parts(&ops[0]),
            ("foo".into(), None, "".into(), "hello".into())
        );
        assert_eq!(
            pub_parts(&ops[1]),
            ("foo".into(), Some("bar".into()), "".into(), "hi".into())
        );
        assert_eq!(pub_parts(&ops[2]), ("a".into(), None, "".into(), "".into()));
    }

    #[test]
    fn payload_may_hold_crlf() {
        let (ops, err) = parse_all(b"PUB foo 4\r\n\r\n\r\n\r\n");
        assert_eq!(err, None);
        assert_eq!(pub_parts(&ops[0]).3, "\r\n\r\n");
    }

    #[test]
    fn size_token_is_kept_verbatim() {
        let (ops, _) = parse_all(b"PUB foo 05\r\nhello\r\n");
        let ClientOp::Pub(p) = &ops[0] else { panic!() };
        assert_eq!(p.size_token(), b"05");
    }

    #[test]
    fn header_publishes() {
        let (ops, err) =
            parse_all(b"HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nhpub foo 0 2\r\nhi\r\n");
        assert_eq!(err, None);
        assert_eq!(
            pub_parts(&ops[0]),
            (
                "foo".into(),
                Some("r".into()),
                "NATS/1.0\r\n\r\n".into(),
                "hi".into()
            )
        );
        let ClientOp::Pub(p) = &ops[1] else { panic!() };
        assert!(p.is_hpub() && !p.has_headers());
        assert_eq!(p.header_token(), Some(&b"0"[..]));
    }

    #[test]
    fn subs_and_unsubs() {
        let (ops, err) =
            parse_all(b"SUB foo 1\r\nsub\t foo \t q  2\r\nUNSUB 1\r\nunsub 2 5\r\nUNSUB 3 x\r\n");
        assert_eq!(err, None);
        let ClientOp::Sub(s) = &ops[1] else { panic!() };
        assert_eq!(
            (&s.subject()[..], s.queue().as_deref(), s.sid()),
            (&b"foo"[..], Some(&b"q"[..]), &b"2"[..])
        );
        let ClientOp::Unsub(u) = &ops[3] else {
            panic!()
        };
        assert_eq!((u.sid(), u.max()), (&b"2"[..], Some(5)));
        let ClientOp::Unsub(u) = &ops[4] else {
            panic!()
        };
        assert_eq!(u.max(), Some(0));
    }

    #[test]
    fn err_from_client() {
        let (ops, _) = parse_all(b"-ERR 'oops'\r\n");
        assert_eq!(ops[0], ClientOp::Err("'oops'".into()));
    }

    #[test]
    fn unknown_operations() {
        for input in [
            "FOO bar\r\n",
            " PING\r\n",
            "\r\n",
            "MSG foo 1 2\r\nhi\r\n",
            "HMSG foo 1 2 2\r\n\r\n",
            "UNSUB\r\n",
            "PUBX foo 1\r\n",
            "SUB\r\n",
            "-ERRx\r\n",
            "LS+ foo\r\n",
            "RMSG $G foo 1\r\n",
        ] {
            check_err(input, ProtoError::UnknownOperation);
        }
    }

    #[test]
    fn payload_terminator() {
        check_err(
            "PUB foo 3\r\nhello\r\n",
            ProtoError::MissingPayloadTerminator,
        );
        check_err(
            "PUB foo 2\r\nhi\nPING\r\n",
            ProtoError::MissingPayloadTerminator,
        );
    }

    #[test]
    fn argument_counts_and_sizes() {
        check_err("PUB foo\r\n", ProtoError::WrongArgumentCount("PUB"));
        check_err("PUB a b c 1\r\n", ProtoError::WrongArgumentCount("PUB"));
        check_err("PUB a b c d 1\r\n", ProtoError::WrongArgumentCount("PUB"));
        check_err("PUB foo abc\r\n", ProtoError::BadSize("PUB"));
        check_err("PUB foo +5\r\n", ProtoError::BadSize("PUB"));
        check_err("PUB foo -1\r\n", ProtoError::BadSize("PUB"));
        check_err("PUB foo 1234567890\r\n", ProtoError::BadSize("PUB"));
        check_err("PUB \r\n", ProtoError::WrongArgumentCount("PUB"));
        check_err("SUB foo\r\n", ProtoError::WrongArgumentCount("SUB"));
        check_err("SUB a b c d\r\n", ProtoError::WrongArgumentCount("SUB"));
        check_err("UNSUB 1 2 3\r\n", ProtoError::WrongArgumentCount("UNSUB"));
        check_err("HPUB foo 2\r\n", ProtoError::WrongArgumentCount("HPUB"));
        check_err("HPUB a b c d e\r\n", ProtoError::WrongArgumentCount("HPUB"));
        check_err("HPUB foo 3 2\r\n", ProtoError::HeaderSizeExceedsTotal);
        check_err("HPUB foo x 2\r\n", ProtoError::BadSize("HPUB"));
    }

    #[test]
    fn limits() {
        check_err("PUB foo 33\r\n", ProtoError::MaxPayloadExceeded);
        check_err("HPUB foo 1 33\r\n", ProtoError::MaxPayloadExceeded);
        let long = format!("PUB {} 1\r\nx\r\n", "a".repeat(70));
        check_err(&long, ProtoError::MaxControlLineExceeded);
        let unterminated = format!("SUB {}", "a".repeat(70));
        check_err(&unterminated, ProtoError::MaxControlLineExceeded);
        let connect = format!("CONNECT {{\"name\":\"{}\"}}\r\n", "n".repeat(70));
        check_err(&connect, ProtoError::MaxControlLineExceeded);
    }

    #[test]
    fn needs_more() {
        for partial in [
            "P",
            "PU",
            "PUB",
            "PUB ",
            "PUB foo 5",
            "PUB foo 5\r\nhel",
            "PUB foo 5\r\nhello\r",
            "-",
            "CONNECT",
        ] {
            let (ops, err) = parse_all(partial.as_bytes());
            assert!(ops.is_empty() && err.is_none(), "{partial:?}");
        }
    }

    #[test]
    fn bytes_needed_reports_the_whole_frame() {
        let mut parser = ClientParser::new(ParserLimits::default());
        let mut buf = BytesMut::from(&b"PUB foo 100\r\nab"[..]);
        assert_eq!(parser.decode(&mut buf), Ok(None));
        assert_eq!(parser.bytes_needed(), Some(13 + 100 + 2));
    }
}
