//! Service latency measurements as nats-server writes them: its
//! `ClientInfo`, `ServiceLatency` and `remoteLatency` JSON, and the
//! arithmetic of a measurement (nats-server's `sendTrackingLatency`, its
//! error cases, and the merge of a requester's and a responder's server's
//! halves). Shared by connections (a shared import's `Nats-Request-Info`)
//! and the system service (which publishes measurements).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::account::latency::{Outcome, Report, Tracked};
use crate::account::{GLOBAL_ACCOUNT, OriginKind, Subscriber};
use crate::broker::Broker;
use crate::monitor::format::rfc3339;

/// A measurement's `type`.
pub(crate) const SERVICE_LATENCY: &str = "io.nats.server.metric.v1.service_latency";
/// Go's zero `time.Time`, as an M2's unset timestamp reads.
pub(crate) const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// nats-server's `ClientInfo`, empty fields left out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ClientInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) start: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) host: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) id: u64,
    pub(crate) acc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) svc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) ver: String,
    #[serde(skip_serializing_if = "is_zero_i")]
    pub(crate) rtt: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) server: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) cluster: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) alts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stop: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) jwt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) issuer_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) name_tag: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tags: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) client_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) client_id: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_i(n: &i64) -> bool {
    *n == 0
}

/// nats-server's `ServiceLatency`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ServiceLatency {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) id: String,
    pub(crate) timestamp: String,
    pub(crate) status: u16,
    #[serde(rename = "description", skip_serializing_if = "String::is_empty")]
    pub(crate) error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) requestor: Option<ClientInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) responder: Option<ClientInfo>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) header: BTreeMap<String, Vec<String>>,
    pub(crate) start: String,
    pub(crate) service: i64,
    pub(crate) system: i64,
    pub(crate) total: i64,
}

/// What the responder's server sends the requester's (`remoteLatency`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct RemoteLatency {
    pub(crate) account: String,
    pub(crate) req_id: String,
    pub(crate) m2: ServiceLatency,
}

pub(crate) fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// A connection's `ClientInfo`: its account and round trip, and with
/// `detailed` everything else nats-server tells.
pub(crate) fn client_info(broker: &Broker, who: &Subscriber, detailed: bool) -> ClientInfo {
    let meta = who.link.meta().clone();
    let mut info = ClientInfo {
        acc: meta
            .account
            .clone()
            .unwrap_or_else(|| GLOBAL_ACCOUNT.into()),
        rtt: meta.rtt.map_or(0, nanos),
        ..ClientInfo::default()
    };
    if detailed {
        info.start = Some(rfc3339(meta.start_unix_nanos));
        info.host = meta.ip;
        info.id = who.link.cid;
        info.user = meta.user.unwrap_or_default();
        info.name = meta.name;
        info.lang = meta.lang;
        info.ver = meta.version;
        info.server = broker.info.server_name.clone();
        info.cluster = broker.filter_cluster_name().unwrap_or_default();
        info.kind = match who.kind() {
            OriginKind::Local => "Client",
            OriginKind::Route => "Router",
            _ => "Leafnode",
        }
        .into();
        info.client_type = meta.transport.into();
    }
    info
}

/// The measurement of `report` (nats-server's `sendTrackingLatency` and
/// its error cases), and for a service on another server the reply
/// subject its M2 will name.
pub(crate) fn measure(broker: &Broker, report: &Report) -> (ServiceLatency, Option<String>) {
    let tracked: &Tracked = &report.tracked;
    let requestor = client_info(broker, &tracked.requestor, tracked.share);
    let req_rtt = u64::try_from(requestor.rtt).unwrap_or(0);
    let mut m = ServiceLatency {
        start: rfc3339(tracked.at_unix.saturating_sub(req_rtt)),
        header: tracked.header.iter().cloned().collect(),
        ..ServiceLatency::default()
    };
    let (status, error) = match &report.outcome {
        Outcome::Answered {
            responder,
            service,
            remote,
        } => {
            let responder = (responder.kind() == OriginKind::Local)
                .then(|| client_info(broker, responder, true));
            let resp_rtt = responder.as_ref().map_or(0, |r| r.rtt);
            m.service = nanos(*service) - resp_rtt;
            m.total = requestor.rtt + nanos(*service);
            if resp_rtt > 0 {
                m.system = nanos(report.at.elapsed());
                m.total += m.system;
            }
            m.responder = responder;
            m.requestor = Some(requestor);
            sanitize(&mut m);
            m.status = 200;
            return (m, remote.clone());
        }
        // A request without a reply is stamped with its own time.
        Outcome::BadRequest => (400, "Bad Request"),
        Outcome::NoDelivery => (503, "Service Unavailable"),
        Outcome::Timeout => (504, "Service Timeout"),
        Outcome::InterestLost => (408, "Request Timeout"),
    };
    m.status = status;
    m.error = error.into();
    m.requestor = Some(requestor);
    (m, None)
}

pub(crate) fn sanitize(m: &mut ServiceLatency) {
    m.service = m.service.max(0);
    m.system = m.system.max(0);
}

/// nats-server's `merge`: M1 (this server's) has the right total, M2 (the
/// responder's server's) the right service time.
pub(crate) fn merge(m1: &mut ServiceLatency, m2: ServiceLatency) {
    let rtt = m2.responder.as_ref().map_or(0, |r| r.rtt);
    m1.system = m1.service - (m2.service + rtt);
    m1.service = m2.service;
    m1.responder = m2.responder;
    sanitize(m1);
}
