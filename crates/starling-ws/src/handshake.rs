//! The HTTP upgrade (RFC 6455 §4.2): parse the request, validate it as
//! nats-server does, and write nats-server's replies byte for byte.

use base64::Engine as _;
use bytes::BufMut;
use sha1::{Digest, Sha1};

use crate::origin::{OriginError, OriginPolicy};

mod client;
mod embedded;

pub use client::{ClientUpgrade, check_response, client_request};

pub use embedded::check_http;

/// The largest upgrade request accepted (headers included).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// The `Sec-WebSocket-Extensions` value of a 101 that enables deflate.
const DEFLATE_RESPONSE: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// The GUID every accept key is derived with (RFC 6455 §1.3).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why an upgrade was refused; each has nats-server's status and log text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// Not a GET (405).
    #[error("request method must be GET")]
    MethodNotAllowed,
    /// No Host header (400).
    #[error("'Host' missing in request")]
    MissingHost,
    /// No `Upgrade: websocket` (400).
    #[error("invalid value for header 'Upgrade'")]
    BadUpgradeHeader,
    /// No `Connection: Upgrade` (400).
    #[error("invalid value for header 'Connection'")]
    BadConnectionHeader,
    /// No Sec-WebSocket-Key (400).
    #[error("key missing")]
    MissingKey,
    /// Sec-WebSocket-Version is not 13 (400).
    #[error("invalid version")]
    BadVersion,
    /// The origin policy refused the request (403).
    #[error("origin not allowed: {0}")]
    OriginNotAllowed(OriginError),
    /// Bytes after the request, before the upgrade was answered (400).
    #[error("client sent data before handshake is complete")]
    DataBeforeHandshake,
    /// Not an HTTP request at all, one too large, or one with more than one
    /// Host header (plain 400 with `Connection: close`, as Go's HTTP server
    /// answers).
    #[error("malformed HTTP request")]
    Malformed,
    /// An HTTP/1.1 request without a Host header: Go's HTTP server refuses
    /// it before nats-server sees it, with its own reason.
    #[error("missing required Host header")]
    MissingRequiredHost,
    /// A Host header with bytes no host name has (Go's HTTP server, again).
    #[error("malformed Host header")]
    MalformedHost,
}

/// The request's HTTP version: nats-server's own refusals echo it in the
/// status line, as Go's response writer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// `HTTP/1.0`.
    Http10,
    /// `HTTP/1.1`, and whatever cannot be read.
    #[default]
    Http11,
}

impl HttpVersion {
    /// The version named by the request line at the front of `buf`.
    pub fn of_request(buf: &[u8]) -> Self {
        let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
        if line.trim_ascii_end().ends_with(b" HTTP/1.0") {
            Self::Http10
        } else {
            Self::Http11
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Http10 => "HTTP/1.0",
            Self::Http11 => "HTTP/1.1",
        }
    }
}

impl UpgradeError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Self::MethodNotAllowed => 405,
            Self::OriginNotAllowed(_) => 403,
            _ => 400,
        }
    }

    /// Writes nats-server's reply. `date` is the HTTP date to send
    /// (see [`http_date`]).
    pub fn encode<B: BufMut>(&self, out: &mut B, date: &str, version: HttpVersion) {
        // Go's HTTP server writes these itself, always as HTTP/1.1.
        let early = match self {
            Self::Malformed => Some("400 Bad Request"),
            Self::MissingRequiredHost => Some("400 Bad Request: missing required Host header"),
            Self::MalformedHost => Some("400 Bad Request: malformed Host header"),
            _ => None,
        };
        if let Some(reason) = early {
            let reply = format!(
                "HTTP/1.1 {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{reason}"
            );
            out.put_slice(reply.as_bytes());
            return;
        }
        let text = match self.status() {
            405 => "Method Not Allowed",
            403 => "Forbidden",
            _ => "Bad Request",
        };
        let head = format!(
            "{} {} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: {date}\r\nContent-Length: {}\r\n\r\n{text}\n",
            version.text(),
            self.status(),
            text.len() + 1
        );
        out.put_slice(head.as_bytes());
    }
}

/// What the server needs to decide on an upgrade.
#[derive(Debug, Clone, Default)]
pub struct HandshakePolicy {
    /// Origin checks.
    pub origins: OriginPolicy,
    /// Whether permessage-deflate may be negotiated.
    pub compression: bool,
    /// The request came over TLS (Host without port means 443).
    pub tls: bool,
    /// The peer is a trusted proxy, so `X-Forwarded-For` names the client.
    pub trust_forwarded_for: bool,
}

