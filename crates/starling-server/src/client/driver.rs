//! The only code that touches a client's socket: one reader task (here)
//! and one writer task ([`writer`](super::writer)) per connection.
//!
//! The reader parses what arrives and hands each operation, with the time,
//! to the [`ClientState`]; it sleeps until the state's next timeout as well
//! as until bytes arrive, and after each batch it lets the state wake the
//! writers that got bytes. The writer sleeps until woken, swaps the whole
//! outbound buffer out and writes it with one call (many messages per
//! syscall), bounded by `write_deadline`. Close is a flag plus two
//! wake-ups, so either side, or any publisher, can end a connection.
//!
//! A websocket client differs only here: the reader unframes what arrives
//! before parsing it ([`ServerDecoder`]), and the writer frames each flush
//! as one message ([`ServerEncoder`](starling_ws::ServerEncoder)) and ends
//! with a close frame.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::BytesMut;
use starling_auth::ConnectionKind;
use starling_proto::{ClientOp, ClientParser, ErrReply, encode};
use starling_ws::{Control, ServerDecoder, encode_pong};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::{Instant, sleep_until};

use super::reload::take_reload;
use super::state::{ClientState, Time};
use crate::account::Subscriber;
use crate::broker::Broker;
use crate::link::{CloseReason, Link};

/// Reads start this size and grow (doubling) while reads fill the buffer.
const MIN_READ: usize = 512;
const MAX_READ: usize = 64 * 1024;

/// Where a client connects from: its socket address, and the address it is
/// known by (the socket's, or a trusted proxy's `X-Forwarded-For`).
#[derive(Debug, Clone)]
pub(crate) struct ClientAddr {
    pub(crate) peer: SocketAddr,
    pub(crate) ip: IpAddr,
    /// The TLS session, when TLS was negotiated here.
    pub(crate) tls: Option<crate::tls::Negotiated>,
}

impl ClientAddr {
    /// A client known by its socket's address, without TLS (yet).
    pub(crate) fn plain(peer: SocketAddr) -> Self {
        Self {
            peer,
            ip: peer.ip(),
            tls: None,
        }
    }
}

/// How the NATS byte stream travels on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Plain bytes (TCP).
    Raw,
    /// Websocket frames, with the negotiated compression; `browser` keeps
    /// frames to 4096 bytes; `unmasked`: the peer asked `Nats-No-Masking`.
    Websocket {
        compress: bool,
        browser: bool,
        unmasked: bool,
    },
    /// Websocket frames this side sends as the client (a leaf link that
    /// dialled a websocket port): masked unless the peer agreed not to.
    WebsocketClient { compress: bool, mask: bool },
}

impl Framing {
    /// The connection kind authentication sees.
    pub(crate) fn connection_kind(self) -> ConnectionKind {
        match self {
            Self::Raw => ConnectionKind::Standard,
            Self::Websocket { .. } | Self::WebsocketClient { .. } => ConnectionKind::Websocket,
        }
    }
}

