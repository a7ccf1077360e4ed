//! Service latency tracking on a connection's path: a request to a
//! tracked service is sampled as it crosses accounts, its response (or
//! the lack of one) ends the measurement, and a request that came over a
//! route or leaf link tagged for tracking is measured here for the
//! requester's server. What is measured goes to the system service,
//! which builds and publishes the JSON.

use std::sync::{Arc, Weak};
use std::time::Instant;

use bytes::Bytes;
use starling_proto::Publish;

use super::state::ClientState;
use crate::account::RemoteTrack;
use crate::account::latency::{Outcome, Report, Tracked, sample};
use crate::account::links::{Responses, ServiceRoute};
use crate::account::{OriginKind, Subscription};
use crate::broker::stats::unix_nanos_now;
use crate::broker::system::{LatencyEvent, SystemEvent};
use crate::service_latency::client_info;

/// A measured request this connection made, still out.
#[derive(Debug)]
pub(crate) struct Measured {
    responses: Weak<Responses>,
    /// Its `_R_.` subject.
    route: Bytes,
    /// The requester's own reply subject.
    reply: Bytes,
}

/// Measured requests past which those already ended are forgotten.
const MEASURED_PRUNE_AT: usize = 64;

impl ClientState {
    /// Whether this request to `service` is measured; a measured one
    /// without a reply subject is reported (400) at once.
    pub(super) fn sample_request(
        &mut self,
        service: &ServiceRoute,
        publish: &Publish,
    ) -> Option<Box<Tracked>> {
        let latency = service.latency.as_ref()?;
        self.broker.system.as_ref()?;
        let draw = u32::try_from(self.rng.below(100)).unwrap_or(0);
        let header = sample(latency.sampling, draw, publish.headers())?;
        let tracked = Box::new(Tracked {
            exporter: Arc::clone(&service.exporter),
            results: Arc::clone(&latency.results),
            requestor: Arc::clone(&self.me),
            share: service.share,
            at: self.now.instant,
            at_unix: unix_nanos_now(),
            header,
        });
        if publish.reply().is_none() {
            self.report_latency(tracked, Outcome::BadRequest);
            return None;
        }
        Some(tracked)
    }

    /// The tag a measured request's reply subject ends with, so the
    /// server its service is on measures its part for this one.
    pub(super) fn tracking_tag(&self) -> Option<&str> {
        self.broker.system.as_ref().map(|s| s.latency_hash.as_str())
    }

    /// A measured request went out on `reply` (in `responses`): unless
    /// someone took it (503 now), its threshold ends it (504), or its
    /// requester leaving does (408).
    pub(super) fn watch_request(
        &mut self,
        responses: &Arc<Responses>,
        (route, reply): (&Bytes, &[u8]),
        delivered: bool,
        until: Instant,
    ) {
        if !delivered {
            if let Some(tracked) = responses.take_tracked(route) {
                self.report_latency(tracked, Outcome::NoDelivery);
            }
            return;
        }
        self.notify_latency(LatencyEvent::Watch {
            responses: Arc::downgrade(responses),
            reply: route.clone(),
            until,
            requestor: self.me.link.cid,
        });
        // At each power of two past the mark: O(1) per request amortized.
        let len = self.measured.len();
        if len >= MEASURED_PRUNE_AT && len.is_power_of_two() {
            self.measured.retain(|m| {
                m.responses
                    .upgrade()
                    .is_some_and(|r| r.is_tracked(&m.route))
            });
        }
        self.measured.push(Measured {
            responses: Arc::downgrade(responses),
            route: route.clone(),
            reply: Bytes::copy_from_slice(reply),
        });
    }

    /// A subscription `filter` of this connection went: a measured
    /// request whose reply subject nobody in the account listens to any
    /// more has lost its requester (408, as nats-server's reverse entries).
    pub(super) fn reply_interest_gone(&mut self, filter: &[u8]) {
        if self.measured.is_empty() {
            return;
        }
        let account = Arc::clone(&self.account);
        let (gone, kept): (Vec<Measured>, Vec<Measured>) = std::mem::take(&mut self.measured)
            .into_iter()
            .partition(|m| {
                starling_subject::matches(filter, &m.reply) && {
                    let matches = account.lookup(&m.reply);
                    matches.plain.is_empty() && matches.queues.is_empty()
                }
            });
        self.measured = kept;
        for measured in gone {
            let tracked = measured
                .responses
                .upgrade()
                .and_then(|r| r.take_tracked(&measured.route));
            if let Some(tracked) = tracked {
                self.report_latency(tracked, Outcome::InterestLost);
            }
        }
    }

    /// A response ended a measured request: this connection answered it
    /// (a client here, or a route or leaf link for a service elsewhere,
    /// whose server's measurement completes this one).
    pub(super) fn answered(&self, tracked: Box<Tracked>, reply_subject: &[u8]) {
        let service = self.now.instant.saturating_duration_since(tracked.at);
        let remote = (self.me.kind() != OriginKind::Local)
            .then(|| String::from_utf8_lossy(reply_subject).into_owned());
        let outcome = Outcome::Answered {
            responder: Arc::clone(&self.me),
            service,
            remote,
        };
        self.report_latency(tracked, outcome);
    }

    /// A tagged request from another server reached `sub`: if it is for
    /// one of the account's tracked services, its response is measured
    /// here for the requester's server (nats-server's `trackRemoteReply`).
    pub(super) fn track_remote_reply(&self, sub: &Subscription, subject: &[u8], reply: &[u8]) {
        if sub.subscriber.kind() != OriginKind::Local || self.broker.system.is_none() {
            return;
        }
        let table = self.broker.table();
        let Some(links) = table.links.get(&sub.account.name) else {
            return;
        };
        let Some((_, threshold)) = links
            .tracked_exports
            .iter()
            .find(|(filter, _)| starling_subject::matches(filter, subject))
        else {
            return;
        };
        let at = self.now.instant;
        sub.subscriber.track_remote(
            reply,
            RemoteTrack {
                account: sub.account.name.clone(),
                at,
                at_unix: unix_nanos_now(),
                until: at + *threshold,
            },
        );
    }

    /// A client's publish on `subject`: if it answers a request measured
    /// for another server, that server gets this server's half (M2).
    pub(super) fn answer_remote(&self, subject: &[u8]) {
        let Some(track) = self.me.remote_tracked(subject) else {
            return;
        };
        self.notify_latency(LatencyEvent::Remote {
            responder: Arc::clone(&self.me),
            reply: String::from_utf8_lossy(subject).into_owned(),
            track,
            at: self.now.instant,
        });
    }

    /// The `Nats-Request-Info` line of an import that shares: the
    /// requester in full (nats-server's detailed `ClientInfo`).
    pub(super) fn shared_request_info(&self) -> Vec<u8> {
        let info = client_info(&self.broker, &self.me, true);
        let mut line = b"Nats-Request-Info: ".to_vec();
        line.extend(serde_json::to_vec(&info).unwrap_or_default());
        line.extend_from_slice(b"\r\n");
        line
    }

    pub(super) fn report_latency(&self, tracked: Box<Tracked>, outcome: Outcome) {
        self.notify_latency(LatencyEvent::Report(Box::new(Report {
            tracked,
            outcome,
            at: Instant::now(),
        })));
    }

    fn notify_latency(&self, event: LatencyEvent) {
        if let Some(system) = &self.broker.system {
            system.notify(SystemEvent::Latency(event));
        }
    }
}
