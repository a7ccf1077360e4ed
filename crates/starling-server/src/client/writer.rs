//! The writer task of a connection: sleeps until woken, swaps the whole
//! outbound buffer out and writes it with one (vectored) call, bounded by
//! `write_deadline`; for websocket clients it frames each flush as one
//! message and ends with a close frame.

use std::sync::Arc;

use bytes::BytesMut;
use starling_ws::ServerEncoder;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

use super::driver::Framing;
use crate::broker::Broker;
use crate::link::{CloseReason, Link};

/// A write buffer grown past this by a burst is released afterwards.
const KEEP_WRITE_CAPACITY: usize = 1024 * 1024;

pub(crate) async fn write_loop<W: AsyncWrite>(
    shared: Arc<Broker>,
    link: Arc<Link>,
    writer: W,
    framing: Framing,
) {
    tokio::pin!(writer);
    let mut encoder = match framing {
        Framing::Raw => None,
        Framing::Websocket {
            compress, browser, ..
        } => Some(ServerEncoder::new(compress, browser)),
        Framing::WebsocketClient { compress, mask } if mask => Some(ServerEncoder::masking(
            compress,
            crate::identity::random_u64(),
        )),
        Framing::WebsocketClient { compress, .. } => Some(ServerEncoder::new(compress, false)),
    };
    let mut spare = BytesMut::new();
    let mut framed = BytesMut::new();
    loop {
        link.writer_wake.notified().await;
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
                written = write_all_parts(&mut writer, parts, &link, shared.live.write_deadline()) => written,
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
                        shared.live.write_deadline(),
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
    let _ = timeout(shared.live.write_deadline(), writer.shutdown()).await;
    // Make sure the reader stops too when the writer ended first.
    link.close(CloseReason::WriteError);
}

/// Writes `parts` in order with as few (vectored) writes as the socket
/// allows, copying nothing. Each write may take `deadline` (a peer that
/// keeps reading is never cut off for being slow, one that stops is), and
/// each one counts as progress on `link` (what flow control watches).
async fn write_all_parts<W: AsyncWrite>(
    writer: &mut std::pin::Pin<&mut W>,
    parts: [&[u8]; 3],
    link: &Link,
    deadline: std::time::Duration,
) -> Result<std::io::Result<()>, tokio::time::error::Elapsed> {
    let mut parts: Vec<&[u8]> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    while !parts.is_empty() {
        let slices: Vec<std::io::IoSlice<'_>> =
            parts.iter().map(|p| std::io::IoSlice::new(p)).collect();
        let mut written = match timeout(deadline, writer.write_vectored(&slices)).await? {
            Ok(0) => return Ok(Err(std::io::ErrorKind::WriteZero.into())),
            Ok(n) => n,
            Err(error) => return Ok(Err(error)),
        };
        link.progress(written);
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
    Ok(Ok(()))
}
