//! The system account's services: a client inside the broker, in the
//! system account, that answers the `$SYS.REQ...` monitoring requests with
//! nats-server's envelopes, and announces what happens (clients connecting
//! and disconnecting, refused logins, account connection counts, the
//! server's periodic STATSZ, its shutdown) on nats-server's subjects.
//!
//! Requests reach it as any subscriber's messages do (so only users of the
//! system account can make them); its answers are built on the blocking
//! pool (they walk every connection) and published through its own
//! [`InternalClient`]. Events are built only when someone listens.

mod announce;
mod claims;
mod events;
mod filter;
mod inbox;
mod latency;
mod lookup;
mod pack;
mod requests;

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::broker::Broker;
use crate::broker::stats::unix_nanos_now;
use crate::broker::system::SystemEvent;
use crate::client::InternalClient;
use crate::identity::FastRng;
use crate::monitor::Monitor;
pub(crate) use lookup::lookup_account;
pub(crate) use requests::Body;
use requests::Kind;

/// The first STATSZ heartbeat comes this soon after start; the interval
/// then doubles up to [`STATSZ_EVERY`] (nats-server's).
const STATSZ_FIRST: Duration = Duration::from_millis(250);
const STATSZ_EVERY: Duration = Duration::from_secs(30);
/// Events handled in one go (their account counts are sent once).
const EVENT_BATCH: usize = 1024;

/// The running service.
struct Service {
    broker: Arc<Broker>,
    monitor: Arc<Monitor>,
    client: InternalClient,
    table: Arc<Vec<(String, Kind)>>,
    /// Messages sent (`seq` in every message's `server`).
    seq: u64,
    rng: FastRng,
    latency: latency::Latency,
    publishers: latency::Publishers,
    /// A full resolver's directory, sync interval and pack reply inbox.
    sync: Option<(std::path::PathBuf, Duration, String)>,
}

/// Starts the system account's services (its subscriptions are in place
/// when this returns); they run until the server stops, then announce the
/// shutdown. Nothing to start without a system account.
pub(crate) fn start(
    broker: &Arc<Broker>,
    monitor: Arc<Monitor>,
    stopped: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let system = broker.system.as_ref()?;
    let events = system.take_inbox()?;
    let client = InternalClient::new(Arc::clone(broker), Arc::clone(&system.account));
    let claims = crate::resolver::directory(broker.auth().config()).is_some();
    let mut table = requests::subscriptions(&broker.info.server_id, claims, &system.latency_hash);
    let mut rng = FastRng::new();
    let sync = pack::sync_settings(broker).map(|(dir, every)| {
        let inbox = format!("$SYS._INBOX.{}.{}", system.latency_hash, rng.token());
        table.push((
            pack::PACK_SUBJECT.to_owned(),
            Kind::Claims(claims::ClaimsOp::Pack),
        ));
        table.push((inbox.clone(), Kind::Claims(claims::ClaimsOp::Merge)));
        (dir, every, inbox)
    });
    let table = Arc::new(table);
    let mut service = Service {
        broker: Arc::clone(broker),
        monitor,
        client,
        table: Arc::clone(&table),
        seq: 0,
        rng,
        latency: latency::Latency::default(),
        publishers: latency::Publishers::default(),
        sync,
    };
    for (i, (subject, kind)) in table.iter().enumerate() {
        let queue = (*kind == Kind::Claims(claims::ClaimsOp::Pack)).then_some(pack::PACK_QUEUE);
        service.client.subscribe(subject, queue, i + 1);
    }
    Some(tokio::spawn(run(service, events, stopped)))
}

async fn run(
    mut service: Service,
    mut events: mpsc::Receiver<SystemEvent>,
    mut stopped: watch::Receiver<bool>,
) {
    let link = Arc::clone(&service.client.link);
    let mut spare = BytesMut::new();
    let mut every = STATSZ_FIRST;
    let mut next_statsz = Instant::now() + every;
    let mut next_sync = service
        .sync
        .as_ref()
        .map(|(_, every, _)| std::time::Instant::now() + *every);
    loop {
        tokio::select! {
            changed = stopped.changed() => {
                if changed.is_err() || *stopped.borrow() {
                    break;
                }
            }
            () = link.writer_wake.notified() => {
                link.take_outbound(&mut spare);
                let deliveries = inbox::deliveries(&spare);
                link.progress(spare.len());
                spare.clear();
                link.written();
                service.answer(deliveries).await;
            }
            Some(first) = events.recv() => {
                let mut batch = vec![first];
                while batch.len() < EVENT_BATCH {
                    match events.try_recv() {
                        Ok(event) => batch.push(event),
                        Err(_) => break,
                    }
                }
                service.announce(batch).await;
            }
            () = sleep_until(next_sync) => {
                next_sync = service.sync.as_ref().map(|(_, every, _)| std::time::Instant::now() + *every);
                service.request_pack().await;
            }
            () = sleep_until(service.latency.next_deadline()) => {
                let due = service.latency.expire(&service.broker, std::time::Instant::now());
                service.publish_latency(due);
            }
            () = tokio::time::sleep_until(next_statsz) => {
                every = (every * 2).min(STATSZ_EVERY);
                next_statsz = Instant::now() + every;
                let subject = service.statsz_subject();
                service.send_statsz(&subject).await;
            }
        }
    }
    let subject = format!("$SYS.SERVER.{}.SHUTDOWN", service.broker.info.server_id);
    if service.listened(&subject) {
        let server = service.server_info();
        service.publish_value(&subject, None, &server);
    }
    drop(events);
}

