//! The server's typed options, with nats-server's defaults.
//!
//! The configuration-file reader (a separate crate) fills these in; until
//! then the binary sets them from flags. Every field that is here works.

mod cluster;
mod leaf;

use std::time::Duration;

pub(crate) use cluster::RouteUrl;
pub use cluster::{ClusterOptions, ClusterTls};
pub use leaf::{LeafAuth, LeafOptions, LeafProxy, LeafRemote, LeafUser, RemoteTls};
pub(crate) use leaf::{RemoteUrl, version_triplet};

use crate::ServerError;

/// What the server listens on, and the limits it enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Interface for client connections (nats-server's `host`, default `0.0.0.0`).
    pub host: String,
    /// Port for client connections; 0 picks a free one (nats-server's `-1`).
    pub port: u16,
    /// The name in INFO (`server_name`); the server id when unset.
    pub server_name: Option<String>,
    /// `lame_duck_duration`: lame-duck mode closes the clients spread
    /// over this (2 minutes; at least 30 s, as nats-server).
    pub lame_duck_duration: Duration,
    /// `lame_duck_grace_period`: how long lame-duck mode waits before it
    /// starts closing clients (10 s; less than the duration).
    pub lame_duck_grace_period: Duration,
    /// `no_header_support`: INFO says `headers: false` to clients, leafs
    /// and routes, so none sends headers; a client asking for
    /// `no_responders` is refused, as nats-server refuses it.
    pub no_header_support: bool,
    /// `allow_non_tls`: with `tls`, clients may also speak plaintext on
    /// the client port (INFO says `tls_available` instead of
    /// `tls_required`; a client starting a TLS handshake gets TLS).
    pub allow_non_tls: bool,
    /// `ocsp`: whether certificates may be used that ask for OCSP
    /// stapling (must-staple), which Starling cannot provide.
    pub ocsp: OcspMode,
    /// `max_traced_msg_len`: traced payloads are cut past this many bytes
    /// (0: whole).
    pub max_traced_msg_len: usize,
    /// `trace_verbose`: the system account's internal client is traced too.
    pub trace_verbose: bool,
    /// `server_tags`: lower-cased, trimmed, without duplicates (`/varz`
    /// `tags`, the system events' `tags`, the `tags` request filter).
    pub server_tags: Vec<String>,
    /// `disable_sublist_cache` (`no_sublist_cache`): no match cache, every
    /// message's subject is looked up in the subscription trie.
    pub disable_sublist_cache: bool,
    /// `max_sub_tokens` (`max_subscription_tokens`): a client's SUB with
    /// more tokens is refused (0: no limit, at most 255).
    pub max_sub_tokens: u8,
    /// `connect_error_reports`: a route or leaf remote that never
    /// connected logs its failed attempt at error level the first time
    /// and every this many attempts (3600; debug otherwise).
    pub connect_error_reports: u32,
    /// `reconnect_error_reports`: the same once it had connected (1).
    pub reconnect_error_reports: u32,
    /// `client_advertise` (`host[:port]`, the port defaulting to the
    /// client port's): what INFO's `host`/`port` and this server's entry
    /// in the cluster's `connect_urls` say instead of the listener.
    pub client_advertise: Option<String>,
    /// Largest payload a client may publish, headers included (1 MB).
    pub max_payload: usize,
    /// Longest protocol line a client may send (4 KB).
    pub max_control_line: usize,
    /// Most client connections at once (65,536); a negative
    /// `max_connections` (nats-server: no limit) is `usize::MAX`.
    pub max_connections: usize,
    /// Bytes that may wait to be written to one client before it is cut off
    /// as a slow consumer (64 MB).
    pub max_pending: usize,
    /// Most subscriptions one connection may hold; 0 means no limit.
    pub max_subscriptions: usize,
    /// How often an idle client is pinged (2 minutes).
    pub ping_interval: Duration,
    /// Unanswered pings before a client is closed as stale (2).
    pub ping_max: u32,
    /// How long one write to a client may take before it is cut off (10 s).
    pub write_deadline: Duration,
    /// How long a backlogged receiver may go without writing anything
    /// while its publishers wait for it, before it is cut off as a slow
    /// consumer (500 ms; Starling's own option, `stall_timeout`).
    pub stall_timeout: Duration,
    /// TLS on the client port (`tls`): INFO goes out in plaintext, then
    /// the client starts the handshake, as with nats-server.
    pub tls: Option<starling_ws::TlsOptions>,
    /// The websocket listener, when configured with a port.
    pub websocket: Option<starling_ws::WebsocketOptions>,
    /// Authentication (users, tokens, no_auth_user, the websocket override).
    pub auth: starling_auth::AuthConfig,
    /// The monitoring port (`http_port`, `https_port`, `http`, `https`,
    /// `http_base_path`); none by default.
    pub monitor: MonitorOptions,
    /// `system_account`: the account whose users may make the `$SYS`
    /// requests and receive the server's events (in operator mode the
    /// operator block's key is used instead).
    pub system_account: Option<String>,
    /// `no_system_account`: no default `$SYS` account (an explicit
    /// `system_account` still applies, as with nats-server).
    pub no_system_account: bool,
    /// Leaf-node connections (`leafnodes`), when configured.
    pub leaf: Option<LeafOptions>,
    /// Cluster routes (`cluster`), when configured with a port.
    pub cluster: Option<ClusterOptions>,
}

