//! `-V` protocol tracing in nats-server's words: `<<- [PUB foo 5]`, then
//! `<<- MSG_PAYLOAD: ["hello"]`, cut to `max_traced_msg_len` bytes with
//! `...` as nats-server cuts it. Secrets in CONNECT never reach the log.

use starling_proto::{ClientOp, redact_connect};

/// Traces one operation a client (or, with `trace_verbose`, the system
/// account's internal client) sent.
pub(crate) fn trace_op(cid: u64, op: &ClientOp, max_traced: usize) {
    match op {
        ClientOp::Connect(json) => tracing::trace!(cid, "<<- [CONNECT {}]", redact_connect(json)),
        ClientOp::Pub(publish) => {
            let mut line = String::from(if publish.is_hpub() { "HPUB " } else { "PUB " });
            line.push_str(&String::from_utf8_lossy(publish.subject()));
            for arg in [publish.reply(), publish.header_token()]
                .into_iter()
                .flatten()
            {
                line.push(' ');
                line.push_str(&String::from_utf8_lossy(arg));
            }
            line.push(' ');
            line.push_str(&String::from_utf8_lossy(publish.size_token()));
            tracing::trace!(cid, "<<- [{line}]");
            tracing::trace!(
                cid,
                "<<- MSG_PAYLOAD: [{}]",
                payload(publish.message(), max_traced)
            );
        }
        ClientOp::Sub(sub) => {
            let queue = sub
                .queue()
                .map(|q| format!(" {}", String::from_utf8_lossy(&q)))
                .unwrap_or_default();
            tracing::trace!(
                cid,
                "<<- [SUB {}{queue} {}]",
                String::from_utf8_lossy(&sub.subject()),
                String::from_utf8_lossy(sub.sid())
            );
        }
        ClientOp::Unsub(unsub) => {
            let max = unsub.max().map(|m| format!(" {m}")).unwrap_or_default();
            tracing::trace!(
                cid,
                "<<- [UNSUB {}{max}]",
                String::from_utf8_lossy(unsub.sid())
            );
        }
        ClientOp::Ping => tracing::trace!(cid, "<<- [PING]"),
        ClientOp::Pong => tracing::trace!(cid, "<<- [PONG]"),
        other => tracing::trace!(cid, "<<- {other:?}"),
    }
}

/// A message as nats-server traces it: Go-quoted, and past `max` bytes
/// (0: no limit) the quoted text cut to `max` characters and `...` added.
pub(crate) fn payload(message: &[u8], max: usize) -> String {
    if max == 0 || message.len() <= max {
        return go_quote(message);
    }
    let quoted = go_quote(&message[..max]);
    let inner = &quoted[1..];
    let mut end = max.min(inner.len());
    while !inner.is_char_boundary(end) {
        end -= 1;
    }
    format!("\"{}...\"", &inner[..end])
}

/// Go's `%q` of a byte string (invalid UTF-8 as the replacement character).
fn go_quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::payload;

    #[test]
    fn payloads_are_cut_as_nats_server_cuts_them() {
        assert_eq!(payload(b"hello", 0), "\"hello\"");
        assert_eq!(payload(b"hello", 5), "\"hello\"");
        assert_eq!(payload(b"hello world", 5), "\"hello...\"");
        assert_eq!(payload(b"a\r\nb", 0), "\"a\\r\\nb\"");
        // Cut in the quoted text, as nats-server does: "a\r" is 4 characters.
        assert_eq!(payload(b"a\r\nbcdef", 3), "\"a\\r...\"");
        assert_eq!(payload(b"\x01", 0), "\"\\x01\"");
    }
}
