//! The `leafnodes` block's options: the leafnode listener (accepting
//! side), its authorization, and the remotes this server solicits.

use std::time::Duration;

use std::path::PathBuf;

use starling_auth::Secret;

/// Leaf-node connections (`leafnodes { ... }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafOptions {
    /// Interface of the leafnode listener (`host`, default `0.0.0.0`).
    pub host: String,
    /// Its port: 0 for none (only remotes), -1 for any free one.
    pub port: i64,
    /// `advertise`: the `host:port` other servers are told to dial.
    pub advertise: Option<String>,
    /// `no_advertise` (meaningful with clustering only).
    pub no_advertise: bool,
    /// `authorization` for accepted leafs.
    pub auth: LeafAuth,
    /// `tls` on the leafnode port: INFO in plaintext, then the handshake
    /// the leaf starts, as nats-server 2.9.10.
    pub tls: Option<starling_ws::TlsOptions>,
    /// Delay between attempts of a remote (`reconnect`, 1 s).
    pub reconnect: Duration,
    /// `min_version`: accepted leafs older than this are refused.
    pub min_version: Option<String>,
    /// The servers this one connects to (`remotes`).
    pub remotes: Vec<LeafRemote>,
}

impl Default for LeafOptions {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".to_owned(),
            port: 0,
            advertise: None,
            no_advertise: false,
            auth: LeafAuth::default(),
            tls: None,
            reconnect: Duration::from_secs(1),
            min_version: None,
            remotes: Vec::new(),
        }
    }
}

/// `leafnodes { authorization { ... } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafAuth {
    /// One user for every leaf (`user`/`password`).
    pub user: Option<(String, Secret)>,
    /// The account that user binds to (`account`, default the global one).
    pub account: Option<String>,
    /// Users, each with its account (`users`).
    pub users: Vec<LeafUser>,
    /// How long a leaf has to send CONNECT (`timeout`, default 2 s).
    pub timeout: Option<Duration>,
}

/// One of `leafnodes.authorization.users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafUser {
    /// `user`.
    pub user: String,
    /// `password` (plain or bcrypt).
    pub password: Secret,
    /// `account` (default the global one).
    pub account: Option<String>,
}

/// One of `leafnodes.remotes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafRemote {
    /// `url`/`urls`, as written (`nats-leaf://user:pass@host:port`).
    pub urls: Vec<String>,
    /// The local account the link binds to (`account`, default global).
    pub account: Option<String>,
    /// `hub: true`: this side plays the hub on the link.
    pub hub: bool,
    /// `no_randomize`: try the URLs in order.
    pub no_randomize: bool,
    /// `ws_compression`: ask a websocket hub for permessage-deflate.
    pub ws_compression: bool,
    /// `ws_no_masking`: ask a websocket hub to take unmasked frames.
    pub ws_no_masking: bool,
    /// `tls`: the hub's certificate authority, and this side's own
    /// certificate for a hub that asks for one.
    pub tls: Option<RemoteTls>,
    /// `credentials`: a NATS creds file (user JWT and seed) whose JWT
    /// CONNECT carries, with the hub's nonce signed.
    pub credentials: Option<PathBuf>,
    /// `proxy`: an HTTP proxy the hub is reached through (`CONNECT`).
    pub proxy: Option<LeafProxy>,
    /// `deny_imports`: subjects this side will not receive (no interest
    /// sent for them, told to the hub as `deny_pub`, dropped if they come).
    pub deny_imports: Vec<String>,
    /// `deny_exports`: subjects this side will not send (the hub's
    /// interest in them ignored, messages on them kept here).
    pub deny_exports: Vec<String>,
}

/// A remote's `proxy { url, username, password, timeout }` (newer
/// nats-server releases' option): the link is tunnelled with the HTTP
/// `CONNECT` method, with basic authentication when a user is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafProxy {
    /// `host:port` of the proxy (from `url`, `http://host:port`).
    pub address: String,
    /// `username` and `password`.
    pub credentials: Option<(String, Secret)>,
    /// How long dialling the proxy and its answer may take (5 s).
    pub timeout: Duration,
}

/// A remote's `tls { ca_file, cert_file, key_file, insecure, timeout }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTls {
    /// The authority the hub's certificate must chain to; without one, the
    /// system's roots (as nats-server, which uses Go's system pool).
    pub ca_file: Option<PathBuf>,
    /// This side's certificate and key (`cert_file`, `key_file`).
    pub cert: Option<(PathBuf, PathBuf)>,
    /// `insecure: true`: the hub's certificate is not verified (nats-server
    /// warns at start-up, and so does Starling).
    pub insecure: bool,
    /// The handshake's deadline (`timeout`, 2 s by default).
    pub timeout: Duration,
    /// Cipher suites, curves and the hub's pinned certificates.
    pub tuning: starling_ws::TlsTuning,
}

impl Default for RemoteTls {
    /// What a `tls://` URL without a `tls` block gets, and a hub that asks
    /// for TLS: the system's roots, 2 s.
    fn default() -> Self {
        Self {
            ca_file: None,
            cert: None,
            tuning: starling_ws::TlsTuning::default(),
            insecure: false,
            timeout: Duration::from_secs(2),
        }
    }
}

