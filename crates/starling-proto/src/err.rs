//! Errors: why the parser gave up, and the `-ERR` lines a server sends.
//!
//! Every failure knows its wire form: [`ProtoError::reply`] says which `-ERR`
//! (if any) nats-server sends before closing, so the server never invents a
//! text of its own.

use bytes::BufMut;

/// Why the parser refused the input. Every variant ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The bytes do not start a known operation (this includes a leading
    /// space, an empty line, and server-only operations such as `MSG`).
    #[error("unknown protocol operation")]
    UnknownOperation,
    /// The two bytes after a payload were not `\r\n`.
    #[error("payload not followed by CRLF")]
    MissingPayloadTerminator,
    /// An argument line longer than `max_control_line`.
    #[error("maximum control line exceeded")]
    MaxControlLineExceeded,
    /// A declared size above `max_payload`.
    #[error("maximum payload exceeded")]
    MaxPayloadExceeded,
    /// An operation with too few or too many arguments.
    #[error("wrong number of arguments for {0}")]
    WrongArgumentCount(&'static str),
    /// A size that is not 1 to 9 ASCII digits.
    #[error("bad or missing size for {0}")]
    BadSize(&'static str),
    /// An `HPUB` whose header size exceeds its total size.
    #[error("header size larger than total size")]
    HeaderSizeExceedsTotal,
    /// An `LMSG`/`HMSG` with more than a reply before its size whose
    /// first argument is not `+` or `|` (nats-server's "Bad or Missing
    /// Reply Indicator").
    #[error("bad or missing reply indicator")]
    BadReplyIndicator,
}

impl ProtoError {
    /// The `-ERR` nats-server sends for this error before it closes, or
    /// `None` where it closes without a word.
    pub fn reply(&self) -> Option<ErrReply<'static>> {
        match self {
            Self::UnknownOperation | Self::MissingPayloadTerminator => {
                Some(ErrReply::UnknownProtocolOperation)
            }
            Self::MaxControlLineExceeded => Some(ErrReply::MaxControlLineExceeded),
            Self::MaxPayloadExceeded => Some(ErrReply::MaxPayloadViolation),
            Self::WrongArgumentCount(_)
            | Self::BadSize(_)
            | Self::HeaderSizeExceedsTotal
            | Self::BadReplyIndicator => None,
        }
    }
}

