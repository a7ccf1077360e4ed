//! PUB and HPUB: permission checks, then delivery to every matching
//! subscription in the account (one member of each queue group), across
//! exports and imports, and the no-responders reply.

use std::sync::Arc;

use bytes::Bytes;
use starling_auth::links::ResponseType;
use starling_proto::{ErrReply, Publish, encode};
use starling_router::Matches;

use super::delivery::{HeadedMessage, Route};
use super::group::forwards;
use super::mapping::Mapped;
use super::state::ClientState;
use crate::account::links::{AccountLinks, Pending, RESPONSE_PREFIX};
use crate::account::{Account, SubHandle, Subscription};
use crate::link::CloseReason;

/// Reply prefixes reserved for the server's own use (nats-server's
/// `isReservedReply`), and the gateway prefix clients may not publish to.
const RESERVED_REPLY_PREFIXES: [&[u8]; 3] = [b"_R_.", b"$JS.ACK.", b"_GR_."];
const GATEWAY_REPLY_PREFIX: &[u8] = b"_GR_.";
/// The system account's requests (some are imported by every account).
const SYSTEM_REQUEST_PREFIX: &[u8] = b"$SYS.REQ.";

/// Publish decisions kept per connection before the cache is cleared.
const PUBLISH_CACHE: usize = 256;

impl ClientState {
    pub(super) fn handle_publish(&mut self, publish: &Publish) -> Result<(), CloseReason> {
        if publish.is_hpub() && !self.flags.headers {
            tracing::debug!(cid = self.cid(), "message headers not supported");
            return Err(CloseReason::ProtocolViolation);
        }
        self.touch();
        self.count_publish(publish.message().len());
        if self.flags.pedantic && !starling_subject::is_valid_literal(publish.subject()) {
            // nats-server reports the subject and still routes the message.
            self.send_err(ErrReply::InvalidPublishSubject);
        }
        let mut mapped = std::mem::take(&mut self.mapper.buffer);
        let result = match self.map_own(publish.subject(), &mut mapped) {
            Mapped::Same => self.publish_on(publish.subject(), publish),
            Mapped::To => self.publish_on(&mapped, publish),
            Mapped::Lost => {
                self.ok();
                Ok(())
            }
        };
        self.mapper.buffer = mapped;
        result
    }

    /// A client's message on `subject` (its own, or the one a mapping
    /// gave it).
    fn publish_on(&mut self, subject: &[u8], publish: &Publish) -> Result<(), CloseReason> {
        if has_prefix(subject, GATEWAY_REPLY_PREFIX) || !self.may_publish(subject) {
            tracing::debug!(
                cid = self.cid(),
                "Publish Violation on {}",
                String::from_utf8_lossy(subject)
            );
            self.send_err(ErrReply::PublishViolation(subject));
            return Ok(());
        }
        if let Some(reply) = publish.reply()
            && RESERVED_REPLY_PREFIXES.iter().any(|p| has_prefix(reply, p))
        {
            self.send_err(ErrReply::PublishReplyViolation(reply));
            return Ok(());
        }
        self.ok();
        self.answer_remote(subject);
        let matches = self.lookup(subject);
        let route = Route {
            subject,
            reply: publish.reply(),
            message: None,
        };
        let mut delivered = self.deliver_all(&matches, publish, route);
        if let Some(links) = self.links.clone() {
            delivered |= self.cross_accounts(&links, publish, subject);
        }
        delivered |= self.system_request(publish, subject);
        if !delivered
            && self.flags.no_responders
            && let Some(reply) = publish.reply()
            && let Some(sub) = self.me.subscription_matching(reply)
        {
            self.send_with(|out| encode::no_responders(out, reply, &sub.sid));
        }
        Ok(())
    }

    /// Delivers to every plain match and one member of each queue group;
    /// a leaf link or route gets one message for all its matches, naming
    /// the queue groups it must serve. What came from a route goes on to
    /// no route (one hop), nor to a hub.
    pub(super) fn deliver_all(
        &mut self,
        matches: &Matches<SubHandle>,
        publish: &Publish,
        route: Route<'_>,
    ) -> bool {
        let mut delivered = false;
        for SubHandle(sub) in &matches.plain {
            if self.is_own_echo(sub) {
                continue;
            }
            if sub.subscriber.is_link() {
                if forwards(self.me.kind(), sub.subscriber.kind())
                    && !self.leaf.back_to_origin(&sub.subscriber)
                    && !sub.subscriber.delivery_denied(sub, route.subject)
                {
                    self.leaf.target(&sub.subscriber, None);
                }
                continue;
            }
            delivered |= self.deliver(sub, publish, route);
        }
        for group in &matches.queues {
            if !self.leaf.serves(&group.name) {
                continue;
            }
            delivered |= self.deliver_to_group(&group.members, &group.name, publish, route);
        }
        if self.leaf.has_targets() {
            delivered |= self.deliver_to_leafs(publish, route);
        }
        delivered
    }

