//! Subject mappings on the publish path, as nats-server's
//! `selectMappedSubject`: a message from a client or a leaf link (not from
//! a route, which carries subjects mapped already, nor from the server's
//! own client) whose subject matches one of its account's mappings takes
//! the destination a roll of 0 to 99 picks; permissions and delivery see
//! the mapped subject. A service import's request is mapped by the
//! exporting account's mappings as it enters that account.

use crate::account::Account;

use super::state::ClientState;

/// What mapping did to a subject.
pub(super) enum Mapped {
    /// No mapping matched: the subject stays.
    Same,
    /// Mapped: the new subject is in the buffer.
    To,
    /// The roll fell on the share a mapping drops.
    Lost,
}

/// The buffer mapped subjects are written to, and whether this
/// connection's messages are mapped at all.
#[derive(Default)]
pub(super) struct Mapper {
    pub(super) buffer: Vec<u8>,
    /// Routes and the server's own client are not mapped.
    pub(super) off: bool,
}

impl ClientState {
    /// Maps `subject` by this connection's account into `out`.
    pub(super) fn map_own(&mut self, subject: &[u8], out: &mut Vec<u8>) -> Mapped {
        if self.mapper.off || !self.account.settings.has_mappings() {
            return Mapped::Same;
        }
        let account = std::sync::Arc::clone(&self.account);
        self.map_by(&account, subject, out)
    }

    /// Maps `subject` by `account`'s mappings into `out`.
    pub(super) fn map_by(
        &mut self,
        account: &Account,
        subject: &[u8],
        out: &mut Vec<u8>,
    ) -> Mapped {
        let mappings = account.settings.mappings();
        let Some(mapping) = mappings.iter().find(|m| m.matches(subject)) else {
            return Mapped::Same;
        };
        let roll = u8::try_from(self.rng.below(100)).unwrap_or(0);
        let cluster = mapping
            .is_cluster_scoped()
            .then(|| self.broker.cluster.as_ref().map(|c| c.name().0))
            .flatten();
        if mapping.select(cluster.as_deref(), roll, subject, out) {
            tracing::trace!(
                cid = self.cid(),
                "<<- [MAPPING {} -> {}]",
                String::from_utf8_lossy(subject),
                String::from_utf8_lossy(out)
            );
            Mapped::To
        } else {
            Mapped::Lost
        }
    }
}