/// An accepted upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The value of `Sec-WebSocket-Accept`.
    pub accept_key: String,
    /// permessage-deflate was offered and is enabled.
    pub compress: bool,
    /// The client's address from `X-Forwarded-For`, when trusted and valid.
    pub forwarded_for: Option<std::net::IpAddr>,
    /// Cookies of the request, for cookie authentication.
    pub cookies: Vec<(String, String)>,
    /// The User-Agent looks like a browser (`Mozilla/...`): frames to it
    /// are kept to 4096 bytes, as nats-server does.
    pub browser: bool,
    /// The request path (`/`, or `/leafnode`, `/mqtt` later).
    pub path: String,
    /// The request said `Nats-No-Masking: true`: the peer will send
    /// unmasked frames (the reply says so too), as nats-server allows.
    pub no_masking: bool,
}

impl Upgrade {
    /// Writes the `101 Switching Protocols` reply.
    pub fn encode_response<B: BufMut>(&self, out: &mut B) {
        out.put_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
        out.put_slice(self.accept_key.as_bytes());
        out.put_slice(b"\r\n");
        if self.compress {
            out.put_slice(b"Sec-WebSocket-Extensions: ");
            out.put_slice(DEFLATE_RESPONSE.as_bytes());
            out.put_slice(b"\r\n");
        }
        if self.no_masking {
            out.put_slice(b"Nats-No-Masking: true\r\n");
        }
        out.put_slice(b"\r\n");
    }

    /// Whether the request was for a leaf-node connection: its path
    /// starts with `/leafnode` (nats-server 2.9.10, which appends a URL's
    /// path to it) or ends with it (newer servers, which prepend it).
    pub fn is_leafnode(&self) -> bool {
        self.path.starts_with("/leafnode") || self.path.ends_with("/leafnode")
    }
}

/// Looks for a complete upgrade request at the front of `buf` and decides
/// on it. `Ok(None)`: more bytes are needed.
pub fn handle_request(
    buf: &[u8],
    policy: &HandshakePolicy,
) -> Result<Option<Upgrade>, UpgradeError> {
    // Room for as many headers as the request has lines, so any number
    // that fits in MAX_REQUEST_BYTES is read (nats-server takes 70 and
    // more); a request is a few hundred bytes, so counting is cheap.
    let lines = buf.iter().filter(|&&b| b == b'\n').count();
    let mut headers = vec![httparse::EMPTY_HEADER; lines.min(MAX_REQUEST_BYTES / 4) + 1];
    let mut request = httparse::Request::new(&mut headers);
    let consumed = match request.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n > MAX_REQUEST_BYTES => {
            return Err(UpgradeError::Malformed);
        }
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_REQUEST_BYTES => {
            return Err(UpgradeError::Malformed);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(UpgradeError::Malformed),
    };
    let headers = request
        .headers
        .iter()
        .map(|h| (h.name, h.value))
        .collect::<Vec<_>>();
    let parsed = Request {
        method: request.method.unwrap_or_default(),
        http11: request.version == Some(1),
        path: request.path.unwrap_or("/"),
        headers: &headers,
        data_after: consumed < buf.len(),
    };
    decide(&parsed, policy).map(Some)
}

/// A parsed upgrade request, from whichever HTTP parser read it.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) http11: bool,
    pub(crate) path: &'a str,
    pub(crate) headers: &'a [(&'a str, &'a [u8])],
    /// Bytes followed the request before the upgrade was answered.
    pub(crate) data_after: bool,
}

