//! The monitoring port: nats-server's HTTP endpoints (`/varz`, `/connz`,
//! `/subsz`, `/routez`, `/gatewayz`, `/leafz`, `/accountz`, `/accstatz`,
//! `/jsz`, `/healthz`, `/`) over hyper, with JSONP, `http_base_path`, and
//! nats-server's status codes and texts.
//!
//! Answers are built on the blocking pool from snapshots: per-connection
//! counters read under each connection's own short lock, no lock held
//! across connections, so the message path never waits for a request.

mod connz;
mod endpoints;
pub(crate) mod format;
mod metrics;
mod process;
mod query;
mod routez;
mod varz;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::broker::Broker;
use crate::broker::stats::unix_nanos_now;
use crate::link::Counters;
pub(crate) use query::Query;

/// How long a monitoring client may take to send its request headers.
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What every request reads.
pub(crate) struct Monitor {
    broker: Arc<Broker>,
    /// The client port actually bound.
    client_port: u16,
    /// The websocket port actually bound, if there is a listener.
    websocket_port: Option<u16>,
    /// The leafnode port actually bound, if there is a listener.
    leaf_port: Option<u16>,
    /// The monitoring host, as `/varz` shows it.
    host: String,
    /// Worker threads of the runtime (`/varz` `gomaxprocs`).
    workers: usize,
    /// `http_base_path`, normalised (`""` or `/path`).
    base: String,
    process: process::ProcessStats,
}

/// Totals over the open connections plus those that closed.
pub(crate) struct Totals {
    pub(crate) counters: Counters,
    pub(crate) connections: usize,
    pub(crate) subscriptions: usize,
}

impl Totals {
    pub(crate) fn now(broker: &Broker) -> Self {
        let (counters, connections) = broker.stats.totals(|| broker.connections());
        let subscriptions = broker
            .all_accounts()
            .iter()
            .map(|a| a.stats().subscriptions)
            .sum();
        Self {
            counters,
            connections,
            subscriptions,
        }
    }
}

/// An endpoint's answer to a request's parameters, at `now`.
type Handler = fn(&Monitor, &Query, u64) -> Result<Value, String>;

/// When a request counts in `/varz`'s `http_req_stats`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Count {
    /// Always (most endpoints count before reading their parameters).
    Always,
    /// The handler counts it (`/connz`: once its parameters were read).
    ByHandler,
    /// Never (`/ipqueuesz`).
    Never,
}

/// The JSON endpoints: path, the name they are counted under, when, how
/// the answer is printed (`/healthz` compact, the others indented), and
/// the handler.
const ENDPOINTS: &[(&str, &str, Count, bool, Handler)] = &[
    ("/varz", "/varz", Count::Always, false, |m, _, now| {
        Ok(varz::varz(m, now))
    }),
    ("/connz", "/connz", Count::ByHandler, false, connz::connz),
    ("/subsz", "/subsz", Count::Always, false, endpoints::subsz),
    (
        "/subscriptionsz",
        "/subsz",
        Count::Always,
        false,
        endpoints::subsz,
    ),
    ("/routez", "/routez", Count::Always, false, routez::routez),
    (
        "/gatewayz",
        "/gatewayz",
        Count::Always,
        false,
        endpoints::gatewayz,
    ),
    ("/leafz", "/leafz", Count::Always, false, endpoints::leafz),
    (
        "/accountz",
        "/accountz",
        Count::Always,
        false,
        endpoints::accountz,
    ),
    (
        "/accstatz",
        "/accstatz",
        Count::Always,
        false,
        endpoints::accstatz,
    ),
    ("/jsz", "/jsz", Count::Always, false, endpoints::jsz),
    (
        "/healthz",
        "/healthz",
        Count::Always,
        true,
        |_, query, _| endpoints::healthz(query),
    ),
    ("/ipqueuesz", "", Count::Never, false, |_, _, _| {
        Ok(serde_json::json!({}))
    }),
];

