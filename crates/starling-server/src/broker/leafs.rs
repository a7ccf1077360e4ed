//! The leaf links the broker knows (accepted and solicited), and the
//! cluster name leafs and the system events see.

use std::sync::Arc;

use super::Broker;
use crate::account::Subscriber;

impl Broker {
    /// Closes the leaf links this server dialled (they dial again): a
    /// reload renamed the cluster they name.
    pub(crate) fn close_solicited_leafs(&self) {
        for entry in &self.leafs {
            if entry.value().1.is_none() {
                entry
                    .value()
                    .0
                    .link
                    .close(crate::link::CloseReason::ClientClosed);
            }
        }
    }

    /// A leaf link is up; `peer` names an accepted one's peer. Returns
    /// the accepted links it replaces (same account, name and cluster:
    /// nats-server evicts the old one, taken for a dead connection).
    pub(crate) fn register_leaf(
        &self,
        leaf: &Arc<Subscriber>,
        peer: Option<LeafPeer>,
    ) -> Vec<Arc<Subscriber>> {
        let replaced = peer.as_ref().map_or_else(Vec::new, |peer| {
            self.leafs
                .iter()
                .filter(|entry| entry.value().1.as_ref() == Some(peer))
                .map(|entry| Arc::clone(&entry.value().0))
                .collect()
        });
        self.leafs.insert(leaf.link.cid, (Arc::clone(leaf), peer));
        replaced
    }

    /// The cluster name leafs see: the cluster's, else (as nats-server
    /// names a server without one) the server name.
    pub(crate) fn cluster_name(&self) -> String {
        self.cluster
            .as_ref()
            .map_or_else(|| self.info.server_name.clone(), |c| c.name().0)
    }

    /// The cluster name as nats-server's `ClusterName()` has it for the
    /// system events and request filters: the cluster's, the server name
    /// with leaf remotes and no cluster, else none.
    pub(crate) fn filter_cluster_name(&self) -> Option<String> {
        match &self.cluster {
            Some(cluster) => Some(cluster.name().0),
            None if self
                .options
                .leaf
                .as_ref()
                .is_some_and(|l| !l.remotes.is_empty()) =>
            {
                Some(self.info.server_name.clone())
            }
            None => None,
        }
    }

    /// A leaf link is gone.
    pub(crate) fn deregister_leaf(&self, leaf: &Subscriber) {
        self.leafs.remove(&leaf.link.cid);
    }

    /// The accepted leaf links up now (this server's leafnode port's).
    pub(crate) fn accepted_leafs(&self) -> Vec<Arc<Subscriber>> {
        self.leafs
            .iter()
            .filter(|l| l.1.is_some())
            .map(|l| Arc::clone(&l.0))
            .collect()
    }

    /// The leaf links up now, in no particular order.
    pub(crate) fn leafs(&self) -> Vec<Arc<Subscriber>> {
        self.leafs.iter().map(|l| Arc::clone(&l.0)).collect()
    }
}

/// Who is at the other end of an accepted leaf link: its account here,
/// and the server name and cluster its CONNECT gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeafPeer {
    pub(crate) account: String,
    pub(crate) name: String,
    pub(crate) cluster: String,
}
