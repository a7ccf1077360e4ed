//! Client connections: the shared link, the protocol session, and the tokio
//! driver that connects them to a socket.

mod driver;
mod link;
mod session;

pub(crate) use driver::{ClientAddr, Framing, run_connection};
pub(crate) use link::{AccountRouter, ClientLink, CloseReason, SubHandle, Subscription};