/// nats-server's OCSP stapling modes. Starling staples nothing: `never`
/// says so; `auto` and `must` (and the default) staple only for a
/// certificate that asks for it (must-staple), which is then refused at
/// start-up; `always` is refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OcspMode {
    /// Staple when the certificate asks for it (the default, `ocsp: true`).
    #[default]
    Auto,
    /// Never staple (`ocsp: false`, `mode: never`).
    Never,
    /// As `auto`, shutting down if revoked (`mode: must`).
    Must,
}

/// Where the monitoring endpoints listen. Ports as configured: 0 is off,
/// -1 any free port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorOptions {
    /// `http: "host:port"` or `https: "host:port"`; else the client host.
    pub host: Option<String>,
    /// `http_port` (alias `monitor_port`, flag `-m`): plain HTTP.
    pub http_port: i64,
    /// `https_port` (flag `-ms`): HTTPS with the client port's TLS block.
    pub https_port: i64,
    /// As configured (`/varz` shows it so); served normalised.
    pub base_path: String,
}

impl MonitorOptions {
    /// The port and whether it is HTTPS, if monitoring is on.
    pub fn port(&self) -> Option<(u16, bool)> {
        let port = |configured: i64| u16::try_from(configured.max(0)).unwrap_or(0);
        if self.https_port != 0 {
            Some((port(self.https_port), true))
        } else if self.http_port != 0 {
            Some((port(self.http_port), false))
        } else {
            None
        }
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".to_owned(),
            port: 4222,
            server_name: None,
            client_advertise: None,
            max_sub_tokens: 0,
            disable_sublist_cache: false,
            server_tags: Vec::new(),
            no_header_support: false,
            allow_non_tls: false,
            ocsp: OcspMode::Auto,
            max_traced_msg_len: 0,
            trace_verbose: false,
            connect_error_reports: 3600,
            reconnect_error_reports: 1,
            lame_duck_duration: Duration::from_secs(120),
            lame_duck_grace_period: Duration::from_secs(10),
            max_payload: 1024 * 1024,
            max_control_line: 4096,
            max_connections: 64 * 1024,
            max_pending: 64 * 1024 * 1024,
            max_subscriptions: 0,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            write_deadline: Duration::from_secs(10),
            stall_timeout: Duration::from_millis(500),
            tls: None,
            websocket: None,
            auth: starling_auth::AuthConfig::default(),
            monitor: MonitorOptions::default(),
            system_account: None,
            no_system_account: false,
            leaf: None,
            cluster: None,
        }
    }
}

