//! The only code that touches a client's socket: one reader task and one
//! writer task per connection.
//!
//! The reader parses what arrives and hands each operation to the
//! [`Session`]; after each read batch it wakes the writers that got bytes.
//! The writer sleeps until woken, swaps the whole outbound buffer out and
//! writes it with one call (many messages per syscall), bounded by
//! `write_deadline`; it also runs the ping timer. Close is a flag plus two
//! wake-ups, so either side, or any publisher, can end a connection.
//!
//! A websocket client differs only here: the reader unframes what arrives
//! before parsing it ([`ServerDecoder`]), and the writer frames each flush
//! as one message ([`ServerEncoder`]) and ends with a close frame.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use starling_auth::ConnectionKind;
use starling_proto::{ClientOp, ClientParser, ErrReply, encode, redact_connect};
use starling_ws::{Control, ServerDecoder, ServerEncoder, encode_pong};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep_until, timeout};

use super::link::{ClientLink, CloseReason};
use super::session::Session;
use crate::identity::FastRng;
use crate::server::Shared;

/// Reads start this size and grow (doubling) while reads fill the buffer.
const MIN_READ: usize = 512;
const MAX_READ: usize = 64 * 1024;
/// A write buffer grown past this by a burst is released afterwards.
const KEEP_WRITE_CAPACITY: usize = 1024 * 1024;
/// The first ping after CONNECT comes after at most this (nats-server's).
const FIRST_PING_MAX: Duration = Duration::from_secs(2);

/// Where a client connects from: its socket address, and the address it is
/// known by (the socket's, or a trusted proxy's `X-Forwarded-For`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr {
    pub(crate) peer: SocketAddr,
    pub(crate) ip: IpAddr,
}

/// How the NATS byte stream travels on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Plain bytes (TCP).
    Raw,
    /// Websocket frames, with the negotiated compression; `browser` keeps
    /// frames to 4096 bytes.
    Websocket { compress: bool, browser: bool },
}

impl Framing {
    /// The connection kind authentication sees.
    pub(crate) fn connection_kind(self) -> ConnectionKind {
        match self {
            Self::Raw => ConnectionKind::Standard,
            Self::Websocket { .. } => ConnectionKind::Websocket,
        }
    }
}

