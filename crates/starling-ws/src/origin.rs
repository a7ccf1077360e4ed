//! The origin policy: `same_origin` and `allowed_origins`, checked exactly
//! as nats-server checks them (a request without an Origin is accepted;
//! scheme, host and port must match; no port means 80 for http and 443 for
//! https).

/// Why an Origin was refused (logged; the client sees 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// The Origin header is not a `scheme://host[:port]` URL.
    #[error("invalid origin {0:?}")]
    Unparsable(String),
    /// `same_origin` is set and the Origin differs from the Host.
    #[error("not same origin")]
    NotSameOrigin,
    /// The Origin is not in `allowed_origins`.
    #[error("not in the allowed list")]
    NotAllowed,
}

/// An origin reduced to what is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Lower-case scheme (`http`, `https`).
    pub scheme: String,
    /// Lower-case host.
    pub host: String,
    /// Port, explicit or the scheme's default.
    pub port: u16,
}

impl Origin {
    /// Parses `scheme://host[:port][/path]`.
    pub fn parse(text: &str) -> Result<Self, OriginError> {
        let bad = || OriginError::Unparsable(text.to_owned());
        let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(bad());
        }
        let scheme = scheme.to_ascii_lowercase();
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let authority = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let (host, port) = split_host_port(authority, scheme == "https").ok_or_else(bad)?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self { scheme, host, port })
    }
}

/// Splits `host[:port]` (IPv6 in brackets); no port gives 443 with TLS and
/// 80 without. Hosts are compared in lower case.
pub fn split_host_port(text: &str, tls: bool) -> Option<(String, u16)> {
    let default = if tls { 443 } else { 80 };
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            Some(_) => return None,
            None => (text, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default,
    };
    Some((host.to_ascii_lowercase(), port))
}

/// The configured policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    /// The Origin must equal the request's Host (scheme's default port applied).
    pub same_origin: bool,
    /// When not empty, the Origin must be one of these.
    pub allowed: Vec<Origin>,
}

impl OriginPolicy {
    /// A policy from the configuration's values; an allowed origin that
    /// does not parse is an error (refused at start-up).
    pub fn new(same_origin: bool, allowed: &[String]) -> Result<Self, OriginError> {
        let allowed = allowed
            .iter()
            .map(|a| Origin::parse(a))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            same_origin,
            allowed,
        })
    }

    /// Checks a request's `Origin` against its `Host` (`tls`: the request
    /// came over TLS, so a Host without port means 443).
    pub fn check(&self, origin: Option<&str>, host: &str, tls: bool) -> Result<(), OriginError> {
        if !self.same_origin && self.allowed.is_empty() {
            return Ok(());
        }
        // RFC 6455 §1.6: non-browser clients need not send an Origin.
        let Some(origin) = origin.filter(|o| !o.is_empty()) else {
            return Ok(());
        };
        let origin = Origin::parse(origin)?;
        if self.same_origin {
            let (host, port) = split_host_port(host, tls).ok_or(OriginError::NotSameOrigin)?;
            if origin.host != host || origin.port != port {
                return Err(OriginError::NotSameOrigin);
            }
        }
        if !self.allowed.is_empty() && !self.allowed.contains(&origin) {
            return Err(OriginError::NotAllowed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table measured against nats-server 2.9.10 (shared/reference).
    #[test]
    fn allowed_origins_table() {
        let policy = OriginPolicy::new(
            false,
            &[
                "http://good.example.com".into(),
                "https://secure.example.com:8443".into(),
            ],
        )
        .unwrap();
        let cases = [
            (None, true),
            (Some("http://good.example.com"), true),
            (Some("http://good.example.com:80"), true),
            (Some("http://GOOD.example.com"), true),
            (Some("http://evil.example.com"), false),
            (Some("https://good.example.com"), false),
            (Some("https://secure.example.com:8443"), true),
            (Some("https://secure.example.com"), false),
            (Some("not a url"), false),
        ];
        for (origin, ok) in cases {
            assert_eq!(
                policy.check(origin, "127.0.0.1", false).is_ok(),
                ok,
                "{origin:?}"
            );
        }
    }

    #[test]
    fn same_origin_table() {
        let policy = OriginPolicy::new(true, &[]).unwrap();
        assert!(
            policy
                .check(Some("http://127.0.0.1"), "127.0.0.1", false)
                .is_ok()
        );
        assert!(
            policy
                .check(Some("http://127.0.0.1:8080"), "127.0.0.1:8080", false)
                .is_ok()
        );
        assert_eq!(
            policy.check(Some("http://localhost"), "127.0.0.1", false),
            Err(OriginError::NotSameOrigin)
        );
        assert!(
            policy
                .check(Some("https://example.com"), "example.com", true)
                .is_ok()
        );
        assert_eq!(
            policy.check(Some("https://example.com"), "example.com", false),
            Err(OriginError::NotSameOrigin)
        );
        assert!(policy.check(None, "127.0.0.1", false).is_ok());
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(
            split_host_port("[::1]:8080", false),
            Some(("::1".into(), 8080))
        );
        assert_eq!(split_host_port("[::1]", true), Some(("::1".into(), 443)));
        assert_eq!(
            split_host_port("Example.COM", false),
            Some(("example.com".into(), 80))
        );
        assert_eq!(split_host_port("a:b", false), None);
        assert!(OriginPolicy::new(false, &["localhost".into()]).is_err());
    }
}
