//! Encoders for what the server sends: `MSG`, `HMSG`, `INFO`, `PING`, `PONG`,
//! `+OK`. (`-ERR` lines are written by [`crate::ErrReply::encode`].)
//!
//! Each writes into any [`BufMut`] and allocates nothing, so the publish path
//! can encode straight into a subscriber's outbound buffer.

use bytes::BufMut;

use crate::ServerInfo;

/// `PING\r\n`.
pub const PING: &[u8] = b"PING\r\n";
/// `PONG\r\n`.
pub const PONG: &[u8] = b"PONG\r\n";
/// `+OK\r\n`.
pub const OK: &[u8] = b"+OK\r\n";

/// The header block of a "no responders" status message.
pub const NO_RESPONDERS_HEADER: &[u8] = b"NATS/1.0 503\r\n\r\n";

/// Writes `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n`.
pub fn msg<B: BufMut>(
    out: &mut B,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    payload: &[u8],
) {
    msg_line_start(out, b"MSG ", subject, sid, reply);
    put_decimal(out, payload.len());
    finish(out, payload);
}

/// Like [`msg`], but writes `size_token` verbatim as the size (nats-server
/// echoes the publisher's token, leading zeros included).
pub fn msg_with_size_token<B: BufMut>(
    out: &mut B,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    size_token: &[u8],
    payload: &[u8],
) {
    msg_line_start(out, b"MSG ", subject, sid, reply);
    out.put_slice(size_token);
    finish(out, payload);
}

/// Writes `HMSG <subject> <sid> [reply] <hdr> <total>\r\n<headers+payload>\r\n`.
///
/// `header_token` and `size_token` are written verbatim; `message` is the
/// header block followed by the payload.
pub fn hmsg<B: BufMut>(
    out: &mut B,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_token: &[u8],
    size_token: &[u8],
    message: &[u8],
) {
    msg_line_start(out, b"HMSG ", subject, sid, reply);
    out.put_slice(header_token);
    out.put_u8(b' ');
    out.put_slice(size_token);
    finish(out, message);
}

/// Writes the "no responders" status: `HMSG <reply> <sid> 16 16\r\nNATS/1.0 503\r\n\r\n\r\n`.
pub fn no_responders<B: BufMut>(out: &mut B, reply_subject: &[u8], sid: &[u8]) {
    msg_line_start(out, b"HMSG ", reply_subject, sid, None);
    out.put_slice(b"16 16");
    finish(out, NO_RESPONDERS_HEADER);
}

/// Writes `INFO <json> \r\n` (the space before CRLF is nats-server's).
pub fn info<B: BufMut>(out: &mut B, info: &ServerInfo) -> Result<(), serde_json::Error> {
    let json = serde_json::to_vec(info)?;
    out.put_slice(b"INFO ");
    out.put_slice(&json);
    out.put_slice(b" \r\n");
    Ok(())
}

/// Writes `n` in decimal without allocating.
pub fn put_decimal<B: BufMut>(out: &mut B, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[at..]);
}

fn msg_line_start<B: BufMut>(
    out: &mut B,
    op: &[u8],
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
) {
    out.put_slice(op);
    out.put_slice(subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if let Some(reply) = reply {
        out.put_slice(reply);
        out.put_u8(b' ');
    }
}

fn finish<B: BufMut>(out: &mut B, body: &[u8]) {
    out.put_slice(b"\r\n");
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let mut out = Vec::new();
        msg(&mut out, b"foo", b"1", Some(b"bar"), b"hi");
        assert_eq!(out, b"MSG foo 1 bar 2\r\nhi\r\n");
        out.clear();
        msg_with_size_token(&mut out, b"foo", b"1", None, b"05", b"hello");
        assert_eq!(out, b"MSG foo 1 05\r\nhello\r\n");
        out.clear();
        hmsg(
            &mut out,
            b"foo",
            b"1",
            Some(b"r"),
            b"12",
            b"14",
            b"NATS/1.0\r\n\r\nhi",
        );
        assert_eq!(out, b"HMSG foo 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        out.clear();
        no_responders(&mut out, b"_INBOX.abc", b"9");
        assert_eq!(out, b"HMSG _INBOX.abc 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
    }

    #[test]
    fn decimals() {
        for n in [0usize, 7, 10, 1048576, usize::MAX] {
            let mut out = Vec::new();
            put_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
