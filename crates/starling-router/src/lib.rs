//! Subject routing for a NATS broker: who gets a message published on a subject.
//!
//! - [`SubscriptionTrie`] is the plain data structure: a trie of subject
//!   tokens with dedicated `*` and `>` branches, plain subscriptions and queue
//!   groups at each node. `&mut self` changes it, `&self` matches.
//! - [`Router`] is the one concurrency policy around it: a read-write lock and
//!   a bounded cache of match results that is patched, not flushed, when
//!   subscriptions change, so request/reply churn does not empty it.
//!
//! Both are generic over the subscriber handle `S` (the server uses a shared
//! pointer to its subscription record). The crate knows nothing of the wire
//! protocol, connections or I/O.
//!
//! ```
//! use starling_router::Router;
//!
//! let router: Router<u32> = Router::new();
//! router.insert("orders.*", None, 1)?;
//! router.insert("orders.>", Some("workers".into()), 2)?;
//! router.insert("orders.>", Some("workers".into()), 3)?;
//!
//! let matches = router.lookup(b"orders.created");
//! assert_eq!(matches.plain, vec![1]);
//! assert_eq!(matches.queues.len(), 1); // one group: deliver to one of 2 and 3
//! assert_eq!(matches.queues[0].members.len(), 2);
//! # Ok::<(), starling_subject::SubjectError>(())
//! ```
#![forbid(unsafe_code)]

mod cache;
pub mod fuzzing;
mod trie;

pub use cache::{Router, RouterStats};
pub use trie::{Matches, QueueMatch, SubscriptionTrie};
