//! The Starling broker: a NATS server built on tokio.
//!
//! This crate drives the sans-IO crates with real sockets: it accepts client
//! connections, runs one reader and one writer task per connection, routes
//! every publish through [`starling_router`] and writes the replies that
//! [`starling_proto`] encodes. It is the only library crate that knows about
//! tokio. An application can also hand it connections it accepted itself
//! ([`Server::serve_connection`]), for example NATS over websocket on a
//! route of its own axum or hyper server.
//!
//! Its modules are layered, each using only those below it (the tidy test
//! holds this): `link` (a connection's outbound side) → `account`
//! (subscriptions, interest, exports and imports) → `broker` (state every
//! connection shares) → `client` (the protocol state machine and its tokio
//! driver) → `listen` (bind, accept, handshakes) → `server`.
//!
//! ```no_run
//! use starling_server::{Server, ServerOptions};
//!
//! # async fn run() -> Result<(), starling_server::ServerError> {
//! let server = Server::start(ServerOptions::default()).await?; // 0.0.0.0:4222
//! // ... until a signal arrives:
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! How it is put together, and the invariants it keeps (no lock held across
//! an `.await`, no allocation per message on the publish path, a slower
//! reader slows its publisher and loses nothing while a stuck one is cut
//! off within the stall timeout), is described in `docs/architecture.md`.

mod account;
mod account_fetch;
mod broker;
mod client;
mod config;
mod identity;
mod lame_duck;
mod leaf;
mod link;
mod listen;
pub mod log_file;
pub mod log_sink;
mod memory;
mod monitor;
mod options;
mod ports;
mod reload;
mod resolver;
mod resolver_url;
mod route;
mod server;
mod service_latency;
pub mod syslog;
mod system;
mod tls;

pub use config::{
    ClientFlags, ClusterFlags, ConfigOptions, LogOptions, describe, flags, locate,
    options_from_config, read_config_file, signal,
};
pub use listen::TlsError;
pub use options::{
    ClusterOptions, ClusterTls, LeafAuth, LeafOptions, LeafProxy, LeafRemote, LeafUser,
    MonitorOptions, OcspMode, RemoteTls, ServerOptions,
};
pub use ports::Ports;
pub use reload::ReloadError;
pub use server::{Server, Transport};
/// A password as the options hold it (never logged).
pub use starling_auth::Secret;

/// The nats-server release whose client protocol Starling speaks; announced
/// as `version` in INFO, because clients gate features on it.
pub const NATS_VERSION: &str = "2.9.10";

/// Starling's own version.
pub const STARLING_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A listener could not be bound.
    #[error("can't listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// An option has a value nats-server would refuse.
    #[error("invalid option: {reason}")]
    InvalidOption {
        /// The option, as a path of keys (`max_payload`, `websocket.port`).
        option: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// A TLS block's files do not make a usable configuration.
    #[error("invalid option: {}{source}", if *.option == "tls" { "" } else { "websocket " })]
    Tls {
        /// The block (`tls`, `websocket.tls`).
        option: &'static str,
        /// What is wrong, naming the file.
        source: TlsError,
    },
}

impl ServerError {
    /// The option the error is about, as a path of keys, if any.
    pub fn option(&self) -> Option<&'static str> {
        match self {
            Self::InvalidOption { option, .. } | Self::Tls { option, .. } => Some(option),
            Self::Bind { .. } => None,
        }
    }
}
