//! Service latency measurements, as the system service publishes them:
//! nats-server's `ServiceLatency` JSON on the export's results subject in
//! the exporting account, the clocks its requests' deadlines run on, and
//! the two halves of a measurement whose service is on another server
//! (this server's, M1, waits for the responder's server's, M2, sent to
//! `$SYS.LATENCY.M2.<this server's hash>`, and the two are merged as
//! nats-server merges them).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::account::Account;
use crate::account::latency::{Outcome, Report, reply_server_hash};
use crate::broker::Broker;
use crate::broker::stats::unix_nanos_now;
use crate::broker::system::LatencyEvent;
use crate::client::InternalClient;
use crate::identity::FastRng;
use crate::monitor::format::rfc3339;
use crate::service_latency::{
    GO_ZERO_TIME, RemoteLatency, SERVICE_LATENCY, ServiceLatency, client_info, measure, merge,
    nanos, sanitize,
};

/// Half measurements (or early M2s) kept at most, and for how long.
const MAX_HALVES: usize = 65_536;
const HALF_LIFE: Duration = Duration::from_secs(120);

/// A watched request.
struct Watch {
    responses: std::sync::Weak<crate::account::links::Responses>,
    reply: bytes::Bytes,
    requestor: u64,
}

/// A half measurement waiting for its other half.
enum Half {
    /// This server's M1, with where it goes.
    Mine(ServiceLatency, Arc<Account>, Arc<str>),
    /// The responder's server's M2, come first.
    Theirs(ServiceLatency),
}

/// The system service's latency state.
#[derive(Default)]
pub(super) struct Latency {
    /// Watched requests by deadline (and a sequence number).
    deadlines: BTreeMap<(Instant, u64), Watch>,
    /// Their keys by requesting connection.
    by_requestor: HashMap<u64, Vec<(Instant, u64)>>,
    seq: u64,
    /// The size at which answered requests are next swept out.
    next_sweep: usize,
    halves: HashMap<String, (Half, Instant)>,
    halves_pruned: Option<Instant>,
}

/// Watched requests past which answered ones are swept out.
const SWEEP_AT: usize = 4096;

/// A measurement ready to publish: in `account`, on `subject`.
pub(super) struct Publish {
    pub(super) account: Arc<Account>,
    pub(super) subject: Arc<str>,
    body: Body,
}

enum Body {
    /// A whole measurement, for the export's results subject.
    Measurement(ServiceLatency),
    /// This server's half, for the requester's server.
    Remote(RemoteLatency),
}

impl Publish {
    fn measurement(account: Arc<Account>, subject: Arc<str>, m: ServiceLatency) -> Self {
        Self {
            account,
            subject,
            body: Body::Measurement(m),
        }
    }

    /// Stamps a measurement (type, id, time) and encodes it.
    pub(super) fn payload(self, id: String, now: u64) -> (Arc<Account>, Arc<str>, Vec<u8>) {
        let bytes = match self.body {
            Body::Measurement(mut m) => {
                m.kind = SERVICE_LATENCY.into();
                m.id = id;
                m.timestamp = rfc3339(now);
                serde_json::to_vec(&m)
            }
            Body::Remote(remote) => serde_json::to_vec(&remote),
        };
        (self.account, self.subject, bytes.unwrap_or_default())
    }
}

