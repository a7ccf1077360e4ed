//! Queue groups: which member of a group gets a message, and which links
//! a message may go on to (`cluster.md` §5.2–5.3, `leafnode.md` §3.4).
//!
//! A client's message picks its member cluster-wide: local members count
//! one each, a route's member its `RS+` weight (the members behind it),
//! as nats-server draws them; leaf members serve only when nothing else
//! does, chosen by their `LS+` weights. A message from a route serves
//! local members (then a leaf), never another route.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use starling_proto::Publish;

use super::delivery::Route;
use super::state::ClientState;
use crate::account::{OriginKind, SubHandle, Subscription};

/// Whether a message that came from a `from` connection may go on to a
/// `to` link: nothing crosses two routes, nor goes from a route or a hub
/// to a route, nor from a route to a hub (the hub's cluster has it).
pub(super) fn forwards(from: OriginKind, to: OriginKind) -> bool {
    match to {
        OriginKind::Route => matches!(from, OriginKind::Local | OriginKind::LeafHub),
        OriginKind::LeafSpoke => from != OriginKind::Route,
        OriginKind::LeafHub | OriginKind::Local => true,
    }
}

/// One pass of weighted reservoir sampling: `candidate` replaces the pick
/// with probability `weight / total`.
fn sample<'a>(
    rng: &mut crate::identity::FastRng,
    (pick, total): &mut (Option<&'a Arc<Subscription>>, usize),
    candidate: &'a Arc<Subscription>,
) {
    let weight = candidate.weight.load(Ordering::Relaxed).max(1) as usize;
    *total += weight;
    if rng.below(*total) < weight {
        *pick = Some(candidate);
    }
}

impl ClientState {
    /// One member of a queue group (see the module's rules); `true` when
    /// one took the message.
    pub(super) fn deliver_to_group(
        &mut self,
        members: &[SubHandle],
        name: &Bytes,
        publish: &Publish,
        route: Route<'_>,
    ) -> bool {
        let from = self.me.kind();
        let mut locals = 0usize;
        let mut routed: (Option<&Arc<Subscription>>, usize) = (None, 0);
        let mut leafed: (Option<&Arc<Subscription>>, usize) = (None, 0);
        for SubHandle(sub) in members {
            let kind = sub.subscriber.kind();
            if kind == OriginKind::Local {
                locals += usize::from(!self.is_own_echo(sub));
            } else if forwards(from, kind)
                && !self.leaf.back_to_origin(&sub.subscriber)
                && !sub.subscriber.link.is_closed()
                && !sub.subscriber.delivery_denied(sub, route.subject)
            {
                let reservoir = if kind == OriginKind::Route {
                    &mut routed
                } else {
                    &mut leafed
                };
                sample(&mut self.rng, reservoir, sub);
            }
        }
        // A route's members weigh as many local ones.
        let remote_first = routed.1 > 0 && self.rng.below(locals + routed.1) >= locals;
        if !remote_first && locals > 0 {
            let start = self.rng.below(members.len());
            for i in 0..members.len() {
                let SubHandle(sub) = &members[(start + i) % members.len()];
                if sub.subscriber.kind() == OriginKind::Local
                    && !self.is_own_echo(sub)
                    && self.deliver(sub, publish, route)
                {
                    return true;
                }
            }
        }
        match routed.0.or(leafed.0) {
            Some(sub) => {
                let subscriber = Arc::clone(&sub.subscriber);
                self.leaf.target(&subscriber, Some(name));
                true
            }
            None => false,
        }
    }
}
