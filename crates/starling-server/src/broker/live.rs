//! The limits and settings a configuration reload changes while
//! connections run (nats-server reloads each of them): read where they
//! are used, each a single atomic load on the paths messages take, and
//! replaced whole by a reload. Everything else in the broker's options is
//! as the server started (a reload refuses to change it).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::ServerOptions;

/// The reloadable settings, as configured now.
#[derive(Debug)]
pub(crate) struct Live {
    max_payload: AtomicUsize,
    max_control_line: AtomicUsize,
    max_connections: AtomicUsize,
    /// Nanoseconds.
    ping_interval: AtomicU64,
    ping_max: AtomicU32,
    /// Nanoseconds.
    write_deadline: AtomicU64,
    max_traced_msg_len: AtomicUsize,
    trace_verbose: AtomicBool,
    connect_error_reports: AtomicU32,
    reconnect_error_reports: AtomicU32,
    /// INFO's `host` and `port`: `client_advertise`'s, else the listener's.
    advertise: RwLock<(String, u16)>,
    /// `server_tags`.
    tags: RwLock<Arc<[String]>>,
    /// The whole configuration running now (what `/varz` shows, what a
    /// reload is compared with), and when it was loaded (Unix nanoseconds).
    options: RwLock<(Arc<ServerOptions>, u64)>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Live {
    /// The settings of `options`, whose client port is bound to `port`.
    pub(crate) fn new(options: &ServerOptions, port: u16) -> Self {
        let live = Self {
            max_payload: AtomicUsize::new(0),
            max_control_line: AtomicUsize::new(0),
            max_connections: AtomicUsize::new(0),
            ping_interval: AtomicU64::new(0),
            ping_max: AtomicU32::new(0),
            write_deadline: AtomicU64::new(0),
            max_traced_msg_len: AtomicUsize::new(0),
            trace_verbose: AtomicBool::new(false),
            connect_error_reports: AtomicU32::new(0),
            reconnect_error_reports: AtomicU32::new(0),
            advertise: RwLock::new((String::new(), 0)),
            tags: RwLock::new(Arc::from(Vec::new())),
            options: RwLock::new((Arc::new(options.clone()), super::stats::unix_nanos_now())),
        };
        live.apply(options, port);
        live
    }

    /// Takes the settings of reloaded `options` (checked already).
    pub(crate) fn apply(&self, options: &ServerOptions, port: u16) {
        let relaxed = Ordering::Relaxed;
        self.max_payload.store(options.max_payload, relaxed);
        self.max_control_line
            .store(options.max_control_line, relaxed);
        self.max_connections.store(options.max_connections, relaxed);
        self.ping_interval
            .store(nanos(options.ping_interval), relaxed);
        self.ping_max.store(options.ping_max, relaxed);
        self.write_deadline
            .store(nanos(options.write_deadline), relaxed);
        self.max_traced_msg_len
            .store(options.max_traced_msg_len, relaxed);
        self.trace_verbose.store(options.trace_verbose, relaxed);
        self.connect_error_reports
            .store(options.connect_error_reports, relaxed);
        self.reconnect_error_reports
            .store(options.reconnect_error_reports, relaxed);
        // Checked when the options were read.
        let advertise = options
            .client_advertise
            .as_deref()
            .and_then(|advertise| crate::options::advertised(advertise, port).ok())
            .unwrap_or_else(|| (options.host.clone(), port));
        *self
            .advertise
            .write()
            .unwrap_or_else(PoisonError::into_inner) = advertise;
        *self.tags.write().unwrap_or_else(PoisonError::into_inner) =
            Arc::from(options.server_tags.clone());
        *self.options.write().unwrap_or_else(PoisonError::into_inner) =
            (Arc::new(options.clone()), super::stats::unix_nanos_now());
    }

    /// The configuration running now.
    pub(crate) fn options(&self) -> Arc<ServerOptions> {
        Arc::clone(
            &self
                .options
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .0,
        )
    }

    /// When the running configuration was loaded (Unix nanoseconds).
    pub(crate) fn loaded_at(&self) -> u64 {
        self.options
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .1
    }

    /// `max_payload`.
    pub(crate) fn max_payload(&self) -> usize {
        self.max_payload.load(Ordering::Relaxed)
    }

    /// `max_control_line`.
    pub(crate) fn max_control_line(&self) -> usize {
        self.max_control_line.load(Ordering::Relaxed)
    }

    /// `max_connections` (`usize::MAX` for no limit).
    pub(crate) fn max_connections(&self) -> usize {
        self.max_connections.load(Ordering::Relaxed)
    }

    /// `ping_interval`.
    pub(crate) fn ping_interval(&self) -> Duration {
        Duration::from_nanos(self.ping_interval.load(Ordering::Relaxed))
    }

    /// `ping_max`.
    pub(crate) fn ping_max(&self) -> u32 {
        self.ping_max.load(Ordering::Relaxed)
    }

    /// `write_deadline`.
    pub(crate) fn write_deadline(&self) -> Duration {
        Duration::from_nanos(self.write_deadline.load(Ordering::Relaxed))
    }

    /// `max_traced_msg_len` (0: whole payloads).
    pub(crate) fn max_traced_msg_len(&self) -> usize {
        self.max_traced_msg_len.load(Ordering::Relaxed)
    }

    /// `trace_verbose`.
    pub(crate) fn trace_verbose(&self) -> bool {
        self.trace_verbose.load(Ordering::Relaxed)
    }

    /// Whether failed attempt number `attempts` of a route or leaf remote
    /// is reported at error level (nats-server's `shouldReportConnectErr`):
    /// the first, and every `connect_error_reports` (before it ever
    /// connected) or `reconnect_error_reports` (after) attempts.
    pub(crate) fn reports_connect_error(&self, ever_connected: bool, attempts: u64) -> bool {
        let every = if ever_connected {
            &self.reconnect_error_reports
        } else {
            &self.connect_error_reports
        };
        let every = every.load(Ordering::Relaxed);
        attempts == 1 || attempts.is_multiple_of(u64::from(every.max(1)))
    }

    /// INFO's `host` and `port`.
    pub(crate) fn advertise(&self) -> (String, u16) {
        self.advertise
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `server_tags`.
    pub(crate) fn tags(&self) -> Arc<[String]> {
        Arc::clone(&self.tags.read().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_replaces_every_setting() {
        let mut options = ServerOptions::default();
        let live = Live::new(&options, 4222);
        assert_eq!(live.max_payload(), 1024 * 1024);
        assert_eq!(live.advertise(), ("0.0.0.0".to_owned(), 4222));
        assert!(live.reports_connect_error(false, 3600));
        assert!(!live.reports_connect_error(false, 2));
        options.max_payload = 512;
        options.ping_interval = Duration::from_millis(1500);
        options.write_deadline = Duration::from_secs(3);
        options.connect_error_reports = 2;
        options.client_advertise = Some("example.com".into());
        options.server_tags = vec!["a".into()];
        live.apply(&options, 4222);
        assert_eq!(live.max_payload(), 512);
        assert_eq!(live.ping_interval(), Duration::from_millis(1500));
        assert_eq!(live.write_deadline(), Duration::from_secs(3));
        assert!(live.reports_connect_error(false, 2));
        assert_eq!(live.advertise(), ("example.com".to_owned(), 4222));
        assert_eq!(&*live.tags(), ["a".to_owned()]);
    }

    #[test]
    fn connect_errors_are_reported_as_nats_server_reports_them() {
        let o = ServerOptions {
            connect_error_reports: 3,
            ..ServerOptions::default()
        };
        let live = Live::new(&o, 4222);
        let loud: Vec<u64> = (1..=7)
            .filter(|&n| live.reports_connect_error(false, n))
            .collect();
        assert_eq!(loud, [1, 3, 6]);
        // Once connected, reconnect_error_reports (1): every attempt.
        assert!((1..=7).all(|n| live.reports_connect_error(true, n)));
    }
}