/// A duration as Go prints one (`1m30s`, `10s`, `1.5s`, `500ms`).
pub(crate) fn go_duration(d: Duration) -> String {
    let total = d.as_secs_f64();
    if total < 1.0 && !d.is_zero() {
        return format!("{}ms", d.as_millis());
    }
    let (hours, minutes) = (d.as_secs() / 3600, d.as_secs() % 3600 / 60);
    let seconds = total - (hours * 3600 + minutes * 60) as f64;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{seconds}s"));
    out
}

/// `host[:port]` read as nats-server's `parseHostPort` reads an
/// advertise value: a missing, 0 or -1 port is `default_port`; IPv6 in
/// brackets. `Err` says why it is not one.
pub(crate) fn advertised(text: &str, default_port: u16) -> Result<(String, u16), String> {
    let text = text.trim();
    if !text.starts_with('[') && text.matches(':').count() > 1 {
        // Go's SplitHostPort: IPv6 goes in brackets.
        return Err(format!("address {text}: too many colons in address"));
    }
    let (host, port) = match text.rsplit_once(':') {
        // `[v6]` alone has no port.
        Some((host, port)) if !port.ends_with(']') => (host, Some(port)),
        _ => (text, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').trim();
    if host.is_empty() && port.is_none() {
        return Err("no hostport specified".into());
    }
    let port = match port.map(str::trim) {
        None | Some("0" | "-1") => default_port,
        Some(port) => port
            .parse::<u16>()
            .map_err(|_| format!("invalid port {port:?} in {text:?}"))?,
    };
    Ok((host.to_owned(), port))
}

/// The account nats-server creates as the system account when none is
/// configured.
pub(crate) const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";

impl ServerOptions {
    /// The system account, as nats-server picks it: the configured one
    /// (the operator block's in operator mode), else an account named
    /// `$SYS`, else a `$SYS` of its own unless `no_system_account`.
    pub fn system_account_name(&self) -> Option<&str> {
        let configured = match &self.auth.operator {
            Some(operator) => operator.system_account.as_deref(),
            None => self.system_account.as_deref(),
        };
        match configured {
            Some(name) => Some(name),
            None if self.no_system_account
                && !self
                    .auth
                    .accounts
                    .iter()
                    .any(|a| a == DEFAULT_SYSTEM_ACCOUNT) =>
            {
                None
            }
            None => Some(DEFAULT_SYSTEM_ACCOUNT),
        }
    }

    /// Checks the options as nats-server does at start-up (files are
    /// read at start, once: see `Server::check`).
    pub fn validate(&self) -> Result<(), ServerError> {
        let invalid = |option: &'static str, reason: String| {
            Err(ServerError::InvalidOption { option, reason })
        };
        if self.max_payload == 0 {
            return invalid("max_payload", "max_payload must be greater than 0".into());
        }
        if self.max_payload > self.max_pending {
            return invalid(
                "max_payload",
                format!(
                    "max_payload ({}) cannot be higher than max_pending ({})",
                    self.max_payload, self.max_pending
                ),
            );
        }
        if self.max_control_line == 0 {
            return invalid(
                "max_control_line",
                "max_control_line must be greater than 0".into(),
            );
        }
        if self.lame_duck_grace_period >= self.lame_duck_duration {
            return invalid(
                "lame_duck_grace_period",
                format!(
                    "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                    go_duration(self.lame_duck_grace_period),
                    go_duration(self.lame_duck_duration)
                ),
            );
        }
        // nats-server needs its system account to send measurements.
        if self.no_system_account
            && let Some(export) = self.auth.exports.iter().find(|e| {
                matches!(
                    e.kind,
                    starling_auth::links::ExportKind::Service {
                        latency: Some(_),
                        ..
                    }
                )
            })
        {
            return invalid(
                "latency",
                format!(
                    "Error adding service latency sampling for {:?}: system account not setup",
                    export.subject
                ),
            );
        }
        if self.ping_interval.is_zero() {
            return invalid(
                "ping_interval",
                "ping_interval must be greater than 0".into(),
            );
        }
        if self.stall_timeout.is_zero() {
            return invalid(
                "stall_timeout",
                "stall_timeout must be greater than 0".into(),
            );
        }
        let monitor = &self.monitor;
        if monitor.http_port != 0 && monitor.https_port != 0 {
            return invalid(
                "https_port",
                format!(
                    "Can't start monitoring: can't specify both HTTP ({}) and HTTPs ({}) ports",
                    monitor.http_port, monitor.https_port
                ),
            );
        }
        if monitor.https_port != 0 && self.tls.is_none() {
            return invalid(
                "https_port",
                "Can't start monitoring: TLS cert and key required for HTTPS".into(),
            );
        }
        if let Some(name) = self.system_account_name()
            && name != DEFAULT_SYSTEM_ACCOUNT
            && !self.auth.accounts.iter().any(|a| a == name)
        {
            return invalid(
                "system_account",
                "error resolving system account: account missing".into(),
            );
        }
        if let Some(leaf) = &self.leaf {
            let system = self.system_account_name();
            let known =
                |name: &str| system == Some(name) || self.auth.accounts.iter().any(|a| a == name);
            leaf.validate(self.auth.operator.is_some(), known)
                .or_else(|reason| invalid("leafnodes", reason))?;
        }
        if let Some(cluster) = &self.cluster {
            cluster
                .validate()
                .or_else(|reason| invalid("cluster", reason))?;
        }
        if let Some(operator) = &self.auth.operator
            && matches!(operator.resolver, starling_auth::Resolver::Url { .. })
            && !operator.accounts.is_empty()
        {
            return invalid(
                "resolver_preload",
                "resolver preloads only available for writeable resolver types MEM/DIR/CACHE_DIR"
                    .into(),
            );
        }
        if self.write_deadline.is_zero() {
            return invalid(
                "write_deadline",
                "write_deadline must be greater than 0".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_nats_servers() {
        let o = ServerOptions::default();
        assert_eq!(
            (o.port, o.max_payload, o.max_control_line),
            (4222, 1_048_576, 4096)
        );
        assert_eq!((o.max_pending, o.ping_max), (67_108_864, 2));
        assert!(o.validate().is_ok());
    }

    #[test]
    fn system_account_is_picked_as_nats_server_picks_it() {
        let mut o = ServerOptions::default();
        assert_eq!(o.system_account_name(), Some("$SYS"));
        o.no_system_account = true;
        assert_eq!(o.system_account_name(), None);
        o.auth.accounts = vec!["$SYS".into(), "SYS".into()];
        assert_eq!(o.system_account_name(), Some("$SYS"));
        o.system_account = Some("SYS".into());
        assert_eq!(o.system_account_name(), Some("SYS"));
        assert!(o.validate().is_ok());
        o.system_account = Some("NOPE".into());
        let refused = o.validate().map_err(|e| e.to_string());
        assert!(refused.is_err_and(|e| e.contains("account missing")));
    }

    #[test]
    fn payload_above_pending_is_refused() {
        let o = ServerOptions {
            max_pending: 10,
            ..ServerOptions::default()
        };
        assert!(o.validate().is_err());
    }

    #[test]
    fn advertise_values_read_as_nats_server_reads_them() {
        let ok = |text: &str| advertised(text, 4222);
        assert_eq!(ok("nats.example"), Ok(("nats.example".into(), 4222)));
        assert_eq!(ok(" host:5555 "), Ok(("host".into(), 5555)));
        assert_eq!(ok("host:0"), Ok(("host".into(), 4222)));
        assert_eq!(ok("host:-1"), Ok(("host".into(), 4222)));
        assert_eq!(ok("[::1]:4333"), Ok(("::1".into(), 4333)));
        assert_eq!(ok("[::1]"), Ok(("::1".into(), 4222)));
        assert!(ok("").is_err());
        assert!(ok("host:port").is_err());
        assert!(ok("::1").is_err_and(|e| e.contains("too many colons")));
    }
}
