//! The lines a leaf link writes, as nats-server writes them.

use bytes::BufMut;

/// `LS+ <subject>\r\n`, or with a queue group `LS+ <subject> <queue> <weight>\r\n`.
pub fn encode_sub<B: BufMut>(out: &mut B, subject: &[u8], queue: Option<(&[u8], u32)>) {
    out.put_slice(b"LS+ ");
    out.put_slice(subject);
    if let Some((queue, weight)) = queue {
        out.put_u8(b' ');
        out.put_slice(queue);
        out.put_u8(b' ');
        out.put_slice(weight.to_string().as_bytes());
    }
    out.put_slice(b"\r\n");
}

/// `LS- <subject> [<queue>]\r\n`.
pub fn encode_unsub<B: BufMut>(out: &mut B, subject: &[u8], queue: Option<&[u8]>) {
    out.put_slice(b"LS- ");
    out.put_slice(subject);
    if let Some(queue) = queue {
        out.put_u8(b' ');
        out.put_slice(queue);
    }
    out.put_slice(b"\r\n");
}

/// `LMSG`, or `HMSG` when `headers` is not empty, with the queue groups
/// the receiver must serve (`+ <reply> <queues>` or `| <queues>`).
pub fn encode_lmsg<B: BufMut>(
    out: &mut B,
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: &[&[u8]],
    headers: &[u8],
    payload: &[u8],
) {
    let verb: &[u8] = if headers.is_empty() {
        b"LMSG "
    } else {
        b"HMSG "
    };
    encode_message(
        out,
        (verb, None),
        subject,
        reply,
        queues,
        (headers, payload),
        false,
    );
}

/// A message line and its payload: `verb`, the account when on a route,
/// then as [`encode_lmsg`]; the header size is written when there are
/// headers, or always with `header_size`.
pub(crate) fn encode_message<B: BufMut>(
    out: &mut B,
    (verb, account): (&[u8], Option<&[u8]>),
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: &[&[u8]],
    (headers, payload): (&[u8], &[u8]),
    header_size: bool,
) {
    out.put_slice(verb);
    if let Some(account) = account {
        out.put_slice(account);
        out.put_u8(b' ');
    }
    out.put_slice(subject);
    match (reply, queues.is_empty()) {
        (Some(reply), true) => {
            out.put_u8(b' ');
            out.put_slice(reply);
        }
        (Some(reply), false) => {
            out.put_slice(b" + ");
            out.put_slice(reply);
        }
        (None, false) => out.put_slice(b" |"),
        (None, true) => {}
    }
    for queue in queues {
        out.put_u8(b' ');
        out.put_slice(queue);
    }
    out.put_u8(b' ');
    if header_size || !headers.is_empty() {
        out.put_slice(headers.len().to_string().as_bytes());
        out.put_u8(b' ');
    }
    out.put_slice((headers.len() + payload.len()).to_string().as_bytes());
    out.put_slice(b"\r\n");
    out.put_slice(headers);
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}
