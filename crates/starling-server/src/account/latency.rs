//! Service latency tracking, the part decided where a request crosses
//! into the exporting account: whether this request is measured (the
//! export's sampling percentage, or the request's tracing headers), and
//! what is remembered of it until its response (or its failure) ends the
//! measurement. The measurement itself is built and published by the
//! system service (`system::latency`), off the publisher's path.
//!
//! As nats-server: a sampled request with no reply subject is a `400 Bad
//! Request`; one nobody received a `503 Service Unavailable`; one whose
//! response threshold passes unanswered a `504 Service Timeout`; one whose
//! requester left first a `408 Request Timeout`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use starling_auth::latency::Sampling;

use super::{Account, Subscriber};

/// What a tracked export asks for, as its importers' routes carry it.
#[derive(Debug)]
pub(crate) struct LatencyRoute {
    /// Where measurements go, in the exporting account.
    pub(crate) results: Arc<str>,
    pub(crate) sampling: Sampling,
}

/// A header a measurement repeats: a canonical name and its values.
pub(crate) type HeaderField = (String, Vec<String>);

/// A measured request, until its end is known.
#[derive(Debug)]
pub(crate) struct Tracked {
    pub(crate) exporter: Arc<Account>,
    pub(crate) results: Arc<str>,
    pub(crate) requestor: Arc<Subscriber>,
    /// The import shares the requester's details.
    pub(crate) share: bool,
    /// When the request crossed (and its Unix time, in nanoseconds).
    pub(crate) at: Instant,
    pub(crate) at_unix: u64,
    /// The tracing headers that asked for it.
    pub(crate) header: Vec<HeaderField>,
}

/// How a measured request ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Its response came, from `responder` after `service` (from the
    /// request crossing to the response arriving). `remote` is the reply
    /// subject when the responder is on another server, whose own
    /// measurement (`$SYS.LATENCY.M2`) completes this one.
    Answered {
        responder: Arc<Subscriber>,
        service: Duration,
        remote: Option<String>,
    },
    /// No reply subject: 400.
    BadRequest,
    /// Nobody received it: 503.
    NoDelivery,
    /// The response threshold passed: 504.
    Timeout,
    /// The requester is gone: 408.
    InterestLost,
}

/// A finished measurement, for the system service to publish.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) tracked: Box<Tracked>,
    pub(crate) outcome: Outcome,
    /// When the outcome was known.
    pub(crate) at: Instant,
}

/// Whether a request is measured: `draw` is uniform in 0..100, `headers`
/// the request's header block (`NATS/1.0` line first) if it has one.
/// `Some` holds the tracing headers to repeat (nats-server's
/// `shouldSample`, with its quirks: a percentage passes `draw <= p`, and
/// a request the draw missed may still be sampled by its headers).
pub(crate) fn sample(sampling: Sampling, draw: u32, headers: &[u8]) -> Option<Vec<HeaderField>> {
    if let Sampling::Percent(percent) = sampling
        && (percent >= 100 || draw <= u32::from(percent))
    {
        return Some(Vec::new());
    }
    let fields = parse_header(headers);
    if fields.is_empty() {
        return None;
    }
    let get = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let pick = |names: &[&str]| -> Vec<HeaderField> {
        fields
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .cloned()
            .collect()
    };
    const B3: [&str; 4] = [
        "X-B3-Sampled",
        "X-B3-Traceid",
        "X-B3-Parentspanid",
        "X-B3-Spanid",
    ];
    if let Some(uber) = get("Uber-Trace-Id") {
        // `trace:span:parent:flags`: sampled when the flags' last hex
        // digit is odd.
        let tokens: Vec<&str> = uber[0].split(':').collect();
        let flags = tokens.get(3).filter(|_| tokens.len() == 4)?;
        if flags.is_empty() || flags.len() > 2 {
            return None;
        }
        let digit = flags.chars().last().and_then(|c| c.to_digit(16))?;
        return (digit & 1 == 1).then(|| {
            fields
                .iter()
                .filter(|(n, _)| n == "Uber-Trace-Id" || n.starts_with("Uberctx-"))
                .cloned()
                .collect()
        });
    }
    match get("X-B3-Sampled").map(|v| v[0].as_str()) {
        Some("1") => return Some(pick(&B3)),
        Some("0") => return None,
        _ => {}
    }
    if get("X-B3-Traceid").is_some() {
        return Some(pick(&B3));
    }
    if let Some(b3) = get("B3") {
        let tokens: Vec<&str> = b3[0].split('-').collect();
        let denied = (tokens.len() > 2 && tokens[2] == "0") || tokens == ["0"];
        return (!denied).then(|| pick(&["B3"]));
    }
    if let Some(parent) = get("Traceparent") {
        let tokens: Vec<&str> = parent[0].split('-').collect();
        let sampled = tokens.len() == 4 && tokens[3] == "01";
        return sampled.then(|| pick(&["Traceparent", "Tracestate"]));
    }
    None
}