/// nats-server's checks, in its order, on a parsed request.
pub(crate) fn decide(
    request: &Request<'_>,
    policy: &HandshakePolicy,
) -> Result<Upgrade, UpgradeError> {
    let headers = request.headers;
    let one = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    let contains = |name: &str, token: &str| {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .any(|(_, v)| {
                String::from_utf8_lossy(v)
                    .split(',')
                    .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
            })
    };
    // Go's HTTP server checks Host before the handler runs.
    let mut hosts = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Host"));
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(UpgradeError::Malformed),
        (None, _) if request.http11 => {
            return Err(UpgradeError::MissingRequiredHost);
        }
        (Some((_, value)), None) if !value.iter().all(|&b| valid_host_byte(b)) => {
            return Err(UpgradeError::MalformedHost);
        }
        _ => {}
    }
    if request.method != "GET" {
        return Err(UpgradeError::MethodNotAllowed);
    }
    let host = one("Host")
        .filter(|h| !h.is_empty())
        .ok_or(UpgradeError::MissingHost)?;
    if !contains("Upgrade", "websocket") {
        return Err(UpgradeError::BadUpgradeHeader);
    }
    if !contains("Connection", "Upgrade") {
        return Err(UpgradeError::BadConnectionHeader);
    }
    let key = one("Sec-WebSocket-Key")
        .filter(|k| !k.is_empty())
        .ok_or(UpgradeError::MissingKey)?;
    if !contains("Sec-WebSocket-Version", "13") {
        return Err(UpgradeError::BadVersion);
    }
    let origin = one("Origin").or_else(|| one("Sec-WebSocket-Origin"));
    policy
        .origins
        .check(origin.as_deref(), &host, policy.tls)
        .map_err(UpgradeError::OriginNotAllowed)?;
    if request.data_after {
        return Err(UpgradeError::DataBeforeHandshake);
    }
    let compress = policy.compression && offers_deflate(headers);
    let forwarded_for = if policy.trust_forwarded_for {
        one("X-Forwarded-For")
            .and_then(|v| v.split(',').next().and_then(|ip| ip.trim().parse().ok()))
    } else {
        None
    };
    let cookies = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Cookie"))
        .flat_map(|(_, v)| {
            String::from_utf8_lossy(v)
                .split(';')
                .filter_map(|c| {
                    let (name, value) = c.split_once('=')?;
                    Some((
                        name.trim().to_owned(),
                        value.trim().trim_matches('"').to_owned(),
                    ))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let browser = one("User-Agent").is_some_and(|ua| ua.starts_with("Mozilla/"));
    Ok(Upgrade {
        accept_key: accept_key(key.trim()),
        compress,
        forwarded_for,
        cookies,
        browser,
        path: request.path.to_owned(),
        no_masking: one("Nats-No-Masking").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
    })
}

/// The bytes Go's HTTP server allows in a Host header (its
/// `httpguts.ValidHostHeader`).
fn valid_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!$%&'()*+,-.:;=[]_~".contains(&b)
}

fn offers_deflate(headers: &[(&str, &[u8])]) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
        .any(|(_, v)| {
            String::from_utf8_lossy(v).split(',').any(|ext| {
                ext.split(';').any(|p| {
                    p.trim_matches([' ', '\t'])
                        .eq_ignore_ascii_case("permessage-deflate")
                })
            })
        })
}

/// `Sec-WebSocket-Accept` for a client key (RFC 6455 §4.2.2).
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// An HTTP date (`Tue, 24 Nov 2026 11:29:52 GMT`) for `unix_seconds`.
pub fn http_date(unix_seconds: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = starling_conf::UtcTime::from_unix(unix_seconds);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[t.weekday as usize],
        t.day,
        MONTHS[(t.month - 1) as usize],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_number_of_headers_within_the_size_cap() {
        let mut request = GOOD.to_owned();
        for i in 0..200 {
            request.push_str(&format!("X-Extra-{i}: {i}\r\n"));
        }
        request.push_str("\r\n");
        let upgrade = handle_request(request.as_bytes(), &HandshakePolicy::default());
        assert!(matches!(upgrade, Ok(Some(_))), "{upgrade:?}");
        // Complete, but past the cap: refused like an incomplete one.
        let mut big = GOOD.to_owned();
        big.push_str(&format!("X-Big: {}\r\n\r\n", "x".repeat(MAX_REQUEST_BYTES)));
        assert_eq!(
            handle_request(big.as_bytes(), &HandshakePolicy::default()),
            Err(UpgradeError::Malformed)
        );
    }

    const GOOD: &str = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

    fn run(request: &str, policy: &HandshakePolicy) -> Result<Option<Upgrade>, UpgradeError> {
        handle_request(request.as_bytes(), policy)
    }

    fn with(extra: &str) -> String {
        if extra.is_empty() {
            format!("{GOOD}\r\n")
        } else {
            format!("{GOOD}{extra}\r\n\r\n")
        }
    }

    #[test]
    fn accepts_and_answers_like_nats_server() {
        let upgrade = run(&with(""), &HandshakePolicy::default())
            .unwrap()
            .unwrap();
        assert_eq!(upgrade.accept_key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let mut out = Vec::new();
        upgrade.encode_response(&mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn refusal_table() {
        let policy = HandshakePolicy::default();
        let cases: &[(&str, u16)] = &[
            ("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 405),
            (
                "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n",
                400,
            ),
            (
                "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n",
                400,
            ),
            (
                "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n",
                400,
            ),
            (
                "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
                400,
            ),
            (
                "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 8\r\n\r\n",
                400,
            ),
            ("garbage\r\n\r\n", 400),
        ];
        for (request, status) in cases {
            let error = run(request, &policy).unwrap_err();
            assert_eq!(error.status(), *status, "{request:?}: {error}");
        }
        assert_eq!(
            run(&format!("{}PING\r\n", with("")), &policy),
            Err(UpgradeError::DataBeforeHandshake)
        );
    }

    #[test]
    fn tolerant_where_nats_server_is() {
        let policy = HandshakePolicy::default();
        let http10 = GOOD.replace("HTTP/1.1", "HTTP/1.0") + "\r\n";
        assert!(run(&http10, &policy).unwrap().is_some());
        let lists = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: foo, WebSocket\r\nConnection: keep-alive, upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n";
        assert!(run(lists, &policy).unwrap().is_some());
        assert_eq!(
            run(&GOOD[..40], &policy),
            Ok(None),
            "incomplete: wait for more"
        );
    }

    #[test]
    fn error_replies_are_nats_servers() {
        let mut out = Vec::new();
        UpgradeError::MethodNotAllowed.encode(
            &mut out,
            "Tue, 24 Nov 2026 11:29:52 GMT",
            HttpVersion::Http11,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: Tue, 24 Nov 2026 11:29:52 GMT\r\nContent-Length: 19\r\n\r\nMethod Not Allowed\n"
        );
        let mut out = Vec::new();
        UpgradeError::OriginNotAllowed(OriginError::NotAllowed).encode(
            &mut out,
            "D",
            HttpVersion::Http11,
        );
        assert!(
            String::from_utf8(out)
                .unwrap()
                .ends_with("Content-Length: 10\r\n\r\nForbidden\n")
        );
        assert_eq!(http_date(1795519792), "Tue, 24 Nov 2026 11:29:52 GMT");
    }

    /// Go's HTTP server judges Host before nats-server's handler runs, and
    /// the handler's refusals echo an HTTP/1.0 request's version.
    #[test]
    fn host_rules_and_version_are_gos() {
        let policy = HandshakePolicy::default();
        let without_host = GOOD.replace("Host: 127.0.0.1\r\n", "") + "\r\n";
        assert_eq!(
            run(&without_host, &policy),
            Err(UpgradeError::MissingRequiredHost)
        );
        let post = without_host.replace("GET", "POST");
        assert_eq!(run(&post, &policy), Err(UpgradeError::MissingRequiredHost));
        let two = GOOD.replace("Host: 127.0.0.1", "Host: a\r\nHost: b") + "\r\n";
        assert_eq!(run(&two, &policy), Err(UpgradeError::Malformed));
        let spaced = GOOD.replace("Host: 127.0.0.1", "Host: a b") + "\r\n";
        assert_eq!(run(&spaced, &policy), Err(UpgradeError::MalformedHost));
        let http10 = without_host.replace("HTTP/1.1", "HTTP/1.0");
        assert_eq!(run(&http10, &policy), Err(UpgradeError::MissingHost));
        assert_eq!(
            HttpVersion::of_request(http10.as_bytes()),
            HttpVersion::Http10
        );

        let mut out = Vec::new();
        UpgradeError::MissingHost.encode(&mut out, "D", HttpVersion::Http10);
        assert!(out.starts_with(b"HTTP/1.0 400 Bad Request\r\n"));
        let mut out = Vec::new();
        UpgradeError::MissingRequiredHost.encode(&mut out, "D", HttpVersion::Http10);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header"
        );
    }

    #[test]
    fn compression_origin_cookies_and_forwarding() {
        let policy = HandshakePolicy {
            origins: OriginPolicy::new(false, &["http://good.example.com".into()]).unwrap(),
            compression: true,
            tls: false,
            trust_forwarded_for: true,
        };
        let request = with(
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nOrigin: http://good.example.com\r\nCookie: a=1; jwt=\"x.y.z\"\r\nX-Forwarded-For: 10.1.2.3, 10.0.0.1\r\nUser-Agent: Mozilla/5.0",
        );
        let upgrade = run(&request, &policy).unwrap().unwrap();
        assert!(upgrade.compress && upgrade.browser);
        assert_eq!(upgrade.forwarded_for, Some("10.1.2.3".parse().unwrap()));
        assert_eq!(
            upgrade.cookies,
            vec![("a".into(), "1".into()), ("jwt".into(), "x.y.z".into())]
        );
        let mut out = Vec::new();
        upgrade.encode_response(&mut out);
        assert!(String::from_utf8(out).unwrap().contains(
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
        ));
        let evil = with("Origin: http://evil.example.com");
        assert_eq!(run(&evil, &policy).unwrap_err().status(), 403);
        let untrusted = HandshakePolicy {
            trust_forwarded_for: false,
            ..policy
        };
        assert_eq!(
            run(&request, &untrusted).unwrap().unwrap().forwarded_for,
            None
        );
    }
}
