//! Where a leaf link's bytes come from: the socket as it is (the leafnode
//! port), or websocket frames decoded (a leaf on the websocket port), with
//! pings answered and a close frame closing the link.

use std::future::Future;
use std::sync::Arc;

use bytes::BytesMut;
use starling_ws::{Control, ServerDecoder, encode_pong};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::link::{CloseReason, Link};

/// A leaf link's byte stream. `fill` appends what arrives to `buf` and
/// says how much (0: the peer is gone); it may be cancelled between reads
/// without losing bytes.
pub(crate) trait Source {
    fn fill(&mut self, buf: &mut BytesMut) -> impl Future<Output = std::io::Result<usize>>;
}

/// The socket's bytes as they are.
pub(crate) struct Plain<R>(pub(crate) R);

impl<R: AsyncRead + Unpin> Source for Plain<R> {
    async fn fill(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        buf.reserve(16 * 1024);
        self.0.read_buf(buf).await
    }
}

/// Websocket frames from the peer, decoded.
pub(super) struct Framed<R> {
    reader: R,
    raw: BytesMut,
    decoder: ServerDecoder,
    controls: Vec<Control>,
    link: Arc<Link>,
}

impl<R> Framed<R> {
    /// Frames as negotiated: compressed or not, masked unless the peer
    /// asked `Nats-No-Masking`.
    pub(super) fn new(
        reader: R,
        link: Arc<Link>,
        compress: bool,
        unmasked: bool,
        max: usize,
    ) -> Self {
        let mut decoder = ServerDecoder::new(compress, max);
        if unmasked {
            decoder.accept_unmasked();
        }
        Self {
            reader,
            raw: BytesMut::new(),
            decoder,
            controls: Vec::new(),
            link,
        }
    }
}

impl<R> Framed<R> {
    /// Frames that arrived with the upgrade's reply.
    pub(super) fn feed(&mut self, bytes: &[u8]) {
        self.raw.extend_from_slice(bytes);
    }
}

impl<R: AsyncRead + Unpin> Source for Framed<R> {
    async fn fill(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        let before = buf.len();
        loop {
            if !self.raw.is_empty() || self.decoder.has_pending() {
                let decoded = self.decoder.decode(&mut self.raw, buf, &mut self.controls);
                for control in self.controls.drain(..) {
                    match control {
                        Control::Ping(payload) => {
                            self.link.queue_control(|out| encode_pong(out, &payload));
                        }
                        Control::Pong => {}
                        Control::Close(code) => {
                            self.link.close(CloseReason::WebsocketClose(code));
                        }
                    }
                }
                if let Err(error) = decoded {
                    self.link.close(CloseReason::WebsocketFrame(error));
                    return Err(std::io::Error::other(error));
                }
                if buf.len() > before || self.link.is_closed() {
                    return Ok(buf.len() - before);
                }
            }
            // Nothing whole yet: read more (cancel-safe: bytes stay in `raw`).
            self.raw.reserve(16 * 1024);
            if self.reader.read_buf(&mut self.raw).await? == 0 {
                return Ok(0);
            }
        }
    }
}
