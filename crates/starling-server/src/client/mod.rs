//! Client connections: the protocol state machine ([`ClientState`], with
//! one file per operation) and the tokio driver that connects it to a
//! socket.

mod connect;
mod counting;
mod delivery;
mod driver;
mod flow;
mod internal;
mod publish;
mod state;
mod subscribe;
#[cfg(test)]
mod tests;
mod writer;

pub(crate) use driver::{ClientAddr, Framing, run_connection};
pub(crate) use internal::InternalClient;
#[cfg(test)]
pub(crate) use state::{ClientState, Time};
