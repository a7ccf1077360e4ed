//! The operations a client sends, as the parser hands them out.
//!
//! Each operation keeps one shared slice of the read buffer and offsets into
//! it, so handing an operation out costs one reference count, not a copy per
//! field.

use std::ops::Range;

use bytes::Bytes;

/// One complete operation sent by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientOp {
    /// `CONNECT <json>`: the JSON text, not yet decoded (see [`crate::Connect`]).
    Connect(Bytes),
    /// `INFO <json>` sent by a client: nats-server decodes and ignores it.
    Info(Bytes),
    /// `PUB` or `HPUB`.
    Pub(Publish),
    /// `SUB`.
    Sub(Subscribe),
    /// `UNSUB`.
    Unsub(Unsubscribe),
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `+OK` sent by a client: ignored by nats-server.
    Ok,
    /// `-ERR <text>` sent by a client: nats-server closes the connection.
    Err(Bytes),
}

/// Offsets of one argument inside an operation's frame.
pub(crate) type Span = Range<u32>;

fn slice(frame: &Bytes, span: &Span) -> Bytes {
    frame.slice(span.start as usize..span.end as usize)
}

fn bytes_of<'a>(frame: &'a [u8], span: &Span) -> &'a [u8] {
    &frame[span.start as usize..span.end as usize]
}

/// A `PUB` or `HPUB`: subject, optional reply, optional header block, payload.
#[derive(Clone, PartialEq, Eq)]
pub struct Publish {
    pub(crate) frame: Bytes,
    pub(crate) subject: Span,
    pub(crate) reply: Option<Span>,
    /// For `HPUB`, the header size token as the client wrote it.
    pub(crate) header_token: Option<Span>,
    /// The total size token as the client wrote it (nats-server echoes it verbatim).
    pub(crate) size_token: Span,
    /// Headers and payload together, without the closing CRLF.
    pub(crate) message: Span,
    pub(crate) header_len: u32,
}

impl Publish {
    /// The subject, exactly as sent (not validated: see [`starling_subject`]).
    pub fn subject(&self) -> &[u8] {
        bytes_of(&self.frame, &self.subject)
    }

    /// The reply subject, if any.
    pub fn reply(&self) -> Option<&[u8]> {
        self.reply.as_ref().map(|s| bytes_of(&self.frame, s))
    }

    /// True for an `HPUB` with a non-empty header block.
    pub fn has_headers(&self) -> bool {
        self.header_len > 0
    }

    /// True when the client sent `HPUB` (even with zero header bytes).
    pub fn is_hpub(&self) -> bool {
        self.header_token.is_some()
    }

    /// The header size token as the client wrote it (`HPUB` only).
    pub fn header_token(&self) -> Option<&[u8]> {
        self.header_token.as_ref().map(|s| bytes_of(&self.frame, s))
    }

    /// The total size token as the client wrote it, leading zeros included.
    pub fn size_token(&self) -> &[u8] {
        bytes_of(&self.frame, &self.size_token)
    }

    /// Header block and payload together.
    pub fn message(&self) -> &[u8] {
        bytes_of(&self.frame, &self.message)
    }

    /// The header block (empty for `PUB`).
    pub fn headers(&self) -> &[u8] {
        &self.message()[..self.header_len as usize]
    }

    /// The payload after the header block.
    pub fn payload(&self) -> &[u8] {
        &self.message()[self.header_len as usize..]
    }

    /// The subject as a shared slice of the read buffer.
    pub fn subject_bytes(&self) -> Bytes {
        slice(&self.frame, &self.subject)
    }
}

impl std::fmt::Debug for Publish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publish")
            .field("subject", &String::from_utf8_lossy(self.subject()))
            .field("reply", &self.reply().map(String::from_utf8_lossy))
            .field("headers", &String::from_utf8_lossy(self.headers()))
            .field("payload", &String::from_utf8_lossy(self.payload()))
            .field("size_token", &String::from_utf8_lossy(self.size_token()))
            .finish()
    }
}

/// A `SUB`: subject filter, optional queue group, subscription id.
#[derive(Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub(crate) frame: Bytes,
    pub(crate) subject: Span,
    pub(crate) queue: Option<Span>,
    pub(crate) sid: Span,
}

impl Subscribe {
    /// The subject filter as a shared slice (not validated).
    pub fn subject(&self) -> Bytes {
        slice(&self.frame, &self.subject)
    }

    /// The queue group, if any.
    pub fn queue(&self) -> Option<Bytes> {
        self.queue.as_ref().map(|s| slice(&self.frame, s))
    }

    /// The subscription id chosen by the client (any non-blank token).
    pub fn sid(&self) -> &[u8] {
        bytes_of(&self.frame, &self.sid)
    }

    /// The subscription id as a shared slice.
    pub fn sid_bytes(&self) -> Bytes {
        slice(&self.frame, &self.sid)
    }

    /// The same `SUB` in an allocation of its own (one copy of its line),
    /// so a subscription that keeps its subject, queue and sid does not
    /// keep the read buffer it was parsed from alive.
    #[must_use]
    pub fn detached(&self) -> Self {
        Self {
            frame: Bytes::copy_from_slice(&self.frame),
            ..self.clone()
        }
    }
}

impl std::fmt::Debug for Subscribe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscribe")
            .field("subject", &String::from_utf8_lossy(&self.subject()))
            .field(
                "queue",
                &self
                    .queue()
                    .map(|q| String::from_utf8_lossy(&q).into_owned()),
            )
            .field("sid", &String::from_utf8_lossy(self.sid()))
            .finish()
    }
}

/// An `UNSUB`: subscription id and optional message limit.
#[derive(Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub(crate) frame: Bytes,
    pub(crate) sid: Span,
    pub(crate) max: Option<u64>,
}

impl Unsubscribe {
    /// The subscription id.
    pub fn sid(&self) -> &[u8] {
        bytes_of(&self.frame, &self.sid)
    }

    /// The message limit. nats-server reads a limit that is not a number as
    /// zero ("remove now"), and so does this parser.
    pub fn max(&self) -> Option<u64> {
        self.max
    }
}

impl std::fmt::Debug for Unsubscribe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unsubscribe")
            .field("sid", &String::from_utf8_lossy(self.sid()))
            .field("max", &self.max)
            .finish()
    }
}
