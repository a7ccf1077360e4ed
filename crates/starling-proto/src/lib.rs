//! The NATS client protocol as nats-server 2.9.10 speaks it, without any I/O.
//!
//! This crate turns bytes a client sent into [`ClientOp`]s and turns the
//! server's replies into bytes. It never touches a socket, a clock or a
//! runtime: the caller owns the read buffer, feeds it to a [`ClientParser`], and
//! writes what the encoders produce. Limits arrive as a plain
//! [`ParserLimits`] struct, so the crate knows nothing of configuration files.
//!
//! - [`ClientParser`]: incremental and zero-copy. Every operation, argument
//!   line and payload may be split across reads at any byte; complete
//!   operations are handed out as [`bytes::Bytes`] slices of the read buffer.
//! - [`encode`]: `MSG`, `HMSG`, `INFO`, `PING`, `PONG`, `+OK`, `-ERR`, written
//!   into any [`bytes::BufMut`] without allocating.
//! - [`ServerInfo`] and [`Connect`]: the JSON bodies of `INFO` and `CONNECT`.
//! - [`ErrReply`]: the catalogue of `-ERR` texts, word for word as
//!   nats-server sends them.
//!
//! ```
//! use bytes::BytesMut;
//! use starling_proto::{ClientOp, ClientParser, ParserLimits, encode};
//!
//! let mut parser = ClientParser::new(ParserLimits::default());
//! let mut input = BytesMut::from(&b"SUB foo 1\r\nPUB foo 5\r\nhel"[..]);
//! let Some(ClientOp::Sub(sub)) = parser.decode(&mut input)? else { panic!() };
//! assert_eq!(&sub.subject()[..], b"foo");
//! assert!(parser.decode(&mut input)?.is_none()); // the payload is incomplete
//! input.extend_from_slice(b"lo\r\n");
//! let Some(ClientOp::Pub(publish)) = parser.decode(&mut input)? else { panic!() };
//! assert_eq!(publish.payload(), b"hello");
//!
//! let mut out = Vec::new();
//! encode::msg(&mut out, publish.subject(), sub.sid(), None, publish.payload());
//! assert_eq!(out, b"MSG foo 1 5\r\nhello\r\n");
//! # Ok::<(), starling_proto::ProtoError>(())
//! ```
//!
//! The protocol itself is described in the NATS documentation ("Client
//! Protocol") and, with every quirk, in the project's `nats-protocol.md`.
#![forbid(unsafe_code)]

pub mod encode;
mod err;
pub mod fuzzing;
mod json;
pub mod leaf;
mod op;
mod parser;
pub mod route;

pub use err::{ErrReply, ProtoError};
pub use json::{Connect, ServerInfo, redact_connect};
pub use op::{ClientOp, Publish, Subscribe, Unsubscribe};
pub use parser::{ClientParser, ParserLimits};