impl Service {
    fn statsz_subject(&self) -> String {
        format!("$SYS.SERVER.{}.STATSZ", self.broker.info.server_id)
    }

    /// Whether anyone in the system account subscribes to `subject`.
    fn listened(&self, subject: &str) -> bool {
        self.broker.system.as_ref().is_some_and(|system| {
            let matches = system.account.lookup(subject.as_bytes());
            !matches.plain.is_empty() || !matches.queues.is_empty()
        })
    }

    /// The next `server` object (one more message sent).
    fn server_info(&mut self) -> Value {
        self.seq += 1;
        events::server_info(&self.broker, self.seq, unix_nanos_now())
    }

    fn publish_value(&mut self, subject: &str, reply: Option<&str>, value: &Value) {
        let payload = serde_json::to_vec(value).unwrap_or_default();
        self.client.publish(subject, reply, None, &payload);
    }

    /// Publishes `body` with the `server` object first.
    fn publish_event(&mut self, subject: &str, body: Map<String, Value>) {
        let mut message = Map::new();
        message.insert("server".into(), self.server_info());
        message.extend(body);
        self.publish_value(subject, None, &Value::Object(message));
    }

    /// Runs `job` with the monitor on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Monitor) -> T + Send + 'static,
    ) -> Option<T> {
        let monitor = Arc::clone(&self.monitor);
        tokio::task::spawn_blocking(move || job(&monitor))
            .await
            .ok()
    }

    async fn send_statsz(&mut self, subject: &str) {
        if !self.listened(subject) {
            return;
        }
        if let Some(statsz) = self.blocking(Monitor::statsz).await {
            let server = self.server_info();
            let message = json!({"server": server, "statsz": statsz});
            self.publish_value(subject, None, &message);
        }
    }

    /// Publishes finished latency measurements.
    fn publish_latency(&mut self, ready: Vec<latency::Publish>) {
        self.publishers.publish(&self.broker, &mut self.rng, ready);
    }

    /// Answers the requests delivered to the system client.
    async fn answer(&mut self, deliveries: Vec<inbox::Delivery>) {
        if deliveries.is_empty() {
            return;
        }
        let table = Arc::clone(&self.table);
        let mut requests: Vec<(inbox::Delivery, Kind)> = deliveries
            .into_iter()
            .filter_map(|d| {
                let kind = table.get(d.sid.checked_sub(1)?)?.1;
                Some((d, kind))
            })
            .collect();
        let mut merged = Vec::new();
        requests.retain(|(delivery, kind)| {
            if *kind != Kind::RemoteLatency {
                return true;
            }
            merged.extend(self.latency.remote(&delivery.payload));
            false
        });
        self.publish_latency(merged);
        let answers = self
            .blocking(move |monitor| {
                requests
                    .into_iter()
                    .filter_map(|(request, kind)| {
                        let now = unix_nanos_now();
                        let body = requests::answer(
                            monitor,
                            kind,
                            &request.subject,
                            &request.payload,
                            now,
                        );
                        body.map(|body| (request, kind, body))
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
        for (request, kind, body) in answers {
            self.reply(request, kind, body).await;
        }
    }

    async fn reply(&mut self, request: inbox::Delivery, kind: Kind, body: Body) {
        let reply = match (request.reply, kind) {
            (Some(reply), _) => reply,
            // A STATSZ request without a reply: the answer goes out as
            // the heartbeat does.
            (None, Kind::Statsz) => self.statsz_subject(),
            (None, _) => return,
        };
        let message = match body {
            Body::Statsz(statsz) => json!({"server": self.server_info(), "statsz": statsz}),
            Body::Data(data) => json!({"server": self.server_info(), "data": data}),
            // A request nats-server could read but not answer also says
            // `"data": null`.
            Body::Error(500, description) => json!({
                "server": self.server_info(),
                "data": null,
                "error": {"code": 500, "description": description},
            }),
            Body::Error(code, description) => json!({
                "server": self.server_info(),
                "error": {"code": code, "description": description},
            }),
            Body::Raw(text) => {
                self.client.publish(&reply, None, None, text.as_bytes());
                return;
            }
            Body::Pack(messages) => {
                for message in messages.iter().chain([&Vec::new()]) {
                    self.client.publish(&reply, None, None, message);
                }
                return;
            }
            // A delete's error names no account.
            Body::ClaimsError(account, description) if account.is_empty() => json!({
                "server": self.server_info(),
                "error": {"code": 500, "description": description},
            }),
            Body::ClaimsError(account, description) => json!({
                "server": self.server_info(),
                "error": {"account": account, "code": 500, "description": description},
            }),
            Body::Conns(account) => {
                // Only an account with connections answers.
                if let Some(body) = self.account_conns(vec![account], false).await.pop() {
                    self.publish_event(&reply, body.1);
                }
                return;
            }
        };
        self.publish_value(&reply, None, &message);
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
