//! The `cluster` block's options: the route listener, the routes this
//! server solicits, and their authorization (`cluster.md` §1).

use std::time::Duration;

use starling_auth::Secret;

/// Cluster routes (`cluster { ... }`), on when a port is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// `name`: equal on every member; `None` makes one up (a dynamic
    /// name, which adopts a peer's fixed one).
    pub name: Option<String>,
    /// Interface of the route listener (`host`, default `0.0.0.0`).
    pub host: String,
    /// Its port; -1 for any free one.
    pub port: i64,
    /// `advertise`: the `host[:port]` peers are told to dial.
    pub advertise: Option<String>,
    /// `no_advertise`: client URLs are neither told nor learnt.
    pub no_advertise: bool,
    /// The route URLs this server dials (`routes`), retried forever.
    pub routes: Vec<String>,
    /// `authorization { user, password }`: what a peer's CONNECT must carry,
    /// and what this server sends on routes learnt by gossip.
    pub user: Option<(String, Secret)>,
    /// How long a peer has to send CONNECT (`authorization.timeout`, 2 s).
    pub auth_timeout: Duration,
    /// Extra attempts for a route learnt by gossip (`connect_retries`).
    pub connect_retries: u32,
    /// `tls`: routes in mutual TLS, the handshake before anything else.
    pub tls: Option<ClusterTls>,
    /// `permissions`: `import` (as `publish`: what this server announces,
    /// so what peers send it) and `export` (as `subscribe`: what peers'
    /// interest it takes, so what it sends them).
    pub permissions: Option<starling_auth::Permissions>,
}

/// A cluster's `tls { cert_file, key_file, ca_file, insecure, timeout }`:
/// this server's certificate both ways (as the accepting and as the
/// dialling side), peers verified against `ca_file` both ways (the
/// system's roots without one, as nats-server's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTls {
    /// This server's certificate chain.
    pub cert_file: std::path::PathBuf,
    /// Its key.
    pub key_file: std::path::PathBuf,
    /// The authority every member's certificate chains to (`None`: the
    /// system's roots).
    pub ca_file: Option<std::path::PathBuf>,
    /// `insecure: true`: a dialled peer's certificate is not verified.
    pub insecure: bool,
    /// The handshake's deadline (`timeout`, 2 s).
    pub timeout: Duration,
    /// Cipher suites, curves and pinned certificates, both ways.
    pub tuning: starling_ws::TlsTuning,
    /// `verify_cert_and_check_known_urls`: an accepted route's certificate
    /// must name (as a DNS name) the host of one of the configured
    /// `routes` (a leading `*` label matching any one label).
    pub check_known_urls: bool,
    /// `verify_and_map`: an accepted route is authorized by its
    /// certificate naming the cluster's `authorization` user (mapped as a
    /// client's certificate is), not by the CONNECT's credentials.
    pub verify_and_map: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            name: None,
            host: "0.0.0.0".to_owned(),
            port: 0,
            advertise: None,
            no_advertise: false,
            routes: Vec::new(),
            user: None,
            auth_timeout: Duration::from_secs(2),
            connect_retries: 0,
            tls: None,
            permissions: None,
        }
    }
}

/// A route URL as nats-server reads it: any scheme, `user:pass@`, a host
/// and a port (none: every dial fails, as there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteUrl {
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    pub(crate) user: Option<(String, String)>,
}

impl RouteUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let invalid = || format!("error parsing route url [{url:?}]");
        let (_scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
        let rest = rest.trim_end_matches('/');
        let (user, address) = match rest.rsplit_once('@') {
            Some((userinfo, address)) => {
                let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                (Some((user.to_owned(), pass.to_owned())), address)
            }
            None => (None, rest),
        };
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') => {
                (host, Some(port.parse::<u16>().map_err(|_| invalid())?))
            }
            _ => (address, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            user,
        })
    }

    /// `host:port` to dial (brackets around an IPv6 host).
    pub(crate) fn address(&self) -> Option<String> {
        let port = self.port?;
        Some(if self.host.contains(':') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        })
    }
}

impl ClusterOptions {
    /// Whether an accepted route is authorized by its certificate at the
    /// TLS handshake (`verify_and_map`, `verify_cert_and_check_known_urls`)
    /// rather than by its CONNECT's credentials, as nats-server's
    /// `isRouterAuthorized` decides.
    pub(crate) fn authorized_by_certificate(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|t| t.check_known_urls || t.verify_and_map)
    }

    /// The start-up checks: every route URL parses.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for url in &self.routes {
            RouteUrl::parse(url)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_urls_as_nats_server_reads_them() {
        let url = RouteUrl::parse("nats-route://ruser:T0p@127.0.0.1:6222/").expect("valid");
        assert_eq!(url.address().as_deref(), Some("127.0.0.1:6222"));
        assert_eq!(url.user, Some(("ruser".into(), "T0p".into())));
        let url = RouteUrl::parse("tls://[::1]:7000").expect("valid");
        assert_eq!(url.address().as_deref(), Some("[::1]:7000"));
        assert_eq!(RouteUrl::parse("nats://h").expect("valid").address(), None);
        assert!(RouteUrl::parse("127.0.0.1:6222").is_err());
    }
}
