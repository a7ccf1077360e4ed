//! The URL resolver's settings: `resolver: URL(<base url>)` (or the
//! operator JWT's `account_server_url`, with `/accounts` added, as
//! nats-server takes it when no `resolver` is given), and `resolver_tls`
//! for an `https` server. The server fetches `<base url><account key>`.

use std::path::PathBuf;
use std::time::Duration;

use starling_conf::{ConfError, Value, ValueKind};

/// `resolver_tls`: how the server's HTTPS client trusts the account
/// server and what certificate it shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolverTls {
    /// The account server's authority (`None`: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// A client certificate to show, with its key.
    pub cert_file: Option<PathBuf>,
    /// Its key.
    pub key_file: Option<PathBuf>,
    /// `insecure: true`: the account server's certificate is not checked.
    pub insecure: bool,
    /// The handshake's deadline (`timeout`); the fetch's own 1.9 s bound
    /// it in any case.
    pub timeout: Option<Duration>,
}

/// Reads `URL(<url>)` (any case, the URL quoted or not) into the base URL
/// (ending in `/`); `None` when `text` is not a URL resolver.
///
/// # Errors
///
/// The URL is not an `http` or `https` one.
pub(crate) fn url_resolver(text: &str) -> Option<Result<String, String>> {
    let text = text.trim();
    let rest = text
        .get(..3)
        .filter(|head| head.eq_ignore_ascii_case("URL"))
        .map(|_| text[3..].trim())?;
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(rest)
        .trim()
        .trim_matches('"');
    Some(base_url(inner))
}

/// `url` checked as an account server's base URL, ending in `/`.
pub(crate) fn base_url(url: &str) -> Result<String, String> {
    let host = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .map(|rest| rest.split('/').next().unwrap_or_default());
    match host {
        Some(host) if !host.is_empty() => Ok(if url.ends_with('/') {
            url.to_owned()
        } else {
            format!("{url}/")
        }),
        _ => Err(format!(
            "error parsing account resolver url {url:?}: an http or https URL is expected"
        )),
    }
}

/// Reads `resolver_tls { cert_file, key_file, ca_file, insecure, verify,
/// timeout }`; what a client cannot use (`verify_and_map`, suites,
/// pins...) is refused by name.
pub(crate) fn read_resolver_tls(value: &Value) -> Result<ResolverTls, ConfError> {
    let ValueKind::Map(map) = &value.kind else {
        return Err(value.error("resolver_tls: expected a map"));
    };
    let mut tls = ResolverTls::default();
    for (key, field) in map.options() {
        let name = key.name.to_ascii_lowercase();
        let path = || field.as_str(&name).map(PathBuf::from);
        match name.as_str() {
            "cert_file" => tls.cert_file = Some(path()?),
            "key_file" => tls.key_file = Some(path()?),
            "ca_file" => tls.ca_file = Some(path()?),
            "insecure" => tls.insecure = field.as_bool(&name)?,
            // The server checks the account server's certificate anyway.
            "verify" => {
                field.as_bool(&name)?;
            }
            "timeout" => tls.timeout = Some(field.as_duration(&name)?),
            _ => {
                return Err(ConfError::at(
                    &key.span,
                    format!(
                        "resolver_tls: {:?} is not supported for the account server's client",
                        key.name
                    ),
                ));
            }
        }
    }
    if tls.cert_file.is_some() != tls.key_file.is_some() {
        return Err(value.error("resolver_tls: cert_file and key_file go together"));
    }
    Ok(tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_resolvers_are_read_as_nats_server_reads_them() {
        let read = |text: &str| url_resolver(text);
        assert_eq!(
            read("URL(http://127.0.0.1:9090/jwt/v1/accounts/)"),
            Some(Ok("http://127.0.0.1:9090/jwt/v1/accounts/".into()))
        );
        assert_eq!(
            read("url(\"https://h/a\")"),
            Some(Ok("https://h/a/".into()))
        );
        assert_eq!(read("MEMORY"), None);
        assert!(read("URL(ftp://h/)").is_some_and(|r| r.is_err()));
        let tls =
            starling_conf::parse_str("t { ca_file: a.pem, insecure: true, timeout: 2 }").unwrap();
        let (_, block) = tls.as_map("t").unwrap().get_ignore_case("t").unwrap();
        let read = read_resolver_tls(block).unwrap();
        assert_eq!(read.ca_file, Some(PathBuf::from("a.pem")));
        assert!(read.insecure);
        let bad = starling_conf::parse_str("t { pinned_certs: [] }").unwrap();
        let (_, block) = bad.as_map("t").unwrap().get_ignore_case("t").unwrap();
        assert!(read_resolver_tls(block).is_err());
    }
}
