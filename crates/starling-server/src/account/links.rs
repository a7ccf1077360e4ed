//! Account exports and imports at run time: which messages published in
//! one account are also delivered in another, and how service responses
//! find their way back.
//!
//! Built once at start-up from `starling_auth`'s checked exports and
//! imports. Each account gets an [`AccountLinks`]: the stream imports its
//! publishes feed (as exporter), the service imports its publishes may be
//! requests for (as importer), and the responses it owes (as exporter: a
//! request crossing into it carries a fresh `_R_.` reply subject, and a
//! publish there is delivered to the requester's reply subject in the
//! importing account, once for a singleton service, or until the
//! threshold passes for streamed and chunked ones).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use starling_auth::AuthConfig;
use starling_auth::links::{
    DEFAULT_RESPONSE_THRESHOLD, ExportKind, Import, ImportKind, ResponseType, export_for,
};
use starling_subject::SubjectTransform;

use super::Account;
use super::latency::{LatencyRoute, Tracked};

/// The prefix of reply subjects made for requests crossing accounts.
pub(crate) const RESPONSE_PREFIX: &[u8] = b"_R_.";
/// Pending responses past which expired ones are swept on insert.
const SWEEP_AT: usize = 1024;
/// The most responses one account may owe: requests nobody answers must
/// not grow the table without bound within a threshold. Past it, the
/// routes of an arbitrary eighth of the table are dropped to make room.
const MAX_PENDING: usize = 65_536;

/// Where a message published in the exporter also goes.
#[derive(Debug)]
pub(crate) struct StreamFeed {
    /// The import's subject (a filter in the exporter).
    pub(crate) filter: Bytes,
    pub(crate) importer: Arc<Account>,
    /// The local subject; `None` keeps the exporter's.
    pub(crate) transform: Option<SubjectTransform>,
}

/// A service the importer may send requests to.
#[derive(Debug)]
pub(crate) struct ServiceRoute {
    /// The local subject (a filter in the importer).
    pub(crate) local: Bytes,
    pub(crate) exporter: Arc<Account>,
    /// The exporter's subject; `None` keeps the local one.
    pub(crate) transform: Option<SubjectTransform>,
    /// The exporter's table of responses owed.
    pub(crate) responses: Arc<Responses>,
    pub(crate) response: ResponseType,
    pub(crate) threshold: Duration,
    /// The export's latency tracking, if any.
    pub(crate) latency: Option<Arc<LatencyRoute>>,
    /// The import's `share`.
    pub(crate) share: bool,
}

/// A response route: publishes on the `_R_.` subject go to `reply` in the
/// importer.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) importer: Arc<Account>,
    pub(crate) reply: Bytes,
    pub(crate) once: bool,
    pub(crate) until: Instant,
    /// A measured request's record (singletons only).
    pub(crate) tracked: Option<Box<Tracked>>,
}

/// A response route a publish used.
#[derive(Debug)]
pub(crate) struct Taken {
    pub(crate) importer: Arc<Account>,
    pub(crate) reply: Bytes,
    pub(crate) tracked: Option<Box<Tracked>>,
}

/// Responses one account owes, by their `_R_.` subject.
#[derive(Debug, Default)]
pub(crate) struct Responses {
    pending: DashMap<Bytes, Pending>,
    /// The size at which the next sweep runs: twice what the last one
    /// left, so sweeping costs O(1) per request amortized.
    next_sweep: AtomicUsize,
}

impl Responses {
    /// Records a route and returns its reply subject.
    pub(crate) fn open(&self, token: &str, pending: Pending, now: Instant) -> Bytes {
        let len = self.pending.len();
        if len >= SWEEP_AT.max(self.next_sweep.load(Ordering::Relaxed)) {
            self.pending.retain(|_, p| p.until > now);
            // Full of live routes: make room for an eighth more at once.
            let excess = self
                .pending
                .len()
                .saturating_sub(MAX_PENDING - MAX_PENDING / 8);
            if excess > 0 {
                let victims: Vec<Bytes> = self
                    .pending
                    .iter()
                    .take(excess)
                    .map(|e| e.key().clone())
                    .collect();
                for key in victims {
                    self.pending.remove(&key);
                }
            }
            let next = self
                .pending
                .len()
                .saturating_mul(2)
                .clamp(SWEEP_AT, MAX_PENDING);
            self.next_sweep.store(next, Ordering::Relaxed);
        }
        let mut subject = RESPONSE_PREFIX.to_vec();
        subject.extend_from_slice(token.as_bytes());
        let subject = Bytes::from(subject);
        self.pending.insert(subject.clone(), pending);
        subject
    }