/// Serves one accepted connection until it closes.
///
/// The stream comes as its two halves, so each transport splits itself in
/// the cheapest way (a TCP stream without a lock between the halves).
pub(crate) async fn run_connection<R, W>(
    shared: Arc<Broker>,
    (reader, writer): (R, W),
    client: ClientAddr,
    cid: u64,
    framing: Framing,
    cookies: Vec<(String, String)>,
    info_sent: Option<String>,
) where
    R: AsyncRead + Send + 'static,
    W: AsyncWrite + Send + 'static,
{
    let peer = client.peer;
    let link = Arc::new(Link::new(cid, shared.options.max_pending));
    let me = Arc::new(Subscriber::new(Arc::clone(&link)));
    let what = if framing == Framing::Raw {
        "Client"
    } else {
        "Websocket client"
    };
    tracing::debug!(cid, "{peer} - cid:{cid} - {what} connection created");
    let kind = framing.connection_kind();
    // With TLS on the client port, INFO went out before the handshake
    // (with its nonce); otherwise it is the first thing queued.
    let nonce = match info_sent {
        Some(nonce) => nonce,
        None => {
            let nonce = shared.new_nonce();
            let info = shared.client_info(cid, client.ip, kind, &nonce);
            link.queue(|out| {
                // Serialising a struct of strings and numbers cannot fail.
                let _ = encode::info(out, &info);
            });
            nonce
        }
    };
    {
        let mut meta = link.meta();
        meta.transport = if framing == Framing::Raw {
            "nats"
        } else {
            "websocket"
        };
        meta.ip = peer.ip().to_string();
        meta.port = peer.port();
        meta.start_unix_nanos = crate::broker::stats::unix_nanos_now();
        if let Some(tls) = &client.tls {
            meta.tls_version = Some(tls.version.clone());
            meta.tls_cipher = Some(tls.cipher.clone());
        }
        // Until authentication says otherwise, as nats-server places them.
        meta.account = Some(crate::account::GLOBAL_ACCOUNT.to_owned());
    }
    if !shared.register(&me) {
        link.queue(|out| ErrReply::MaxConnectionsExceeded.encode(out));
        tracing::info!(cid, "{peer} - cid:{cid} - Maximum connections exceeded");
        link.close(CloseReason::MaxConnectionsExceeded);
    }
    let writer = tokio::spawn(super::writer::write_loop(
        Arc::clone(&shared),
        Arc::clone(&link),
        writer,
        framing,
    ));
    link.writer_wake.notify_one();
    if !link.is_closed() {
        // Boxed: an async function keeps its argument twice (as argument
        // and as local), and the state is most of an idle connection.
        let mut state = Box::new(ClientState::new(
            Arc::clone(&shared),
            Arc::clone(&me),
            kind,
            cookies,
            nonce,
            Time::now(),
        ));
        state.certificate = client.tls.and_then(|tls| tls.names);
        read_loop(&shared, &link, reader, framing, state).await;
    }
    // The writer ends by itself once closing: after flushing within
    // write_deadline, or at once for reasons that discard the backlog.
    let _ = writer.await;
    shared.deregister(&me);
    shared.announce_close(&me);
    me.remove_all();
    let reason = link.close_reason().map_or("Unknown", CloseReason::as_str);
    tracing::debug!(
        cid,
        "{peer} - cid:{cid} - {what} connection closed: {reason}"
    );
}

/// The websocket half of the reader: raw socket bytes and the decoder.
struct Unframing {
    decoder: ServerDecoder,
    raw: BytesMut,
    controls: Vec<Control>,
}