impl LeafOptions {
    /// nats-server's start-up checks of the block (`validateLeafNode`):
    /// `known` says whether an account exists.
    pub(crate) fn validate(
        &self,
        operator_mode: bool,
        known: impl Fn(&str) -> bool,
    ) -> Result<(), String> {
        if let Some(min) = &self.min_version {
            match version_triplet(min) {
                Some(v) if v >= (2, 8, 0) => {}
                Some(_) => return Err("the minimum version should be at least 2.8.0".into()),
                None => return Err(format!("invalid leafnode min_version {min:?}")),
            }
        }
        if operator_mode && (!self.auth.users.is_empty() || self.auth.user.is_some()) {
            return Err("operator mode does not allow specifying user in leafnode config".into());
        }
        let missing = |account: &Option<String>| {
            account
                .as_deref()
                .filter(|name| *name != crate::account::GLOBAL_ACCOUNT && !known(name))
                .map(str::to_owned)
        };
        let accounts =
            std::iter::once(&self.auth.account).chain(self.auth.users.iter().map(|u| &u.account));
        if let Some(name) = accounts.filter_map(missing).next() {
            return Err(format!(
                "cannot find local account {name:?} specified in leafnode authorization"
            ));
        }
        for remote in &self.remotes {
            for url in &remote.urls {
                RemoteUrl::parse(url)?;
            }
        }
        if let Some(name) = self
            .remotes
            .iter()
            .map(|r| &r.account)
            .filter_map(missing)
            .next()
        {
            return Err(format!(
                "cannot find local account {name:?} specified in leafnode remote"
            ));
        }
        Ok(())
    }
}

/// `major.minor.patch` of a version string (a suffix such as `-beta`
/// ignored), for `min_version`.
pub(crate) fn version_triplet(version: &str) -> Option<(u64, u64, u64)> {
    let core = version.trim_start_matches('v').split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// The default leafnode port, for URLs without one.
const DEFAULT_PORT: u16 = 7422;

/// A remote's URL: where to dial, and the credentials CONNECT carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteUrl {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: Option<(String, String)>,
    /// A `ws://` URL: the link goes over websocket, to this path (the
    /// URL's, without its leading `/`, after `/leafnode`).
    pub(crate) websocket: Option<String>,
    /// `tls://` or `wss://`: TLS whatever the hub says.
    pub(crate) tls: bool,
}

impl RemoteUrl {
    /// Reads `scheme://[user[:pass]@]host[:port][/path]` (`nats`,
    /// `nats-leaf`, `tls`, `ws` or `wss`).
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("leafnode remote url {url:?} has no scheme"))?;
        let scheme_lower = scheme.to_ascii_lowercase();
        if !matches!(
            scheme_lower.as_str(),
            "nats" | "nats-leaf" | "tls" | "ws" | "wss"
        ) {
            return Err(format!(
                "leafnode remote url {url:?}: the {scheme}:// scheme is not supported (nats, nats-leaf, tls, ws or wss)"
            ));
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let websocket = scheme_lower
            .starts_with("ws")
            .then(|| format!("/leafnode{path}"));
        let tls = matches!(scheme_lower.as_str(), "tls" | "wss");
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => {
                let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                (Some((user.to_owned(), pass.to_owned())), hostport)
            }
            None => (None, authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("leafnode remote url {url:?}: bad port"))?;
                (host, port)
            }
            _ => (hostport, DEFAULT_PORT),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("leafnode remote url {url:?} has no host"));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            user,
            websocket,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_nats_server_reads_them() {
        let url = RemoteUrl::parse("nats-leaf://u:p@hub.example:7000").expect("valid");
        assert_eq!((url.host.as_str(), url.port), ("hub.example", 7000));
        assert_eq!(url.user, Some(("u".into(), "p".into())));
        let url = RemoteUrl::parse("nats://127.0.0.1").expect("valid");
        assert_eq!((url.port, url.user), (7422, None));
        let url = RemoteUrl::parse("nats://[::1]:7001").expect("valid");
        assert_eq!((url.host.as_str(), url.port), ("::1", 7001));
        assert!(RemoteUrl::parse("tls://h:1").is_ok_and(|u| u.tls && u.websocket.is_none()));
        assert!(RemoteUrl::parse("wss://h:1").is_ok_and(|u| u.tls && u.websocket.is_some()));
        assert!(RemoteUrl::parse("http://h:1").is_err_and(|e| e.contains("not supported")));
        let ws = RemoteUrl::parse("ws://h:1/some/path").expect("valid");
        assert_eq!(ws.websocket.as_deref(), Some("/leafnodesome/path"));
        assert_eq!(RemoteUrl::parse("ws://h").expect("valid").port, 7422);
        assert!(RemoteUrl::parse("h:1").is_err());
        assert!(RemoteUrl::parse("nats://h:x").is_err());
    }
}
