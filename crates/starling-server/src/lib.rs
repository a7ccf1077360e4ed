//! The Starling broker: a NATS server built on tokio.
//!
//! This crate drives the sans-IO crates with real sockets: it accepts client
//! connections, runs one reader and one writer task per connection, routes
//! every publish through [`starling_router`] and writes the replies that
//! [`starling_proto`] encodes. It is the only library crate that knows about
//! tokio.
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
//! an `.await`, no allocation per message on the publish path, a slow
//! consumer never stalls a publisher), is described in `docs/architecture.md`.

mod client;
mod config;
mod identity;
mod links;
mod options;
mod server;
mod tls;
mod websocket;

pub use config::{ConfigOptions, LogOptions, options_from_config};
pub use options::ServerOptions;
pub use server::Server;

/// The nats-server release whose client protocol Starling speaks; announced
/// as `version` in INFO, because clients gate features on it.
pub const NATS_VERSION: &str = "2.9.10";

/// Starling's own version.
pub const STARLING_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listener could not be bound.
    #[error("can't listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// An option has a value nats-server would refuse.
    #[error("invalid option: {0}")]
    InvalidOption(String),
}
