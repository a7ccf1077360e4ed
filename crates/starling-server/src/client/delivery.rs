//! One message to one subscription: the limits checked at delivery (closed
//! receiver, permissions, auto-unsubscribe), then `MSG` or `HMSG` encoded
//! straight into the receiver's outbound buffer.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::BytesMut;
use starling_proto::{Publish, encode};

use super::state::ClientState;
use crate::account::latency::is_tracked_reply;
use crate::account::{OriginKind, Subscription};
use crate::link::Queued;

/// The subject and reply a delivery carries: the publisher's, or mapped by
/// an account import (which may also add a header).
#[derive(Debug, Clone, Copy)]
pub(super) struct Route<'a> {
    pub(super) subject: &'a [u8],
    pub(super) reply: Option<&'a [u8]>,
    /// Headers and payload that replace the publisher's.
    pub(super) message: Option<&'a HeadedMessage>,
}

/// A message rebuilt with a header block of its own (built once per
/// publish, its size tokens with it, whatever the number of subscribers).
#[derive(Debug)]
pub(super) struct HeadedMessage {
    bytes: Vec<u8>,
    header_len: usize,
    header_token: String,
    size_token: String,
}

/// The header a service import adds, as nats-server does.
const REQUEST_INFO_HEADER: &[u8] = b"Nats-Request-Info";

impl HeadedMessage {
    /// The request with nats-server's `Nats-Request-Info` header line
    /// (`info`, naming the requester's account) in place of one the client
    /// set, as a service in another account receives it.
    pub(super) fn with_request_info(publish: &Publish, info: &[u8]) -> Self {
        let mut bytes = Vec::with_capacity(publish.message().len() + info.len() + 12);
        let headers = publish.headers();
        if publish.has_headers() && headers.ends_with(b"\r\n\r\n") {
            let block = &headers[..headers.len() - 2];
            for line in block.split_inclusive(|&b| b == b'\n') {
                let name = line.split(|&b| b == b':').next().unwrap_or_default();
                if !name.eq_ignore_ascii_case(REQUEST_INFO_HEADER) {
                    bytes.extend_from_slice(line);
                }
            }
        } else {
            bytes.extend_from_slice(b"NATS/1.0\r\n");
        }
        bytes.extend_from_slice(info);
        bytes.extend_from_slice(b"\r\n");
        let header_len = bytes.len();
        bytes.extend_from_slice(publish.payload());
        Self {
            header_token: header_len.to_string(),
            size_token: bytes.len().to_string(),
            bytes,
            header_len,
        }
    }
}

impl ClientState {
    /// Queues one message for `sub`; false when it could not take it.
    pub(super) fn deliver(
        &mut self,
        sub: &Arc<Subscription>,
        publish: &Publish,
        route: Route<'_>,
    ) -> bool {
        let receiver = &sub.subscriber;
        if receiver.link.is_closed() || receiver.delivery_denied(sub, route.subject) {
            return false;
        }
        let count = sub.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        let max = sub.max.load(Ordering::Relaxed);
        if max > 0 && count > max {
            return false;
        }
        let with_headers = receiver.takes_headers();
        // What nats-server counts as delivered: headers and payload, the
        // payload alone for a client that takes no headers.
        let size = match route.message {
            Some(message) if with_headers => message.bytes.len(),
            Some(message) => message.bytes.len() - message.header_len,
            None if with_headers => publish.message().len(),
            None => publish.payload().len(),
        };
        let at = self.broker.stats.since_start(self.now.instant);
        let queued = receiver.link.queue_message(size, at, |out| {
            encode_delivery(out, sub, publish, route, with_headers);
        });
        match queued {
            Queued::WakeWriter => self.wake_later(&receiver.link),
            Queued::Ok => {}
            Queued::Refused => return false,
        }
        if receiver.link.is_backlogged() {
            self.note_backlog(&receiver.link);
        }
        if let Some(reply) = route.reply {
            receiver.note_reply(reply, self.now.instant);
            if self.me.kind() != OriginKind::Local && is_tracked_reply(reply) {
                self.track_remote_reply(sub, route.subject, reply);
            }
        }
        if max > 0 && count == max {
            sub.remove();
        }
        true
    }
}

impl ClientState {
    /// Sends the message gathered for leaf links and routes: one
    /// `LMSG`/`RMSG` (`HMSG`) each, naming the queue groups it must serve.
    /// True if any took it.
    pub(super) fn deliver_to_leafs(&mut self, publish: &Publish, route: Route<'_>) -> bool {
        let targets = self.leaf.take_targets();
        let mut delivered = false;
        let at = self.broker.stats.since_start(self.now.instant);
        for (receiver, queues) in &targets {
            let link = &receiver.link;
            if link.is_closed() {
                continue;
            }
            let (headers, payload) = match route.message {
                Some(message) => message.bytes.split_at(message.header_len),
                None => (publish.headers(), publish.payload()),
            };
            let headers = if receiver.takes_headers() {
                headers
            } else {
                &[][..]
            };
            let names: Vec<&[u8]> = queues.iter().map(|q| &q[..]).collect();
            let size = headers.len() + payload.len();
            // A leaf cluster's message names it to a route that reads it.
            let origin = self
                .leaf
                .origin()
                .filter(|_| self.me.kind() != OriginKind::Route && receiver.lnoc());
            let queued = link.queue_message(size, at, |out| match receiver.route_account() {
                Some(account) if let Some(origin) = origin => {
                    starling_proto::route::encode_origin_msg(
                        out,
                        (origin, account),
                        route.subject,
                        route.reply,
                        &names,
                        (headers, payload),
                    );
                }
                Some(account) => starling_proto::route::encode_rmsg(
                    out,
                    account,
                    route.subject,
                    route.reply,
                    &names,
                    headers,
                    payload,
                ),
                None => starling_proto::leaf::encode_lmsg(
                    out,
                    route.subject,
                    route.reply,
                    &names,
                    headers,
                    payload,
                ),
            });
            match queued {
                Queued::WakeWriter => self.wake_later(link),
                Queued::Ok => {}
                Queued::Refused => continue,
            }
            if link.is_backlogged() {
                self.note_backlog(link);
            }
            delivered = true;
        }
        self.leaf.restore_targets(targets);
        delivered
    }
}

/// `MSG` or `HMSG` for one subscriber. Headers go only to clients that
/// announced them; others get the payload alone, as nats-server does.
fn encode_delivery(
    out: &mut BytesMut,
    sub: &Subscription,
    publish: &Publish,
    route: Route<'_>,
    with_headers: bool,
) {
    let (subject, sid, reply) = (route.subject, &sub.sid[..], route.reply);
    if let Some(message) = route.message {
        if with_headers {
            encode::hmsg(
                out,
                subject,
                sid,
                reply,
                message.header_token.as_bytes(),
                message.size_token.as_bytes(),
                &message.bytes,
            );
        } else {
            encode::msg(
                out,
                subject,
                sid,
                reply,
                &message.bytes[message.header_len..],
            );
        }
        return;
    }
    match publish.header_token() {
        Some(header_token) if publish.has_headers() && with_headers => {
            encode::hmsg(
                out,
                subject,
                sid,
                reply,
                header_token,
                publish.size_token(),
                publish.message(),
            );
        }
        _ if publish.has_headers() => encode::msg(out, subject, sid, reply, publish.payload()),
        _ => encode::msg_with_size_token(
            out,
            subject,
            sid,
            reply,
            publish.size_token(),
            publish.payload(),
        ),
    }
}
