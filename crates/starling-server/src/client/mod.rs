//! Client connections: the protocol state machine ([`ClientState`], with
//! one file per operation) and the tokio driver that connects it to a
//! socket.

mod connect;
mod counting;
mod delivery;
mod driver;
mod flow;
mod group;
mod internal;
mod latency;
mod leaf;
mod mapping;
mod publish;
mod reload;
mod state;
mod subscribe;
#[cfg(test)]
mod tests;
mod time;
mod trace;
mod writer;

pub(crate) use driver::{ClientAddr, Framing, run_connection};
pub(crate) use flow::wait_for_room;
pub(crate) use internal::InternalClient;
pub(crate) use state::{ClientState, Time};
pub(crate) use writer::write_loop;