    /// The importer and reply subject for a publish on `subject`, if it is
    /// a live response route (a singleton's is used up).
    pub(crate) fn take(&self, subject: &[u8], now: Instant) -> Option<Taken> {
        if let Some((_, used)) = self
            .pending
            .remove_if(subject, |_, p| p.once || p.until <= now)
        {
            return (used.until > now).then_some(Taken {
                importer: used.importer,
                reply: used.reply,
                tracked: used.tracked,
            });
        }
        let entry = self.pending.get(subject)?;
        Some(Taken {
            importer: Arc::clone(&entry.importer),
            reply: entry.reply.clone(),
            tracked: None,
        })
    }

    /// Whether `subject` is a measured request still unanswered.
    pub(crate) fn is_tracked(&self, subject: &[u8]) -> bool {
        self.pending
            .get(subject)
            .is_some_and(|p| p.tracked.is_some())
    }

    /// Ends the route `subject` if it is a measured request still
    /// unanswered, handing back its record.
    pub(crate) fn take_tracked(&self, subject: &[u8]) -> Option<Box<Tracked>> {
        self.pending
            .remove_if(subject, |_, p| p.tracked.is_some())
            .and_then(|(_, p)| p.tracked)
    }
}

/// One account's links.
#[derive(Debug, Default)]
pub(crate) struct AccountLinks {
    /// The `Nats-Request-Info` header line its requests carry into other
    /// accounts (`{"acc":NAME}`), made once.
    pub(crate) request_info: Vec<u8>,
    pub(crate) streams: Vec<StreamFeed>,
    pub(crate) services: Vec<ServiceRoute>,
    pub(crate) responses: Arc<Responses>,
    /// Its own service exports that track latency, with their response
    /// thresholds: a tagged request from another server to one of them
    /// is measured here for that server.
    pub(crate) tracked_exports: Vec<(Bytes, Duration)>,
}

/// Every account's links, by account name; accounts without any are left
/// out, so their publishes pay nothing.
pub(crate) fn build(
    auth: &AuthConfig,
    accounts: &HashMap<String, Arc<Account>>,
) -> HashMap<String, Arc<AccountLinks>> {
    let mut links: HashMap<String, AccountLinks> = HashMap::new();
    // Every exporter of a service has a responses table before any route
    // refers to it.
    for export in &auth.exports {
        let entry = links.entry(export.account.clone()).or_default();
        if let ExportKind::Service {
            threshold,
            latency: Some(_),
            ..
        } = &export.kind
        {
            entry
                .tracked_exports
                .push((Bytes::from(export.subject.clone()), *threshold));
        }
    }
    let responses: HashMap<String, Arc<Responses>> = links
        .iter()
        .map(|(name, l)| (name.clone(), Arc::clone(&l.responses)))
        .collect();
    for import in &auth.imports {
        let (Some(importer), Some(exporter)) =
            (accounts.get(&import.account), accounts.get(&import.from))
        else {
            continue;
        };
        // Checked at start-up: a bad mapping never gets here.
        let Ok(transform) = import.transform() else {
            continue;
        };
        match &import.kind {
            ImportKind::Stream { .. } => {
                links
                    .entry(import.from.clone())
                    .or_default()
                    .streams
                    .push(StreamFeed {
                        filter: Bytes::from(import.subject.clone()),
                        importer: Arc::clone(importer),
                        transform,
                    });
            }
            ImportKind::Service { to } => {
                let (response, threshold, latency) = service_terms(auth, import);
                let Some(table) = responses.get(&import.from) else {
                    continue;
                };
                links
                    .entry(import.account.clone())
                    .or_default()
                    .services
                    .push(ServiceRoute {
                        local: Bytes::from(to.clone()),
                        exporter: Arc::clone(exporter),
                        transform,
                        responses: Arc::clone(table),
                        response,
                        threshold,
                        latency,
                        share: import.share,
                    });
            }
        }
    }
    links
        .into_iter()
        .map(|(name, mut l)| {
            l.request_info = request_info_line(&name);
            (name, Arc::new(l))
        })
        .collect()
}