/// A `-ERR` line, with nats-server's exact text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrReply<'a> {
    /// `Unknown Protocol Operation` (closes).
    UnknownProtocolOperation,
    /// `maximum control line exceeded` (closes).
    MaxControlLineExceeded,
    /// `Maximum Payload Violation` (closes).
    MaxPayloadViolation,
    /// `Authorization Violation` (closes).
    AuthorizationViolation,
    /// `Authentication Timeout` (closes).
    AuthenticationTimeout,
    /// `User Authentication Expired` (closes).
    UserAuthenticationExpired,
    /// `Account Authentication Expired` (closes): its account was deleted.
    AccountAuthenticationExpired,
    /// `User Authentication Revoked` (closes): a claim update revoked the
    /// user's JWT.
    UserAuthenticationRevoked,
    /// `invalid client protocol` (closes).
    InvalidClientProtocol,
    /// `no responders requires headers support` (closes).
    NoRespondersRequiresHeaders,
    /// `maximum connections exceeded` (closes).
    MaxConnectionsExceeded,
    /// `maximum account active connections exceeded` (closes).
    MaxAccountConnectionsExceeded,
    /// `maximum subscriptions exceeded` (the SUB is dropped; stays open).
    MaxSubscriptionsExceeded,
    /// `Stale Connection` (closes).
    StaleConnection,
    /// `Invalid Subject` for a malformed SUB (stays open).
    InvalidSubject,
    /// `Invalid Publish Subject` in pedantic mode (stays open).
    InvalidPublishSubject,
    /// `Permissions Violation for Publish to "<subject>"` (stays open).
    PublishViolation(&'a [u8]),
    /// `Permissions Violation for Publish with Reply of "<reply>"` (stays open).
    PublishReplyViolation(&'a [u8]),
    /// `Permissions Violation for Subscription to "<subject>"` (stays open).
    SubscriptionViolation(&'a [u8]),
    /// `Permissions Violation for Subscription to "<subject>" using queue "<queue>"`.
    QueueSubscriptionViolation(&'a [u8], &'a [u8]),
    /// `Permissions Violation for Subscription to "<subject>", too many
    /// tokens` (`max_sub_tokens`; stays open).
    TooManySubjectTokens(&'a [u8]),
    /// `Permissions Violation for Subscription to "<subject>" (sid
    /// "<sid>")`: a reload took the permission away (stays open).
    SubscriptionRevoked(&'a [u8], &'a [u8]),
}

impl ErrReply<'_> {
    /// True when nats-server closes the connection after sending this.
    pub fn closes(&self) -> bool {
        !matches!(
            self,
            Self::MaxSubscriptionsExceeded
                | Self::InvalidSubject
                | Self::InvalidPublishSubject
                | Self::PublishViolation(_)
                | Self::PublishReplyViolation(_)
                | Self::SubscriptionViolation(_)
                | Self::QueueSubscriptionViolation(..)
                | Self::TooManySubjectTokens(_)
                | Self::SubscriptionRevoked(..)
        )
    }

    /// Writes `-ERR '<text>'\r\n`.
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_slice(b"-ERR '");
        match self {
            Self::PublishViolation(subject) => {
                out.put_slice(b"Permissions Violation for Publish to \"");
                out.put_slice(subject);
                out.put_slice(b"\"");
            }
            Self::PublishReplyViolation(reply) => {
                out.put_slice(b"Permissions Violation for Publish with Reply of \"");
                out.put_slice(reply);
                out.put_slice(b"\"");
            }
            Self::SubscriptionViolation(subject) => {
                out.put_slice(b"Permissions Violation for Subscription to \"");
                out.put_slice(subject);
                out.put_slice(b"\"");
            }
            Self::TooManySubjectTokens(subject) => {
                out.put_slice(b"Permissions Violation for Subscription to \"");
                out.put_slice(subject);
                out.put_slice(b"\", too many tokens");
            }
            Self::QueueSubscriptionViolation(subject, queue) => {
                out.put_slice(b"Permissions Violation for Subscription to \"");
                out.put_slice(subject);
                out.put_slice(b"\" using queue \"");
                out.put_slice(queue);
                out.put_slice(b"\"");
            }
            Self::SubscriptionRevoked(subject, sid) => {
                out.put_slice(b"Permissions Violation for Subscription to \"");
                out.put_slice(subject);
                out.put_slice(b"\" (sid \"");
                out.put_slice(sid);
                out.put_slice(b"\")");
            }
            fixed => out.put_slice(fixed.fixed_text().as_bytes()),
        }
        out.put_slice(b"'\r\n");
    }

    fn fixed_text(&self) -> &'static str {
        match self {
            Self::UnknownProtocolOperation => "Unknown Protocol Operation",
            Self::MaxControlLineExceeded => "maximum control line exceeded",
            Self::MaxPayloadViolation => "Maximum Payload Violation",
            Self::AuthorizationViolation => "Authorization Violation",
            Self::AuthenticationTimeout => "Authentication Timeout",
            Self::UserAuthenticationExpired => "User Authentication Expired",
            Self::AccountAuthenticationExpired => "Account Authentication Expired",
            Self::UserAuthenticationRevoked => "User Authentication Revoked",
            Self::InvalidClientProtocol => "invalid client protocol",
            Self::NoRespondersRequiresHeaders => "no responders requires headers support",
            Self::MaxConnectionsExceeded => "maximum connections exceeded",
            Self::MaxAccountConnectionsExceeded => "maximum account active connections exceeded",
            Self::MaxSubscriptionsExceeded => "maximum subscriptions exceeded",
            Self::StaleConnection => "Stale Connection",
            Self::InvalidSubject => "Invalid Subject",
            Self::InvalidPublishSubject => "Invalid Publish Subject",
            Self::PublishViolation(_)
            | Self::PublishReplyViolation(_)
            | Self::SubscriptionViolation(_)
            | Self::QueueSubscriptionViolation(..)
            | Self::TooManySubjectTokens(_)
            | Self::SubscriptionRevoked(..) => "Permissions Violation",
        }
    }
}

impl std::fmt::Display for ErrReply<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut line = Vec::new();
        self.encode(&mut line);
        let text = String::from_utf8_lossy(&line);
        f.write_str(text.trim_end())
    }
}
