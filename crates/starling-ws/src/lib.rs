//! WebSocket for NATS, server side first, without any I/O.
//!
//! Everything a NATS server needs to speak to clients over RFC 6455, as
//! plain functions and state machines over bytes: no sockets, no clocks, no
//! tokio. The server crate drives them.
//!
//! - [`handshake`]: parse and validate the HTTP upgrade, write the `101`
//!   reply or nats-server's exact refusal (400, 403, 405).
//! - [`origin`]: `same_origin` and `allowed_origins`.
//! - [`frame`]: RFC 6455 §5 framing: a header decoder that checks lengths,
//!   opcodes, RSV bits and masking; encoders for data and control frames.
//! - [`deflate`]: permessage-deflate (RFC 7692) through miniz_oxide, with no
//!   context takeover, inflated size bounded before it is buffered.
//! - [`ServerDecoder`] / [`ServerEncoder`]: a connection's two halves
//!   (client frames to the NATS byte stream, NATS bytes to frames).
//! - [`WebsocketOptions`]: the configuration's `websocket` block.
//!
//! fastwebsockets cannot serve as this codec (it needs tokio inside its
//! framing and rejects RSV1); it is used in the tests as an independent peer.
//!
//! ```
//! use bytes::BytesMut;
//! use starling_ws::frame::OpCode;
//! use starling_ws::handshake::{HandshakePolicy, handle_request};
//! use starling_ws::{ServerDecoder, ServerEncoder, encode_client_frame};
//!
//! let request = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\r\n";
//! let upgrade = handle_request(request.as_bytes(), &HandshakePolicy::default())?.expect("complete");
//! assert_eq!(upgrade.accept_key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//!
//! // A masked client frame in, the NATS bytes out.
//! let mut raw = BytesMut::new();
//! encode_client_frame(&mut raw, OpCode::Binary, true, false, b"PING\r\n", [1, 2, 3, 4]);
//! let (mut nats, mut controls) = (BytesMut::new(), Vec::new());
//! ServerDecoder::new(false, 1 << 20).decode(&mut raw, &mut nats, &mut controls)?;
//! assert_eq!(&nats[..], b"PING\r\n");
//!
//! // The server's bytes out as one binary frame.
//! let mut framed = BytesMut::new();
//! ServerEncoder::new(false, false).encode(b"PONG\r\n", &mut framed);
//! assert_eq!(&framed[..], b"\x82\x06PONG\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod codec;
pub mod deflate;
pub mod frame;
pub mod fuzzing;
pub mod handshake;
mod options;
pub mod origin;
mod tls_tuning;

pub use codec::{
    BROWSER_FRAME_SIZE, COMPRESS_THRESHOLD, Control, ServerDecoder, ServerEncoder,
    encode_client_frame, encode_pong,
};
pub use frame::FrameError;
pub use options::{DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_TLS_TIMEOUT, TlsOptions, WebsocketOptions};
pub use tls_tuning::{CURVES, TLS12_SUITES, TlsTuning};

/// Close codes the server sends or accepts (RFC 6455 §7.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCode {
    /// 1000: normal closure (client closed).
    Normal,
    /// 1001: going away (server shutdown).
    GoingAway,
    /// 1002: protocol error.
    ProtocolError,
    /// 1003: unsupported data.
    Unsupported,
    /// 1007: invalid payload data.
    InvalidPayload,
    /// 1008: policy violation (authentication, slow consumer, limits).
    PolicyViolation,
    /// 1009: message too big.
    MessageTooBig,
    /// 1010: a required extension is missing (client-sent only).
    MandatoryExtension,
    /// 1011: internal error.
    InternalError,
    /// 3000–4999: application codes, accepted from clients.
    Application(u16),
}

impl CloseCode {
    /// The numeric code.
    pub fn as_u16(self) -> u16 {
        match self {
            Self::Normal => 1000,
            Self::GoingAway => 1001,
            Self::ProtocolError => 1002,
            Self::Unsupported => 1003,
            Self::InvalidPayload => 1007,
            Self::PolicyViolation => 1008,
            Self::MessageTooBig => 1009,
            Self::MandatoryExtension => 1010,
            Self::InternalError => 1011,
            Self::Application(code) => code,
        }
    }

    /// A code a peer may send in a close frame (§7.4.1); `None` for the
    /// reserved ones (1004–1006, 1015, and anything unassigned).
    pub fn from_u16(code: u16) -> Option<Self> {
        Some(match code {
            1000 => Self::Normal,
            1001 => Self::GoingAway,
            1002 => Self::ProtocolError,
            1003 => Self::Unsupported,
            1007 => Self::InvalidPayload,
            1008 => Self::PolicyViolation,
            1009 => Self::MessageTooBig,
            1010 => Self::MandatoryExtension,
            1011 => Self::InternalError,
            3000..=4999 => Self::Application(code),
            _ => return None,
        })
    }
}