async fn read_loop<R: AsyncRead>(
    shared: &Broker,
    link: &Link,
    reader: R,
    framing: Framing,
    mut state: Box<ClientState>,
) {
    tokio::pin!(reader);
    let options = &shared.options;
    let mut unframing = match framing {
        Framing::Raw | Framing::WebsocketClient { .. } => None,
        Framing::Websocket {
            compress, unmasked, ..
        } => {
            // Inflated bytes waiting for the parser: room for one maximal
            // PUB; a compressed message may carry any number of them.
            let max_message =
                shared.live.max_payload() + shared.live.max_control_line() + 64 * 1024;
            // Boxed: a TCP connection's reader does not carry its size.
            let mut decoder = ServerDecoder::new(compress, max_message);
            if unmasked {
                decoder.accept_unmasked();
            }
            Some(Box::new(Unframing {
                decoder,
                raw: BytesMut::new(),
                controls: Vec::new(),
            }))
        }
    };
    let mut parser = ClientParser::new(state.parser_limits());
    let mut buf = BytesMut::with_capacity(MIN_READ);
    let mut read_size = MIN_READ;
    let trace = tracing::enabled!(tracing::Level::TRACE);
    // Registered once: polled only when a read would block, so a busy
    // connection does not touch the notification's lock on every read.
    let stop = link.reader_stop.notified();
    tokio::pin!(stop);
    // One timer for the state's next timeout, moved only when that changes
    // (rarely: a ping, CONNECT), not armed anew for every read.
    let mut armed = state.poll_timeout();
    let timer = sleep_until(Instant::from_std(armed));
    tokio::pin!(timer);
    'reading: loop {
        if link.is_closed() {
            break;
        }
        // A compressed message whose inflation waited for the parser goes
        // on before anything more is read.
        let inflating = unframing.as_ref().is_some_and(|u| u.decoder.has_pending());
        if !inflating {
            let missing = parser
                .bytes_needed()
                .map_or(0, |n| n.saturating_sub(buf.len()));
            // A websocket peer may not leave a frame half-sent forever.
            let stalled = unframing
                .as_ref()
                .is_some_and(|u| !u.raw.is_empty() || u.decoder.is_mid_frame());
            let target = match &mut unframing {
                Some(unframing) => &mut unframing.raw,
                None => &mut buf,
            };
            target.reserve(missing.max(read_size));
            let due = state.poll_timeout();
            if due != armed {
                armed = due;
                timer.as_mut().reset(Instant::from_std(due));
            }
            let read = tokio::select! {
                biased;
                read = reader.read_buf(target) => read,
                () = &mut stop => {
                    if link.is_closed() {
                        break 'reading;
                    }
                    // A reload's wake-up (or one left from a reload taken
                    // up already), not a stop.
                    stop.set(link.reader_stop.notified());
                    if let Err(reason) = take_reload(shared, link, &mut state, &mut parser).await {
                        link.close(reason);
                        break 'reading;
                    }
                    continue;
                }
                () = &mut timer => {
                    let timed_out = state.handle_timeout(Time::now());
                    armed = state.poll_timeout();
                    timer.as_mut().reset(Instant::from_std(armed));
                    state.end_batch();
                    if let Err(reason) = timed_out {
                        link.close(reason);
                        break 'reading;
                    }
                    continue;
                }
                () = tokio::time::sleep(shared.live.write_deadline()), if stalled => {
                    tracing::debug!(cid = link.cid, "Websocket frame stalled for {:?}", shared.live.write_deadline());
                    link.close(CloseReason::WebsocketStalled);
                    break 'reading;
                }
            };
            match read {
                Ok(0) => {
                    link.close(CloseReason::ClientClosed);
                    break;
                }
                Ok(n) if n >= read_size && read_size < MAX_READ => read_size *= 2,
                Ok(n) if n < read_size / 4 && read_size > MIN_READ => read_size /= 2,
                Ok(_) => {}
                Err(_) => {
                    link.close(CloseReason::ReadError);
                    break;
                }
            }
        }
        if let Some(unframing) = &mut unframing {
            let decoded =
                unframing
                    .decoder
                    .decode(&mut unframing.raw, &mut buf, &mut unframing.controls);
            for control in unframing.controls.drain(..) {
                match control {
                    Control::Ping(payload) => link.queue_control(|out| encode_pong(out, &payload)),
                    Control::Pong => {}
                    Control::Close(code) => link.close(CloseReason::WebsocketClose(code)),
                }
            }
            if let Err(error) = decoded {
                tracing::debug!(cid = link.cid, "Websocket frame error: {error}");
                link.close(CloseReason::WebsocketFrame(error));
            }
        }
        // Bytes read after a reload returned are parsed under it.
        if link.reload.load(Ordering::Acquire) != 0
            && let Err(reason) = take_reload(shared, link, &mut state, &mut parser).await
        {
            link.close(reason);
            break;
        }
        // The clock is read once per batch, not per operation.
        let now = Time::now();
        loop {
            match parser.decode(&mut buf) {
                Ok(Some(op)) => {
                    if trace {
                        super::trace::trace_op(link.cid, &op, shared.live.max_traced_msg_len());
                    }
                    let connect = matches!(op, ClientOp::Connect(_));
                    let mut handled = state.handle(op, now);
                    if let Some(job) = state.take_auth_job() {
                        // Nothing else is parsed until the check is done.
                        // Boxed: the wait stays out of every idle reader.
                        let checked =
                            Box::pin(super::connect::run_auth(shared, job, state.auth_deadline()));
                        handled = match checked.await {
                            Some(result) => state.finish_connect(result, Time::now()),
                            // Still waiting for a slot at the authorization
                            // timeout: refused as any slow login is.
                            None => state.handle_timeout(Time::now()),
                        };
                    }
                    if let Err(reason) = handled {
                        link.close(reason);
                        break 'reading;
                    }
                    if connect {
                        // A user's own limits (JWT claims) apply from CONNECT on.
                        parser.set_limits(state.parser_limits());
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    let reason = state.handle_parse_error(error);
                    link.close(reason);
                    break 'reading;
                }
            }
            if link.is_closed() {
                break 'reading;
            }
        }
        // A peer that never stops sending still meets its deadlines.
        if now.instant >= state.poll_timeout()
            && let Err(reason) = state.handle_timeout(now)
        {
            link.close(reason);
            break;
        }
        state.end_batch();
        let backlog = state.take_backlog();
        if !backlog.is_empty() {
            // Read nothing more from this publisher until its receivers
            // have room (or are cut off for not making any).
            super::flow::wait_for_room(&backlog, options.stall_timeout).await;
        }
    }
    state.end_batch();
}
