//! What a route tells its peer of one account's interest (`cluster.md`
//! §4.2): `RS+ <account> <subject>` when a subject gains its first
//! subscription among those a route passes on, `RS-` when it loses its
//! last; a queue group's `RS+` again with its new weight on every change.
//!
//! A route passes on the subscriptions of local clients (and the
//! server's own) and of leaf links where this server is the hub; never
//! what another route announced (one hop), nor what a hub told this
//! server (the hub's cluster has it). A leaf's interest goes to a peer
//! that said `lnoc` as `LS+ <origin> ...` (its leaf cluster; §4.4), so
//! the peer sends that cluster nothing of its own.

use std::sync::Arc;

use bytes::Bytes;
use starling_auth::Permissions;
use starling_proto::route::{encode_origin_sub, encode_origin_unsub, encode_sub, encode_unsub};

use crate::account::{Announce, InterestChange, InterestWatcher, OriginKind, PassedOn};
use crate::link::{Link, Queued};

/// One route's view of one account's interest.
#[derive(Debug)]
pub(super) struct RouteInterest {
    link: Arc<Link>,
    account: Bytes,
    /// The cluster's `import`: only interest it allows is announced.
    import: Option<Arc<Permissions>>,
    /// The peer reads the leaf origin.
    lnoc: bool,
    counts: PassedOn,
}

impl RouteInterest {
    /// A route's view of `account`, holding `standing` interest from the
    /// start (what imports need from the account: the stream imports'
    /// filters, the replies of requests sent into it), sent at once.
    pub(super) fn new(
        link: Arc<Link>,
        account: Bytes,
        standing: &[Bytes],
        (import, lnoc): (Option<Arc<Permissions>>, bool),
    ) -> Self {
        let counts = PassedOn::default();
        let allowed = |subject: &[u8]| import.as_ref().is_none_or(|p| p.can_publish(subject));
        for subject in standing.iter().filter(|s| allowed(s)) {
            counts.hold(subject.clone());
            if link.queue(|out| encode_sub(out, &account, subject, None)) == Queued::WakeWriter {
                link.writer_wake.notify_one();
            }
        }
        Self {
            link,
            account,
            import,
            lnoc,
            counts,
        }
    }
}

impl InterestWatcher for RouteInterest {
    fn changed(&self, change: &InterestChange) {
        if !matches!(change.origin.kind, OriginKind::Local | OriginKind::LeafHub)
            || self
                .import
                .as_ref()
                .is_some_and(|p| !p.can_publish(&change.subject))
        {
            return;
        }
        let Some(announce) = self.counts.announce(change) else {
            return;
        };
        let account = &self.account;
        let (subject, queue) = (&change.subject, change.queue.as_deref());
        let origin = change.origin.cluster.as_deref().filter(|_| self.lnoc);
        let queued = self.link.queue(|out| match (announce, origin) {
            (Announce::Sub(weight), Some(origin)) => {
                encode_origin_sub(out, origin, account, subject, queue.zip(weight));
            }
            (Announce::Sub(weight), None) => encode_sub(out, account, subject, queue.zip(weight)),
            (Announce::Unsub, Some(_)) => encode_origin_unsub(out, account, subject, queue),
            (Announce::Unsub, None) => encode_unsub(out, account, subject, queue),
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
        kind: OriginKind,
        delta: i64,
    ) -> InterestChange {
        InterestChange {
            account: "$G".into(),
            subject: Bytes::from_static(subject.as_bytes()),
            queue: queue.map(|q| Bytes::from_static(q.as_bytes())),
            origin: Origin {
                cid: 1,
                kind,
                cluster: None,
            },
            delta,
        }
    }

    #[test]
    fn as_nats_server_announces_it() {
        // cluster.md §4.2's transcript, and what a route does not pass on.
        let link = Arc::new(Link::new(7, 1 << 20));
        let route = RouteInterest::new(
            Arc::clone(&link),
            Bytes::from_static(b"$G"),
            &[],
            (None, false),
        );
        for (subject, queue, delta) in [
            ("foo", None, 1),
            ("bar.*", Some("q1"), 1),
            ("bar.*", Some("q1"), 1),
            ("baz.>", None, 1),
            ("foo", None, 1),
            ("foo", None, -1),
            ("foo", None, -1),
            ("bar.*", Some("q1"), -1),
            ("bar.*", Some("q1"), -1),
            ("baz.>", None, -1),
        ] {
            route.changed(&change(subject, queue, OriginKind::Local, delta));
        }
        route.changed(&change("from.route", None, OriginKind::Route, 1));
        route.changed(&change("from.hub", None, OriginKind::LeafSpoke, 1));
        route.changed(&change("from.spoke", None, OriginKind::LeafHub, 1));
        let mut out = BytesMut::new();
        link.take_outbound(&mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "RS+ $G foo\r\nRS+ $G bar.* q1 1\r\nRS+ $G bar.* q1 2\r\nRS+ $G baz.>\r\n\
RS- $G foo\r\nRS+ $G bar.* q1 1\r\nRS- $G bar.* q1\r\nRS- $G baz.>\r\nRS+ $G from.spoke\r\n"
        );
    }

    #[test]
    fn a_leafs_interest_names_its_cluster_to_lnoc_peers() {
        // cluster.md §4.4's transcript (leaf LEAF1 attached to A, route A→B).
        let link = Arc::new(Link::new(7, 1 << 20));
        let route = RouteInterest::new(
            Arc::clone(&link),
            Bytes::from_static(b"$G"),
            &[],
            (None, true),
        );
        let leaf = |subject, queue, delta| InterestChange {
            origin: Origin {
                cid: 2,
                kind: OriginKind::LeafHub,
                cluster: Some(Bytes::from_static(b"LEAF1")),
            },
            ..change(subject, queue, OriginKind::LeafHub, delta)
        };
        route.changed(&leaf("lsub", None, 1));
        route.changed(&leaf("lq", Some("qq"), 1));
        route.changed(&leaf("lsub", None, -1));
        route.changed(&leaf("lq", Some("qq"), -1));
        route.changed(&change("local", None, OriginKind::Local, 1));
        let mut out = BytesMut::new();
        link.take_outbound(&mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "LS+ LEAF1 $G lsub\r\nLS+ LEAF1 $G lq qq 1\r\nLS-  $G lsub\r\nLS-  $G lq qq\r\n\
RS+ $G local\r\n"
        );
    }
}
