//! What the leaf (and route) parser yields: interest lines and messages
//! that share the read buffer.

use bytes::Bytes;

use crate::op::{Publish, Span};
use crate::parser::range;

/// `LS+ <subject> [<queue> <weight>]` (`RS+ <account> ...` on a route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSub {
    /// The leaf cluster the interest comes from, on a route's `LS+`.
    pub origin: Option<Bytes>,
    /// The account, on a route.
    pub account: Option<Bytes>,
    /// The subject filter, as sent.
    pub subject: Bytes,
    /// The queue group, if any.
    pub queue: Option<Bytes>,
    /// The queue group's weight (1 for plain interest).
    pub weight: u32,
}

/// `LS- <subject> [<queue>]` (`RS- <account> ...` on a route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafUnsub {
    /// The account, on a route.
    pub account: Option<Bytes>,
    /// The subject filter.
    pub subject: Bytes,
    /// The queue group, if any.
    pub queue: Option<Bytes>,
}

/// An `LMSG` or `HMSG`: subject, reply, the queue groups the receiver must
/// serve, headers and payload.
#[derive(Clone, PartialEq, Eq)]
pub struct LeafMessage {
    pub(super) frame: Bytes,
    pub(super) origin: Option<Span>,
    pub(super) account: Option<Span>,
    pub(super) subject: Span,
    pub(super) reply: Option<Span>,
    pub(super) queues: Vec<Span>,
    pub(super) header_token: Option<Span>,
    pub(super) size_token: Span,
    pub(super) header_len: u32,
    pub(super) message: Span,
}

impl LeafMessage {
    /// The leaf cluster the message comes from, on a route's `LMSG`.
    pub fn origin(&self) -> Option<&[u8]> {
        self.origin.as_ref().map(|o| &self.frame[range(o)])
    }

    /// The origin as a shared slice of the read buffer.
    pub fn origin_bytes(&self) -> Option<Bytes> {
        self.origin.as_ref().map(|o| self.frame.slice(range(o)))
    }

    /// The account, on a route.
    pub fn account(&self) -> Option<&[u8]> {
        self.account.as_ref().map(|a| &self.frame[range(a)])
    }

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
