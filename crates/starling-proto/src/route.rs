//! The route protocol between members of a cluster, as nats-server 2.9.10
//! speaks it (`cluster.md` §4–5): the lines a route writes. One route
//! carries every account, so each line names its account; a route is
//! read with [`LeafParser::for_route`](crate::leaf::LeafParser::for_route).
//!
//! ```
//! use starling_proto::route::{encode_rmsg, encode_sub, encode_unsub};
//!
//! let mut out = Vec::new();
//! encode_sub(&mut out, b"$G", b"orders.*", Some((&b"q1"[..], 2)));
//! encode_unsub(&mut out, b"$G", b"orders.*", Some(&b"q1"[..]));
//! encode_rmsg(&mut out, b"$G", b"orders.new", None, &[&b"q1"[..]], b"", b"hi");
//! assert_eq!(
//!     out,
//!     b"RS+ $G orders.* q1 2\r\nRS- $G orders.* q1\r\nRMSG $G orders.new | q1 2\r\nhi\r\n"
//! );
//! ```

use bytes::BufMut;

use crate::leaf::encode_message;

/// `RS+ <account> <subject>\r\n`, or with a queue group
/// `RS+ <account> <subject> <queue> <weight>\r\n`.
pub fn encode_sub<B: BufMut>(
    out: &mut B,
    account: &[u8],
    subject: &[u8],
    queue: Option<(&[u8], u32)>,
) {
    out.put_slice(b"RS+ ");
    out.put_slice(account);
    out.put_u8(b' ');
    out.put_slice(subject);
    if let Some((queue, weight)) = queue {
        out.put_u8(b' ');
        out.put_slice(queue);
        out.put_u8(b' ');
        out.put_slice(weight.to_string().as_bytes());
    }
    out.put_slice(b"\r\n");
}

/// `RS- <account> <subject> [<queue>]\r\n`.
pub fn encode_unsub<B: BufMut>(out: &mut B, account: &[u8], subject: &[u8], queue: Option<&[u8]>) {
    out.put_slice(b"RS- ");
    out.put_slice(account);
    out.put_u8(b' ');
    out.put_slice(subject);
    if let Some(queue) = queue {
        out.put_u8(b' ');
        out.put_slice(queue);
    }
    out.put_slice(b"\r\n");
}

/// `RMSG <account> ...`, or `HMSG <account> ...` when `headers` is not
/// empty, with the queue groups the receiver must serve.
pub fn encode_rmsg<B: BufMut>(
    out: &mut B,
    account: &[u8],
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: &[&[u8]],
    headers: &[u8],
    payload: &[u8],
) {
    let verb: &[u8] = if headers.is_empty() {
        b"RMSG "
    } else {
        b"HMSG "
    };
    encode_message(
        out,
        (verb, Some(account)),
        subject,
        reply,
        queues,
        (headers, payload),
    );
}