/// Serves one accepted connection until it closes.
///
/// The stream comes as its two halves, so each transport splits itself in
/// the cheapest way (a TCP stream without a lock between the halves).
pub(crate) async fn run_connection<R, W>(
    shared: Arc<Shared>,
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
    let link = Arc::new(ClientLink::new(cid, shared.options.max_pending));
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
    if !shared.register(&link) {
        link.queue(|out| ErrReply::MaxConnectionsExceeded.encode(out));
        tracing::info!(cid, "{peer} - cid:{cid} - Maximum connections exceeded");
        link.close(CloseReason::MaxConnectionsExceeded);
    }
    let writer = tokio::spawn(write_loop(
        Arc::clone(&shared),
        Arc::clone(&link),
        writer,
        framing,
    ));
    link.writer_wake.notify_one();
    if !link.is_closed() {
        let session = Session::new(Arc::clone(&shared), Arc::clone(&link), kind, cookies, nonce);
        read_loop(
            Arc::clone(&shared),
            Arc::clone(&link),
            reader,
            framing,
            session,
        )
        .await;
    }
    // The writer ends by itself once closing: after flushing within
    // write_deadline, or at once for reasons that discard the backlog.
    let _ = writer.await;
    shared.deregister(&link);
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
    shared: Arc<Shared>,
    link: Arc<ClientLink>,
    reader: R,
    framing: Framing,
    mut session: Session,
) {
    tokio::pin!(reader);
    let options = &shared.options;
    let mut unframing = match framing {
        Framing::Raw => None,
        Framing::Websocket { compress, .. } => {
            // A compressed message may carry several operations; bound it
            // well above one maximal PUB, far below max_pending.
            let max_message = options.max_payload + options.max_control_line + 64 * 1024;
            Some(Unframing {
                decoder: ServerDecoder::new(compress, max_message),
                raw: BytesMut::new(),
                controls: Vec::new(),
            })
        }
    };
    let auth_deadline = Instant::now() + session.auth_timeout();
    let mut parser = ClientParser::new(session.parser_limits());
    let mut buf = BytesMut::with_capacity(MIN_READ);
    let mut read_size = MIN_READ;
    let trace = tracing::enabled!(tracing::Level::TRACE);
    // Registered once: polled only when a read would block, so a busy
    // connection does not touch the notification's lock on every read.
    let stop = link.reader_stop.notified();
    tokio::pin!(stop);
    'reading: loop {
        if link.is_closed() {
            break;
        }
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
        let expiry = session.expires_at();
        let read = tokio::select! {
            biased;
            read = reader.read_buf(target) => read,
            () = &mut stop => break 'reading,
            () = sleep_until(expiry.map_or(auth_deadline, Instant::from_std)), if expiry.is_some() => {
                session.credentials_expired();
                link.close(CloseReason::AuthenticationExpired);
                break 'reading;
            }
            () = sleep_until(auth_deadline), if session.awaiting_auth() => {
                session.auth_timed_out();
                link.close(CloseReason::AuthenticationTimeout);
                break 'reading;
            }
            () = tokio::time::sleep(options.write_deadline), if stalled => {
                tracing::debug!(cid = link.cid, "Websocket frame stalled for {:?}", options.write_deadline);
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
        loop {
            match parser.decode(&mut buf) {
                Ok(Some(op)) => {
                    if trace {
                        trace_op(link.cid, &op);
                    }
                    let connect = matches!(op, ClientOp::Connect(_));
                    if let Err(reason) = session.handle(op) {
                        link.close(reason);
                        break 'reading;
                    }
                    if connect {
                        // A user's own limits (JWT claims) apply from CONNECT on.
                        parser.set_limits(session.parser_limits());
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    let reason = session.handle_parse_error(error);
                    link.close(reason);
                    break 'reading;
                }
            }
            if link.is_closed() {
                break 'reading;
            }
        }
        session.flush_wakes();
    }
    session.flush_wakes();
}

async fn write_loop<W: AsyncWrite>(
    shared: Arc<Shared>,
    link: Arc<ClientLink>,
    writer: W,
    framing: Framing,
) {
    tokio::pin!(writer);
    let options = &shared.options;
    let mut encoder = match framing {
        Framing::Raw => None,
        Framing::Websocket { compress, browser } => Some(ServerEncoder::new(compress, browser)),
    };
    let mut spare = BytesMut::new();
    let mut framed = BytesMut::new();
    let mut rng = FastRng::new();
    // One timer, reset when it fires or CONNECT restarts it, rather than a
    // new one on every wake-up.
    let ping_timer = sleep_until(Instant::now() + options.ping_interval);
    tokio::pin!(ping_timer);
    loop {
        tokio::select! {
            () = link.writer_wake.notified() => {}
            () = &mut ping_timer => {
                ping_timer.as_mut().reset(Instant::now() + options.ping_interval);
                ping_tick(&shared, &link);
            }
        }
        if link.ping_timer_reset.swap(false, Ordering::Relaxed) {
            let first = options.ping_interval.min(FIRST_PING_MAX);
            let jitter = first.mul_f64((rng.below(201) as f64) / 1000.0);
            ping_timer.as_mut().reset(Instant::now() + first + jitter);
        }
        let closing = link.take_outbound(&mut spare);
        // What goes out: `framed` (control frames, frame headers, or whole
        // frames), then `spare` itself when it travels unframed or as the
        // payload of one uncompressed frame.
        framed.clear();
        let mut payload_too = true;
        if let Some(encoder) = &mut encoder {
            link.take_control(&mut framed);
            if !spare.is_empty() && !encoder.encode_header_only(&spare, &mut framed) {
                encoder.encode(&spare, &mut framed);
                payload_too = false;
            }
        }
        let close_frame = closing
            .and_then(CloseReason::websocket_close)
            .filter(|_| encoder.is_some());
        if !framed.is_empty() || !spare.is_empty() || close_frame.is_some() {
            let mut tail = BytesMut::new();
            if let Some((code, reason)) = close_frame {
                starling_ws::frame::encode_close(&mut tail, code, reason);
            }
            let parts: [&[u8]; 3] = [&framed, if payload_too { &spare } else { &[] }, &tail];
            let total: usize = parts.iter().map(|p| p.len()).sum();
            let written = tokio::select! {
                written = timeout(options.write_deadline, write_all_parts(&mut writer, parts)) => written,
                // Cut off (slow consumer, read error): drop the socket now
                // rather than wait out write_deadline on a peer that stopped reading.
                () = link.writer_abort.notified() => break,
            };
            match written {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    link.close(CloseReason::WriteError);
                    break;
                }
                Err(_) => {
                    tracing::info!(
                        cid = link.cid,
                        "Slow Consumer Detected: WriteDeadline of {:?} exceeded with {total} total bytes.",
                        options.write_deadline,
                    );
                    link.close(CloseReason::SlowConsumerWriteDeadline);
                    break;
                }
            }
            spare.clear();
            if spare.capacity() > KEEP_WRITE_CAPACITY {
                spare = BytesMut::new();
            }
            if framed.capacity() > KEEP_WRITE_CAPACITY {
                framed = BytesMut::new();
            }
            link.written();
        }
        if closing.is_some() {
            break;
        }
    }
    let _ = timeout(options.write_deadline, writer.shutdown()).await;
    // Make sure the reader stops too when the writer ended first.
    link.close(CloseReason::WriteError);
}

/// Writes `parts` in order with as few (vectored) writes as the socket
/// allows, copying nothing.
async fn write_all_parts<W: AsyncWrite>(
    writer: &mut std::pin::Pin<&mut W>,
    parts: [&[u8]; 3],
) -> std::io::Result<()> {
    let mut parts: Vec<&[u8]> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    while !parts.is_empty() {
        let slices: Vec<std::io::IoSlice<'_>> =
            parts.iter().map(|p| std::io::IoSlice::new(p)).collect();
        let mut written = writer.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while let Some(first) = parts.first_mut() {
            if written >= first.len() {
                written -= first.len();
                parts.remove(0);
            } else {
                *first = &first[written..];
                break;
            }
        }
    }
    Ok(())
}

/// `-V` protocol tracing; secrets in CONNECT never reach the log.
fn trace_op(cid: u64, op: &ClientOp) {
    match op {
        ClientOp::Connect(json) => tracing::trace!(cid, "<<- [CONNECT {}]", redact_connect(json)),
        other => tracing::trace!(cid, "<<- {other:?}"),
    }
}

/// One tick of the ping timer: PING an idle client, or close it as stale
/// when too many PINGs went unanswered (nats-server's `processPingTimer`).
fn ping_tick(shared: &Shared, link: &ClientLink) {
    let interval = shared.options.ping_interval.as_millis() as u64;
    let idle = shared
        .now_millis()
        .saturating_sub(link.last_activity.load(Ordering::Relaxed))
        >= interval;
    if !idle && link.rtt_measured.load(Ordering::Relaxed) {
        return;
    }
    if link.pings_out.load(Ordering::Relaxed) + 1 > shared.options.ping_max {
        tracing::debug!(cid = link.cid, "Stale Client Connection - Closing");
        link.queue(|out| ErrReply::StaleConnection.encode(out));
        link.close(CloseReason::StaleConnection);
        return;
    }
    link.pings_out.fetch_add(1, Ordering::Relaxed);
    link.queue(|out| out.extend_from_slice(encode::PING));
}