/// The system account's services every other account imports, as
/// nats-server's `registerSystemImports`: `$SYS.REQ.SERVER.PING.CONNZ` and
/// `$SYS.REQ.ACCOUNT.PING.CONNZ` become `$SYS.REQ.ACCOUNT.<importer>.CONNZ`,
/// `$SYS.REQ.ACCOUNT.PING.STATZ` becomes `...<importer>.STATZ`, so any
/// user may list its own account's connections and statistics.
pub(crate) fn system_imports(
    system: &Arc<Account>,
    responses: &Arc<Responses>,
    importer: &str,
) -> AccountLinks {
    let routes = [
        ("$SYS.REQ.SERVER.PING.CONNZ", "CONNZ"),
        ("$SYS.REQ.ACCOUNT.PING.CONNZ", "CONNZ"),
        ("$SYS.REQ.ACCOUNT.PING.STATZ", "STATZ"),
    ];
    let services = routes
        .iter()
        .filter_map(|(local, what)| {
            let target = format!("$SYS.REQ.ACCOUNT.{importer}.{what}");
            // An account name that is not a subject token imports nothing.
            let transform = SubjectTransform::new(local.as_bytes(), target.as_bytes()).ok()?;
            Some(ServiceRoute {
                local: Bytes::from_static(local.as_bytes()),
                exporter: Arc::clone(system),
                transform: Some(transform),
                responses: Arc::clone(responses),
                response: ResponseType::Stream,
                threshold: DEFAULT_RESPONSE_THRESHOLD,
                latency: None,
                share: false,
            })
        })
        .collect();
    AccountLinks {
        request_info: request_info_line(importer),
        services,
        ..AccountLinks::default()
    }
}

/// `Nats-Request-Info: {"acc":"NAME"}\r\n`, the account name escaped as a
/// JSON string.
fn request_info_line(account: &str) -> Vec<u8> {
    let mut line = String::from("Nats-Request-Info: {\"acc\":\"");
    for c in account.chars() {
        match c {
            '"' | '\\' => {
                line.push('\\');
                line.push(c);
            }
            c if c.is_control() => line.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => line.push(c),
        }
    }
    line.push_str("\"}\r\n");
    line.into_bytes()
}

/// The response type, threshold and latency tracking of the export
/// covering `import`.
fn service_terms(
    auth: &AuthConfig,
    import: &Import,
) -> (ResponseType, Duration, Option<Arc<LatencyRoute>>) {
    match export_for(&auth.exports, import).map(|e| &e.kind) {
        Some(ExportKind::Service {
            response,
            threshold,
            latency,
        }) => (
            *response,
            *threshold,
            latency.as_ref().map(|l| {
                Arc::new(LatencyRoute {
                    results: Arc::from(l.subject.as_str()),
                    sampling: l.sampling,
                })
            }),
        ),
        _ => (ResponseType::Singleton, DEFAULT_RESPONSE_THRESHOLD, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(once: bool, ttl: Duration, now: Instant) -> Pending {
        Pending {
            importer: Arc::new(Account::new("A")),
            reply: Bytes::from_static(b"INBOX.1"),
            once,
            until: now + ttl,
            tracked: None,
        }
    }

    #[test]
    fn request_info_is_json() {
        assert_eq!(
            request_info_line("B"),
            b"Nats-Request-Info: {\"acc\":\"B\"}\r\n"
        );
        assert_eq!(
            request_info_line("a\"b"),
            b"Nats-Request-Info: {\"acc\":\"a\\\"b\"}\r\n"
        );
    }

    #[test]
    fn singleton_once_streamed_until_expiry_and_bounded() {
        let responses = Responses::default();
        let now = Instant::now();
        let once = responses.open("a", pending(true, Duration::from_secs(60), now), now);
        assert_eq!(&once[..], b"_R_.a");
        assert!(responses.take(&once, now).is_some());
        assert!(responses.take(&once, now).is_none());
        let many = responses.open("b", pending(false, Duration::from_secs(60), now), now);
        assert!(responses.take(&many, now).is_some());
        assert!(responses.take(&many, now).is_some());
        let gone = responses.open("c", pending(false, Duration::ZERO, now), now);
        assert!(responses.take(&gone, now).is_none());
        for i in 0..MAX_PENDING + 10 {
            responses.open(
                &i.to_string(),
                pending(true, Duration::from_secs(60), now),
                now,
            );
        }
        assert!(responses.pending.len() <= MAX_PENDING);
    }
}
