//! What a leaf link tells its peer of the account's interest: `LS+` when a
//! subject (or queue group) gains its first subscription among those the
//! link passes on, `LS-` when it loses its last; a queue group's `LS+` is
//! sent again with its new weight on every change.
//!
//! Which subscriptions a link passes on (nats-server's hub and spoke
//! rules): never its own peer's; a link on which this server is the hub
//! passes on all others; a spoke passes on only local ones and those of
//! links where this server is the hub, never what it learnt from another
//! hub, so a tree of hubs and spokes has no loops; nothing of the peer's
//! own leaf cluster (learnt from another of its members, here or through a
//! route's `LS+`) goes back to it, the loop-detection subject aside.

use std::sync::Arc;

use bytes::Bytes;
use starling_auth::Permissions;
use starling_proto::leaf::{encode_sub, encode_unsub};

use crate::account::{Announce, InterestChange, InterestWatcher, OriginKind, PassedOn};
use crate::link::{Link, Queued};

/// One leaf link's view of its account's interest.
#[derive(Debug)]
pub(super) struct LeafInterest {
    link: Arc<Link>,
    /// This server plays the spoke on the link.
    spoke: bool,
    /// `deny_imports`: no interest is sent for what is denied.
    imports: Option<Arc<Permissions>>,
    /// The peer's cluster.
    peer_cluster: Option<Bytes>,
    counts: PassedOn,
}

impl LeafInterest {
    pub(super) fn new(
        link: Arc<Link>,
        spoke: bool,
        imports: Option<Arc<Permissions>>,
        peer_cluster: Option<Bytes>,
    ) -> Self {
        Self {
            link,
            spoke,
            imports,
            peer_cluster,
            counts: PassedOn::default(),
        }
    }

    /// Whether a subscription of `change`'s origin is passed on.
    fn passes(&self, change: &InterestChange) -> bool {
        change.origin.cid != self.link.cid
            && (change.origin.cluster.is_none()
                || change.origin.cluster != self.peer_cluster
                || change.subject.starts_with(b"$LDS."))
            && !(self.spoke
                && matches!(
                    change.origin.kind,
                    OriginKind::LeafSpoke | OriginKind::Route
                ))
            && self
                .imports
                .as_ref()
                .is_none_or(|denied| denied.can_publish(&change.subject))
    }
}

impl InterestWatcher for LeafInterest {
    fn changed(&self, change: &InterestChange) {
        if !self.passes(change) {
            return;
        }
        let Some(announce) = self.counts.announce(change) else {
            return;
        };
        let (subject, queue) = (&change.subject, change.queue.as_deref());
        let queued = self.link.queue(|out| match announce {
            Announce::Sub(weight) => encode_sub(out, subject, queue.zip(weight)),
            Announce::Unsub => encode_unsub(out, subject, queue),
        });
        if queued == Queued::WakeWriter {
            self.link.writer_wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::account::Origin;

    fn change(
        subject: &'static str,
        queue: Option<&'static str>,
        cid: u64,
        kind: OriginKind,
        delta: i64,
    ) -> InterestChange {
        InterestChange {
            account: "$G".into(),
            subject: Bytes::from_static(subject.as_bytes()),
            queue: queue.map(|q| Bytes::from_static(q.as_bytes())),
            origin: Origin {
                cid,
                kind,
                cluster: None,
            },
            delta,
        }
    }

    fn sent(link: &Link) -> String {
        let mut out = BytesMut::new();
        link.take_outbound(&mut out);
        link.written();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn ref_counted_with_queue_weights_and_the_spoke_rule() {
        let link = Arc::new(Link::new(7, 1 << 20));
        let spoke = LeafInterest::new(Arc::clone(&link), true, None, None);
        spoke.changed(&change("foo", None, 1, OriginKind::Local, 1));
        spoke.changed(&change("foo", None, 2, OriginKind::Local, 1));
        spoke.changed(&change("bar.*", Some("q1"), 1, OriginKind::Local, 1));
        spoke.changed(&change("bar.*", Some("q1"), 3, OriginKind::LeafHub, 1));
        // Learnt from a hub, or the link's own peer's: not passed on.
        spoke.changed(&change("hub.only", None, 4, OriginKind::LeafSpoke, 1));
        spoke.changed(&change("own", None, 7, OriginKind::LeafSpoke, 1));
        spoke.changed(&change("foo", None, 1, OriginKind::Local, -1));
        spoke.changed(&change("foo", None, 2, OriginKind::Local, -1));
        spoke.changed(&change("bar.*", Some("q1"), 1, OriginKind::Local, -1));
        spoke.changed(&change("bar.*", Some("q1"), 3, OriginKind::LeafHub, -1));
        assert_eq!(
            sent(&link),
            "LS+ foo\r\nLS+ bar.* q1 1\r\nLS+ bar.* q1 2\r\nLS- foo\r\nLS+ bar.* q1 1\r\nLS- bar.* q1\r\n"
        );
        let hub = LeafInterest::new(Arc::clone(&link), false, None, None);
        hub.changed(&change("hub.only", None, 4, OriginKind::LeafSpoke, 2));
        assert_eq!(sent(&link), "LS+ hub.only\r\n");
    }

    #[test]
    fn nothing_of_the_peers_own_cluster_goes_back_to_it() {
        let link = Arc::new(Link::new(7, 1 << 20));
        let hub = LeafInterest::new(
            Arc::clone(&link),
            false,
            None,
            Some(Bytes::from_static(b"L")),
        );
        let of = |subject, cluster: Option<&'static str>| InterestChange {
            origin: Origin {
                cid: 3,
                kind: OriginKind::Route,
                cluster: cluster.map(|c| Bytes::from_static(c.as_bytes())),
            },
            ..change(subject, None, 3, OriginKind::Route, 1)
        };
        hub.changed(&of("from.l", Some("L")));
        hub.changed(&of("from.m", Some("M")));
        hub.changed(&of("plain", None));
        hub.changed(&of("$LDS.x", Some("L")));
        assert_eq!(sent(&link), "LS+ from.m\r\nLS+ plain\r\nLS+ $LDS.x\r\n");
    }
}