/// The fields of a header block, names in Go's canonical form (as
/// `textproto.ReadMIMEHeader` gives them), values trimmed, in order.
fn parse_header(block: &[u8]) -> Vec<HeaderField> {
    let mut fields: Vec<HeaderField> = Vec::new();
    let text = String::from_utf8_lossy(block);
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = canonical(name);
        let value = value.trim().to_owned();
        match fields.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => fields.push((name, vec![value])),
        }
    }
    fields
}

/// Go's `CanonicalMIMEHeaderKey`: the first letter and every letter after
/// a hyphen upper case, the rest lower (a name with other than token
/// characters is left as it is).
fn canonical(name: &str) -> String {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// nats-server's `getHash`: this server's 8-character tag in tracked
/// reply subjects and in `$SYS.LATENCY.M2.<hash>` (SHA-256 of its name,
/// each byte taken modulo 62 into the base-62 digits).
pub(crate) fn server_hash(name: &str) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
    digest.as_ref()[..8]
        .iter()
        .map(|b| char::from(DIGITS[usize::from(b % 62)]))
        .collect()
}

/// A reply subject a tracking server tagged (`....<hash>.T`): the server
/// that delivers it to a service measures the service's part.
pub(crate) fn is_tracked_reply(reply: &[u8]) -> bool {
    reply.len() > 15 && reply.ends_with(b".T")
}

/// The hash of the server a tracked reply subject names.
pub(crate) fn reply_server_hash(reply: &[u8]) -> Option<&[u8]> {
    let body = reply.strip_suffix(b".T")?;
    let at = body.iter().rposition(|&b| b == b'.')?;
    Some(&body[at + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(lines: &str) -> Vec<u8> {
        format!("NATS/1.0\r\n{lines}\r\n").into_bytes()
    }

    #[test]
    fn percentages_and_headers() {
        assert_eq!(sample(Sampling::Percent(100), 99, b""), Some(vec![]));
        assert_eq!(sample(Sampling::Percent(10), 10, b""), Some(vec![]));
        assert_eq!(sample(Sampling::Percent(10), 11, b""), None);
        assert_eq!(sample(Sampling::Headers, 0, b""), None);
        let parent = hdr(
            "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nTracestate: x=1\r\nOther: 1\r\n",
        );
        assert_eq!(
            sample(Sampling::Headers, 0, &parent),
            Some(vec![
                (
                    "Traceparent".into(),
                    vec!["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()]
                ),
                ("Tracestate".into(), vec!["x=1".into()]),
            ])
        );
        // A missed draw still samples by header.
        assert!(sample(Sampling::Percent(1), 50, &parent).is_some());
        let unsampled = hdr("Traceparent: 00-4bf9-00f0-00\r\n");
        assert_eq!(sample(Sampling::Headers, 0, &unsampled), None);
        let uber = hdr(
            "uber-trace-id: 479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:1\r\nuberctx-a: b\r\n",
        );
        assert_eq!(
            sample(Sampling::Headers, 0, &uber).map(|h| h.len()),
            Some(2)
        );
        let uber_off = hdr("Uber-Trace-Id: a:b:c:0\r\n");
        assert_eq!(sample(Sampling::Headers, 0, &uber_off), None);
        let b3 = hdr(
            "X-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7\r\nX-B3-SpanId: e457b5a2e4d86bd1\r\n",
        );
        assert_eq!(sample(Sampling::Headers, 0, &b3).map(|h| h.len()), Some(2));
        assert_eq!(
            sample(
                Sampling::Headers,
                0,
                &hdr("X-B3-Sampled: 0\r\nX-B3-TraceId: 1\r\n")
            ),
            None
        );
        assert_eq!(sample(Sampling::Headers, 0, &hdr("B3: 0\r\n")), None);
        assert_eq!(sample(Sampling::Headers, 0, &hdr("B3: a-b-0-c\r\n")), None);
        assert_eq!(
            sample(Sampling::Headers, 0, &hdr("b3: a-b-1-c\r\n")),
            Some(vec![("B3".into(), vec!["a-b-1-c".into()])])
        );
    }

    #[test]
    fn hashes_and_tracked_replies() {
        // nats-server 2.9.10 named "A" tags its replies `.NUmM6cRx.T`.
        assert_eq!(server_hash("A"), "NUmM6cRx");
        assert_ne!(server_hash("A"), server_hash("B"));
        assert!(is_tracked_reply(b"_R_.abcdef.ghijkl.HASHHASH.T"));
        assert!(!is_tracked_reply(b"_R_.abc.T"));
        assert_eq!(
            reply_server_hash(b"_R_.abcdef.ghijkl.HASHHASH.T"),
            Some(&b"HASHHASH"[..])
        );
        assert_eq!(canonical("x-b3-traceid"), "X-B3-Traceid");
        assert_eq!(canonical("bad name"), "bad name");
    }
}
