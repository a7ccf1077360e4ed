//! The `websocket { ... }` block of the configuration, typed and checked
//! the way nats-server checks it (and, where nats-server finds a problem
//! only at start-up, already here).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use starling_conf::{ConfError, Value, ValueKind};

use crate::origin::OriginPolicy;

/// The handshake timeout when none is configured: nats-server has none,
/// which lets a silent peer hold a socket forever; Starling uses its TLS
/// timeout instead.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// TLS files and settings of the websocket listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// PEM CA certificates to verify clients with.
    pub ca_file: Option<PathBuf>,
    /// Require and verify client certificates.
    pub verify: bool,
    /// The TLS handshake's deadline (`timeout`, seconds or a duration; 2 s
    /// when unset or 0, as nats-server). The client and leafnode ports
    /// apply it; on the websocket port, as in nats-server, the whole
    /// upgrade (TLS included) is bounded by `handshake_timeout` instead.
    pub timeout: Duration,
    /// `verify_and_map`: `verify`, and the client's user is the one its
    /// certificate names (e-mail, DNS or URI SAN, or subject).
    pub verify_and_map: bool,
    /// `insecure`: accepted; on a listener it means nothing, as in
    /// nats-server.
    pub insecure: bool,
    /// Cipher suites, curves and pinned certificates.
    pub tuning: crate::TlsTuning,
    /// `connection_rate_limit`: TLS handshakes per second on the client
    /// port, beyond which a client is turned away (0: no limit).
    pub connection_rate_limit: u32,
}

/// nats-server's TLS handshake deadline when `timeout` is unset.
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// The websocket listener's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsocketOptions {
    /// Interface to listen on (default `0.0.0.0`).
    pub host: String,
    /// Port; 0 asks for any free port.
    pub port: u16,
    /// `host:port` advertised to clients instead of the listen address.
    pub advertise: Option<String>,
    /// TLS (wss://); required unless `no_tls`.
    pub tls: Option<TlsOptions>,
    /// Plain ws:// explicitly allowed.
    pub no_tls: bool,
    /// Origin checks (`same_origin`, `allowed_origins`).
    pub origins: OriginPolicy,
    /// Offer permessage-deflate to clients that ask for it.
    pub compression: bool,
    /// Time allowed for the TLS handshake plus the HTTP upgrade.
    pub handshake_timeout: Duration,
    /// Peers whose `X-Forwarded-For` is believed (Starling's option;
    /// nats-server believes anyone).
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for WebsocketOptions {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".to_owned(),
            port: 0,
            advertise: None,
            tls: None,
            no_tls: false,
            origins: OriginPolicy::default(),
            compression: false,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            trusted_proxies: Vec::new(),
        }
    }
}

