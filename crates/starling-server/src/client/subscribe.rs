//! SUB and UNSUB: permissions and limits, then the subscription enters or
//! leaves the account (router and interest together).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use starling_proto::{ErrReply, Subscribe, Unsubscribe};

use super::state::ClientState;
use crate::account::Subscription;

impl ClientState {
    pub(super) fn handle_subscribe(&mut self, op: &Subscribe) {
        self.touch();
        self.count_activity();
        if let Some(permissions) = &self.permissions {
            let (subject, queue) = (op.subject(), op.queue());
            if !permissions.can_subscribe(&subject, queue.as_deref()) {
                let reply = match &queue {
                    Some(queue) => ErrReply::QueueSubscriptionViolation(&subject, queue),
                    None => ErrReply::SubscriptionViolation(&subject),
                };
                tracing::debug!(
                    cid = self.cid(),
                    "Subscription Violation on {}",
                    String::from_utf8_lossy(&subject)
                );
                self.send_err(reply);
                return;
            }
        }
        let max_tokens = self.broker.options.max_sub_tokens;
        let subject = op.subject();
        if max_tokens > 0 && subject.split(|&b| b == b'.').count() > usize::from(max_tokens) {
            tracing::error!(
                cid = self.cid(),
                "Subscription Violation Too Many Tokens - Subject {:?}",
                String::from_utf8_lossy(&subject)
            );
            self.send_err(ErrReply::TooManySubjectTokens(&subject));
            return;
        }
        let server_max = Some(self.broker.options.max_subscriptions).filter(|&m| m > 0);
        let max_subs = match (server_max, self.user_max_subscriptions) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if max_subs.is_some_and(|max| self.me.subscription_count() >= max) {
            self.send_err(ErrReply::MaxSubscriptionsExceeded);
            return;
        }
        if !starling_subject::is_valid_filter(&op.subject()) {
            self.send_err(ErrReply::InvalidSubject);
            return;
        }
        // Copied out of the read buffer (nats-server copies too): a slice
        // would keep the whole buffer, up to max_payload, alive as long as
        // the subscription lives.
        let op = op.detached();
        let sub = Arc::new(Subscription {
            subscriber: Arc::clone(&self.me),
            account: Arc::clone(&self.account),
            subject: op.subject(),
            queue: op.queue(),
            sid: op.sid_bytes(),
            max: 0.into(),
            delivered: 0.into(),
            weight: 1.into(),
            origin_cluster: None,
        });
        if self.me.add_subscription(&sub) && self.account.subscribe(&sub).is_err() {
            self.me.forget_subscription(&sub);
            self.send_err(ErrReply::InvalidSubject);
            return;
        }
        self.ok();
    }

    pub(super) fn handle_unsubscribe(&mut self, op: &Unsubscribe) {
        self.touch();
        self.count_activity();
        self.ok();
        let Some(sub) = self.me.subscription(op.sid()) else {
            return;
        };
        match op.max() {
            Some(max) if max > 0 && max > sub.delivered.load(Ordering::Relaxed) => {
                sub.max.store(max, Ordering::Relaxed);
            }
            _ => {
                sub.remove();
                self.reply_interest_gone(&sub.subject);
            }
        }
    }
}