impl Latency {
    /// The next deadline, if any request is watched.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.keys().next().map(|(at, _)| *at)
    }

    /// Takes an event; returns what is ready to publish.
    pub(super) fn event(&mut self, broker: &Broker, event: LatencyEvent) -> Option<Publish> {
        match event {
            LatencyEvent::Report(report) => self.report(broker, &report),
            LatencyEvent::Watch {
                responses,
                reply,
                until,
                requestor,
            } => {
                if self.deadlines.len() >= self.next_sweep.max(SWEEP_AT) {
                    self.sweep();
                }
                self.seq += 1;
                let key = (until, self.seq);
                self.deadlines.insert(
                    key,
                    Watch {
                        responses,
                        reply,
                        requestor,
                    },
                );
                self.by_requestor.entry(requestor).or_default().push(key);
                None
            }
            LatencyEvent::Remote {
                responder,
                reply,
                track,
                at,
            } => {
                let system = broker.system.as_ref()?;
                let hash = reply_server_hash(reply.as_bytes())?;
                let subject = format!("$SYS.LATENCY.M2.{}", String::from_utf8_lossy(hash));
                let info = client_info(broker, &responder, true);
                let service = nanos(at.saturating_duration_since(track.at)) - info.rtt;
                let mut m2 = ServiceLatency {
                    timestamp: GO_ZERO_TIME.into(),
                    status: 200,
                    start: rfc3339(track.at_unix),
                    service,
                    total: service + info.rtt,
                    responder: Some(info),
                    ..ServiceLatency::default()
                };
                sanitize(&mut m2);
                Some(Publish {
                    account: Arc::clone(&system.account),
                    subject: Arc::from(subject.as_str()),
                    body: Body::Remote(RemoteLatency {
                        account: track.account,
                        req_id: reply,
                        m2,
                    }),
                })
            }
        }
    }

    fn report(&mut self, broker: &Broker, report: &Report) -> Option<Publish> {
        let (mut m1, remote) = measure(broker, report);
        let account = Arc::clone(&report.tracked.exporter);
        let subject = Arc::clone(&report.tracked.results);
        if let Some(reply) = remote {
            match self.halves.remove(&reply) {
                Some((Half::Theirs(m2), _)) => merge(&mut m1, m2),
                _ => {
                    self.keep(reply, Half::Mine(m1, account, subject));
                    return None;
                }
            }
        }
        Some(Publish::measurement(account, subject, m1))
    }

    fn keep(&mut self, reply: String, half: Half) {
        let now = Instant::now();
        // Full: the expired ones go, once a second at most.
        let due = self
            .halves_pruned
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1));
        if self.halves.len() >= MAX_HALVES && due {
            self.halves.retain(|_, (_, until)| *until > now);
            self.halves_pruned = Some(now);
        }
        if self.halves.len() < MAX_HALVES {
            self.halves.insert(reply, (half, now + HALF_LIFE));
        }
    }

    /// A responder's server's measurement (`$SYS.LATENCY.M2.<hash>`).
    pub(super) fn remote(&mut self, payload: &[u8]) -> Option<Publish> {
        let remote: RemoteLatency = serde_json::from_slice(payload)
            .inspect_err(|e| tracing::error!("Error unmarshalling remote latency measurement: {e}"))
            .ok()?;
        match self.halves.remove(&remote.req_id) {
            Some((Half::Mine(mut m1, account, subject), _)) => {
                merge(&mut m1, remote.m2);
                Some(Publish::measurement(account, subject, m1))
            }
            _ => {
                self.keep(remote.req_id, Half::Theirs(remote.m2));
                None
            }
        }
    }

    /// Ends the watched requests due by `now` that are still unanswered
    /// (504, or 408 for a requester that left).
    pub(super) fn expire(&mut self, broker: &Broker, now: Instant) -> Vec<Publish> {
        let mut due = Vec::new();
        while let Some(entry) = self.deadlines.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (key, watch) = entry.remove_entry();
            self.unindex(watch.requestor, key);
            due.push(watch);
        }
        due.into_iter()
            .filter_map(|watch| {
                let outcome = match broker.connection(watch.requestor) {
                    Some(_) => Outcome::Timeout,
                    None => Outcome::InterestLost,
                };
                self.end(broker, &watch, outcome)
            })
            .collect()
    }

    /// The connection `cid` closed: its watched requests end (408).
    pub(super) fn closed(&mut self, broker: &Broker, cid: u64) -> Vec<Publish> {
        let keys = self.by_requestor.remove(&cid).unwrap_or_default();
        let watches: Vec<Watch> = keys
            .into_iter()
            .filter_map(|key| self.deadlines.remove(&key))
            .collect();
        watches
            .into_iter()
            .filter_map(|watch| self.end(broker, &watch, Outcome::InterestLost))
            .collect()
    }

    /// Forgets the watched requests that were answered (twice what is
    /// left is the next sweep's size, so sweeping is O(1) per watch).
    fn sweep(&mut self) {
        self.deadlines.retain(|_, watch| {
            watch
                .responses
                .upgrade()
                .is_some_and(|r| r.is_tracked(&watch.reply))
        });
        self.by_requestor.clear();
        for (key, watch) in &self.deadlines {
            self.by_requestor
                .entry(watch.requestor)
                .or_default()
                .push(*key);
        }
        self.next_sweep = self.deadlines.len().saturating_mul(2);
    }

    fn unindex(&mut self, requestor: u64, key: (Instant, u64)) {
        if let Some(keys) = self.by_requestor.get_mut(&requestor) {
            keys.retain(|k| *k != key);
            if keys.is_empty() {
                self.by_requestor.remove(&requestor);
            }
        }
    }

    fn end(&mut self, broker: &Broker, watch: &Watch, outcome: Outcome) -> Option<Publish> {
        let tracked = watch.responses.upgrade()?.take_tracked(&watch.reply)?;
        let report = Report {
            tracked,
            outcome,
            at: Instant::now(),
        };
        self.report(broker, &report)
    }
}

/// Exporting accounts whose publishing clients are kept at most.
const MAX_PUBLISHERS: usize = 1024;

/// Clients that publish measurements, one per account (replaced when the
/// account is).
#[derive(Default)]
pub(super) struct Publishers(HashMap<String, (Arc<Account>, InternalClient)>);

impl Publishers {
    /// Publishes each measurement in its account, stamped.
    pub(super) fn publish(&mut self, broker: &Arc<Broker>, rng: &mut FastRng, ready: Vec<Publish>) {
        for measurement in ready {
            let id = super::events::event_id(rng);
            let (account, subject, payload) = measurement.payload(id, unix_nanos_now());
            if self.0.len() >= MAX_PUBLISHERS {
                self.0.clear();
            }
            let stale = self
                .0
                .get(&account.name)
                .is_none_or(|(a, _)| !Arc::ptr_eq(a, &account));
            if stale {
                let client = InternalClient::new(Arc::clone(broker), Arc::clone(&account));
                self.0
                    .insert(account.name.clone(), (Arc::clone(&account), client));
            }
            if let Some((_, client)) = self.0.get_mut(&account.name) {
                client.publish(&subject, None, None, &payload);
            }
        }
    }
}