impl WebsocketOptions {
    /// Reads a `websocket` block. `Ok(None)`: the block names no port, so
    /// (as in nats-server) no websocket listener is started. Every problem
    /// is reported, each at its place.
    pub fn from_value(block: &Value) -> Result<Option<Self>, Vec<ConfError>> {
        let map = block.as_map("websocket").map_err(|e| vec![e])?;
        let mut options = Self::default();
        let mut port: Option<i64> = None;
        let mut same_origin = false;
        let mut allowed: Vec<(String, Value)> = Vec::new();
        let mut errors = Vec::new();
        for (key, value) in map.options() {
            let result = match key.name.to_ascii_lowercase().as_str() {
                "listen" => listen(value).map(|(host, p)| {
                    if let Some(host) = host {
                        options.host = host;
                    }
                    port = Some(p);
                }),
                "port" => value.as_integer("port").map(|p| port = Some(p)),
                "host" | "net" => value.as_str("host").map(|h| options.host = h.to_owned()),
                "advertise" => value
                    .as_str("advertise")
                    .map(|a| options.advertise = Some(a.to_owned())),
                "no_tls" => value.as_bool("no_tls").map(|b| options.no_tls = b),
                "tls" => TlsOptions::from_value(value)
                    .map(|t| options.tls = Some(t))
                    .map_err(|mut e| {
                        let first = e.remove(0);
                        errors.extend(e);
                        first
                    }),
                "same_origin" => value.as_bool("same_origin").map(|b| same_origin = b),
                "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin"
                | "origins" | "origin" => strings(value, &key.name).map(|list| allowed = list),
                "compress" | "compression" => value
                    .as_bool("compression")
                    .map(|b| options.compression = b),
                "handshake_timeout" => {
                    handshake_timeout(value).map(|d| options.handshake_timeout = d)
                }
                "trusted_proxies" => strings(value, &key.name).and_then(|list| {
                    list.into_iter()
                        .map(|(text, v)| {
                            text.parse().map_err(|_| {
                                v.error(format!("trusted_proxies: {text:?} is not an IP address"))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map(|ips| options.trusted_proxies = ips)
                }),
                // Read by starling-auth.
                "authorization" | "authentication" | "no_auth_user" | "user_cookie"
                | "pass_cookie" | "token_cookie" | "jwt_cookie" => Ok(()),
                _ => Err(ConfError::unknown_field(key)),
            };
            if let Err(error) = result {
                errors.push(error);
            }
        }
        let port = match port {
            None | Some(0) => None,
            Some(-1) => Some(0),
            Some(p) => match u16::try_from(p) {
                Ok(p) => Some(p),
                Err(_) => {
                    errors.push(block.error(format!(
                        "websocket: {p} is not a port (0-65535, or -1 for any)"
                    )));
                    None
                }
            },
        };
        match OriginPolicy::new(
            same_origin,
            &allowed.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>(),
        ) {
            Ok(policy) => options.origins = policy,
            Err(error) => {
                let place = allowed
                    .iter()
                    .find(|(t, _)| crate::origin::Origin::parse(t).is_err())
                    .map(|(_, v)| v.span.clone());
                errors.push(ConfError::at(
                    &place.unwrap_or_else(|| block.span.clone()),
                    format!("unable to parse allowed origin: {error}"),
                ));
            }
        }
        if port.is_some() && options.tls.is_none() && !options.no_tls {
            errors.push(block.error("websocket requires TLS configuration"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(port.map(|port| Self { port, ..options }))
    }
}

fn listen(value: &Value) -> Result<(Option<String>, i64), ConfError> {
    match &value.kind {
        ValueKind::Integer(port) => Ok((None, *port)),
        ValueKind::String(text) => {
            let (host, port) = text.rsplit_once(':').ok_or_else(|| {
                value.error(format!("listen: expected \"host:port\", got {text:?}"))
            })?;
            let port = port
                .parse()
                .map_err(|_| value.error(format!("listen: invalid port in {text:?}")))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Ok(((!host.is_empty()).then(|| host.to_owned()), port))
        }
        _ => Err(value.error(format!(
            "listen: expected a port or \"host:port\", got {}",
            value.kind_name()
        ))),
    }
}

fn strings(value: &Value, option: &str) -> Result<Vec<(String, Value)>, ConfError> {
    match &value.kind {
        ValueKind::String(s) => Ok(vec![(s.clone(), value.clone())]),
        ValueKind::Array(items) => items
            .iter()
            .map(|item| item.as_str(option).map(|s| (s.to_owned(), item.clone())))
            .collect(),
        _ => Err(value.error(format!(
            "{option}: expected a string or an array of strings, got {}",
            value.kind_name()
        ))),
    }
}

fn handshake_timeout(value: &Value) -> Result<Duration, ConfError> {
    let duration = value.as_duration("handshake_timeout")?;
    Ok(if duration.is_zero() {
        DEFAULT_HANDSHAKE_TIMEOUT
    } else {
        duration
    })
}

impl TlsOptions {
    /// A certificate and key with every other setting at its default.
    pub fn new(cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> Self {
        Self {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            ca_file: None,
            verify: false,
            timeout: DEFAULT_TLS_TIMEOUT,
            verify_and_map: false,
            insecure: false,
            tuning: crate::TlsTuning::default(),
            connection_rate_limit: 0,
        }
    }

    /// Reads a `tls { cert_file, key_file, ca_file, verify }` block (the
    /// websocket block's, or the top-level one for the client port).
    pub fn from_value(value: &Value) -> Result<Self, Vec<ConfError>> {
        tls(value)
    }
}

fn tls(value: &Value) -> Result<TlsOptions, Vec<ConfError>> {
    let map = value.as_map("tls").map_err(|e| vec![e])?;
    let (mut cert, mut key, mut ca, mut verify) = (None, None, None, false);
    let mut timeout = DEFAULT_TLS_TIMEOUT;
    let (mut verify_and_map, mut insecure) = (false, false);
    let mut rate_limit = 0;
    let mut tuning = crate::TlsTuning::default();
    let mut errors = Vec::new();
    for (k, v) in map.options() {
        if let Some(result) = tuning.read(k, v) {
            if let Err(error) = result {
                errors.push(error);
            }
            continue;
        }
        let result = match k.name.to_ascii_lowercase().as_str() {
            "cert_file" => v.as_str("cert_file").map(|p| cert = Some(PathBuf::from(p))),
            "key_file" => v.as_str("key_file").map(|p| key = Some(PathBuf::from(p))),
            "ca_file" => v.as_str("ca_file").map(|p| ca = Some(PathBuf::from(p))),
            "verify" => v.as_bool("verify").map(|b| verify = b),
            "timeout" => v.as_duration("timeout").map(|d| {
                if !d.is_zero() {
                    timeout = d;
                }
            }),
            "verify_and_map" => v.as_bool("verify_and_map").map(|b| {
                verify_and_map = b;
                verify |= b;
            }),
            "insecure" => v.as_bool("insecure").map(|b| insecure = b),
            // A listener's peers are clients: nats-server refuses it here.
            "verify_cert_and_check_known_urls" => v.as_bool(&k.name).and_then(|on| {
                if on {
                    Err(v.error("verify_cert_and_check_known_urls not supported in this context"))
                } else {
                    Ok(())
                }
            }),
            "connection_rate_limit" => v.as_integer("connection_rate_limit").map(|n| {
                // nats-server: 0 or less is no limit.
                rate_limit = u32::try_from(n.max(0)).unwrap_or(u32::MAX);
            }),
            _ => Err(ConfError::unknown_field(k)),
        };
        if let Err(error) = result {
            errors.push(error);
        }
    }
    match (cert, key) {
        (Some(cert_file), Some(key_file)) if errors.is_empty() => Ok(TlsOptions {
            cert_file,
            key_file,
            ca_file: ca,
            verify,
            timeout,
            verify_and_map,
            insecure,
            tuning,
            connection_rate_limit: rate_limit,
        }),
        (cert, key) => {
            if cert.is_none() {
                errors.push(value.error("tls: missing 'cert_file'"));
            }
            if key.is_none() {
                errors.push(value.error("tls: missing 'key_file'"));
            }
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Option<WebsocketOptions>, Vec<String>> {
        let root = starling_conf::parse_str(text).map_err(|e| vec![e.to_string()])?;
        let block = root
            .as_map("root")
            .unwrap()
            .get("websocket")
            .unwrap()
            .clone();
        WebsocketOptions::from_value(&block)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_full_block() {
        let o = read(
            "websocket {\n listen: \"127.0.0.1:8443\"\n advertise: \"ws.example.com:443\"\n tls { cert_file: c.pem, key_file: k.pem, verify: true }\n \
             same_origin: true\n allowed_origins: [\"https://a.example.com\"]\n compression: true\n handshake_timeout: \"5s\"\n trusted_proxies: [\"10.0.0.1\"]\n}",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (o.host.as_str(), o.port, o.advertise.as_deref()),
            ("127.0.0.1", 8443, Some("ws.example.com:443"))
        );
        assert!(o.tls.as_ref().unwrap().verify && o.compression && o.origins.same_origin);
        assert_eq!(o.handshake_timeout, Duration::from_secs(5));
        assert_eq!(
            o.trusted_proxies,
            vec!["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn no_port_means_no_listener() {
        assert_eq!(read("websocket { no_tls: true }").unwrap(), None);
        assert_eq!(
            read("websocket { port: -1, no_tls: true }")
                .unwrap()
                .unwrap()
                .port,
            0
        );
    }

    #[test]
    fn start_up_errors_come_early() {
        assert_eq!(
            read("websocket { port: 8080 }").unwrap_err(),
            vec!["1:11: websocket requires TLS configuration"]
        );
        let errors = read("websocket {\n port: 8080\n no_tls: true\n allowed_origins: [\"nope\"]\n jwt_cookie: jwt\n bogus: 1\n tls { cert_file: c }\n}")
            .unwrap_err();
        assert_eq!(
            errors,
            vec![
                "6:2: unknown field \"bogus\"",
                "7:6: tls: missing 'key_file'",
                "4:20: unable to parse allowed origin: invalid origin \"nope\"",
            ]
        );
        // Authentication keys belong to starling-auth.
        assert!(
            read("websocket { port: 1, no_tls: true, no_auth_user: a, user_cookie: u }").is_ok()
        );
    }
}