/// nats-server's `normalizeBasePath`: a leading `/`, no trailing one.
fn normalize_base(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

impl Monitor {
    pub(crate) fn new(
        broker: Arc<Broker>,
        (client_port, websocket_port, leaf_port): (u16, Option<u16>, Option<u16>),
        host: String,
    ) -> Self {
        let base = normalize_base(&broker.options.monitor.base_path);
        let workers =
            tokio::runtime::Handle::try_current().map_or(1, |h| h.metrics().num_workers());
        Self {
            broker,
            client_port,
            websocket_port,
            leaf_port,
            host,
            workers,
            base,
            process: process::ProcessStats::new(),
        }
    }

    /// What the endpoint at `path` (`/connz`...) answers to `query`: for
    /// `$SYS` requests, which are not counted as HTTP requests.
    pub(crate) fn data(
        &self,
        path: &str,
        query: &Query,
        now: u64,
    ) -> Option<Result<Value, String>> {
        ENDPOINTS
            .iter()
            .find(|(endpoint, ..)| *endpoint == path)
            .map(|&(.., handler)| handler(self, query, now))
    }

    /// The server's statistics as `$SYS` STATSZ messages carry them.
    pub(crate) fn statsz(&self) -> Value {
        varz::statsz(self)
    }

    /// The server's id, name and client host (what `$SYS` messages name
    /// the server by).
    pub(crate) fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Answers one request (on the blocking pool: it reads `/proc` and
    /// walks every connection).
    fn answer(&self, path: &str, query: Option<&str>) -> (StatusCode, &'static str, Bytes) {
        let not_found = || {
            (
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                Bytes::from_static(b"404 page not found\n"),
            )
        };
        let Some(endpoint) = path.strip_prefix(self.base.as_str()) else {
            return not_found();
        };
        let query = Query::parse(query);
        match endpoint {
            // With a base path, nats-server serves its root page only
            // without the trailing slash.
            "/" if !self.base.is_empty() => return not_found(),
            "" | "/" => {
                self.broker.stats.count_request("/");
                let page = endpoints::root_page(&self.base);
                return (
                    StatusCode::OK,
                    "text/html; charset=utf-8",
                    Bytes::from(page),
                );
            }
            "/metrics" => {
                self.broker.stats.count_request("/metrics");
                return match metrics::metrics(self, &query, unix_nanos_now()) {
                    Ok(text) => (
                        StatusCode::OK,
                        "text/plain; version=0.0.4; charset=utf-8",
                        Bytes::from(text),
                    ),
                    Err(reason) => (
                        StatusCode::BAD_REQUEST,
                        "text/plain; charset=utf-8",
                        Bytes::from(reason),
                    ),
                };
            }
            "/stacksz" => {
                let text = format!(
                    "starling {}: {} connections open\n",
                    crate::STARLING_VERSION,
                    self.broker.connection_count()
                );
                return (StatusCode::OK, "application/json", Bytes::from(text));
            }
            _ => {}
        }
        let Some(&(_, counted_as, count, compact, handler)) =
            ENDPOINTS.iter().find(|(path, ..)| *path == endpoint)
        else {
            return not_found();
        };
        if count == Count::Always {
            self.broker.stats.count_request(counted_as);
        }
        match handler(self, &query, unix_nanos_now()) {
            Ok(value) => {
                let body = if compact {
                    serde_json::to_vec(&value)
                } else {
                    serde_json::to_vec_pretty(&value)
                };
                self.json_body(&query, body.unwrap_or_default())
            }
            Err(reason) => (
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                Bytes::from(reason),
            ),
        }
    }

    /// JSON, or JSONP with `callback=`.
    fn json_body(&self, query: &Query, body: Vec<u8>) -> (StatusCode, &'static str, Bytes) {
        match query.get("callback").filter(|c| !c.is_empty()) {
            Some(callback) => {
                let mut wrapped = Vec::with_capacity(body.len() + callback.len() + 2);
                wrapped.extend_from_slice(callback.as_bytes());
                wrapped.push(b'(');
                wrapped.extend_from_slice(&body);
                wrapped.push(b')');
                (
                    StatusCode::OK,
                    "application/javascript",
                    Bytes::from(wrapped),
                )
            }
            None => (StatusCode::OK, "application/json", Bytes::from(body)),
        }
    }
}

/// Serves the monitoring port until the server stops.
pub(crate) async fn run(
    monitor: Arc<Monitor>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _peer)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let monitor = Arc::clone(&monitor);
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(
                        std::time::Duration::from_secs(2),
                        acceptor.accept(stream),
                    );
                    if let Ok(Ok(tls)) = handshake.await {
                        serve(monitor, TokioIo::new(tls)).await;
                    }
                }
                None => serve(monitor, TokioIo::new(stream)).await,
            }
        });
    }
}

async fn serve<IO>(monitor: Arc<Monitor>, io: TokioIo<IO>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: Request<Incoming>| {
        let monitor = Arc::clone(&monitor);
        async move {
            let path = request.uri().path().to_owned();
            let query = request.uri().query().map(str::to_owned);
            let answered =
                tokio::task::spawn_blocking(move || monitor.answer(&path, query.as_deref())).await;
            let (status, content_type, body) = answered.unwrap_or((
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                Bytes::new(),
            ));
            let mut response = Response::new(Full::new(body));
            *response.status_mut() = status;
            if let Ok(value) = header::HeaderValue::from_str(content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            if status == StatusCode::NOT_FOUND {
                response.headers_mut().insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    header::HeaderValue::from_static("nosniff"),
                );
            }
            Ok::<_, Infallible>(response)
        }
    });
    // A client that never finishes its request headers is dropped, rather
    // than holding a task for ever.
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(1024 * 1024)
        .serve_connection(io, service)
        .await;
}