    /// Exports and imports: a response owed to another account, stream
    /// importers of this subject, and a service this account imports.
    pub(super) fn cross_accounts(
        &mut self,
        links: &AccountLinks,
        publish: &Publish,
        subject: &[u8],
    ) -> bool {
        let now = self.now.instant;
        let mut delivered = false;
        let mut mapped = Vec::new();
        if subject.starts_with(RESPONSE_PREFIX)
            && let Some(taken) = links.responses.take(subject, now)
        {
            let matches = taken.importer.lookup(&taken.reply);
            let route = Route {
                subject: &taken.reply,
                reply: None,
                message: None,
            };
            delivered |= self.deliver_all(&matches, publish, route);
            if let Some(tracked) = taken.tracked {
                self.answered(tracked, subject);
            }
        }
        for feed in &links.streams {
            if !starling_subject::matches(&feed.filter, subject) {
                continue;
            }
            let local = match &feed.transform {
                Some(transform) if transform.apply(subject, &mut mapped) => &mapped[..],
                Some(_) => continue,
                None => subject,
            };
            let matches = feed.importer.lookup(local);
            let route = Route {
                subject: local,
                reply: publish.reply(),
                message: None,
            };
            delivered |= self.deliver_all(&matches, publish, route);
        }
        delivered | self.request_service(links, publish, subject)
    }

    /// A service `links` imports, if the subject is one: the request goes
    /// to the exporter with a reply subject that routes the responses back.
    /// A request to the system account's services this account imports
    /// (`$SYS.REQ.SERVER.PING.CONNZ`...): true if one took it.
    pub(super) fn system_request(&mut self, publish: &Publish, subject: &[u8]) -> bool {
        if !has_prefix(subject, SYSTEM_REQUEST_PREFIX) {
            return false;
        }
        match self.broker.system_imports(&self.account) {
            Some(imports) => self.request_service(&imports, publish, subject),
            None => false,
        }
    }

    fn request_service(&mut self, links: &AccountLinks, publish: &Publish, subject: &[u8]) -> bool {
        let now = self.now.instant;
        let mut mapped = Vec::new();
        let Some(service) = links
            .services
            .iter()
            .find(|s| starling_subject::matches(&s.local, subject))
        else {
            return false;
        };
        let target = match &service.transform {
            Some(transform) if transform.apply(subject, &mut mapped) => &mapped[..],
            Some(_) => return false,
            None => subject,
        };
        // The exporter's mappings apply as the request enters its account.
        let mut remapped = Vec::new();
        let target = match self.map_by(&service.exporter, target, &mut remapped) {
            Mapped::Same => target,
            Mapped::To => &remapped[..],
            Mapped::Lost => return false,
        };
        let once = service.response == ResponseType::Singleton;
        let tracked = self
            .sample_request(service, publish)
            .filter(|_| once && publish.reply().is_some());
        let watched = tracked.is_some();
        let reply = publish.reply().map(|reply| {
            let mut token = format!("{}.{}", self.broker.reply_prefix, self.rng.token());
            if let Some(tag) = self.tracking_tag().filter(|_| watched) {
                token.push('.');
                token.push_str(tag);
                token.push_str(".T");
            }
            service.responses.open(
                &token,
                Pending {
                    importer: Arc::clone(&self.account),
                    reply: Bytes::copy_from_slice(reply),
                    once,
                    until: now + service.threshold,
                    tracked,
                },
                now,
            )
        });
        let shared;
        let info: &[u8] = if service.share {
            shared = self.shared_request_info();
            &shared
        } else {
            &links.request_info
        };
        let message = HeadedMessage::with_request_info(publish, info);
        let matches = service.exporter.lookup(target);
        let route = Route {
            subject: target,
            reply: reply.as_deref(),
            message: Some(&message),
        };
        let taken = self.deliver_all(&matches, publish, route);
        if watched && let (Some(route), Some(reply)) = (&reply, publish.reply()) {
            let until = now + service.threshold;
            self.watch_request(&service.responses, (route, reply), taken, until);
        }
        // Nobody in the exporter took it: the requester hears 503 at once
        // (a deliberate difference, see docs/compatibility.md).
        taken
    }

    pub(super) fn lookup(&mut self, subject: &[u8]) -> Arc<Matches<SubHandle>> {
        let account: &Account = &self.account;
        let generation = account.generation();
        let last = &mut self.last_lookup;
        if let Some(matches) = &last.matches
            && last.generation == generation
            && last.subject == subject
        {
            return Arc::clone(matches);
        }
        let matches = account.lookup(subject);
        last.generation = generation;
        last.subject.clear();
        last.subject.extend_from_slice(subject);
        last.matches = Some(Arc::clone(&matches));
        matches
    }

    fn may_publish(&mut self, subject: &[u8]) -> bool {
        let Some(permissions) = &self.permissions else {
            return true;
        };
        let now = self.now.instant;
        if let Some(&allowed) = self.publish_allowed.get(subject) {
            return allowed || self.me.may_respond(subject, now);
        }
        let allowed = permissions.can_publish(subject);
        if self.publish_allowed.len() >= PUBLISH_CACHE {
            self.publish_allowed.clear();
        }
        self.publish_allowed.insert(subject.to_vec(), allowed);
        // Replies are decided each time (they are counted), never cached.
        allowed || self.me.may_respond(subject, now)
    }

    pub(super) fn is_own_echo(&self, sub: &Subscription) -> bool {
        !self.flags.echo && Arc::ptr_eq(&sub.subscriber, &self.me)
    }
}

fn has_prefix(subject: &[u8], prefix: &[u8]) -> bool {
    subject.len() > prefix.len() && subject.starts_with(prefix)
}
