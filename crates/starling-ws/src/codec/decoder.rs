//! Client frames in, NATS bytes out: headers checked, payloads unmasked
//! straight into the parser's buffer, compressed messages inflated as
//! their frames arrive, and never further ahead of the parser than
//! `max_message` (so a compressed message may carry any number of
//! operations, and a deflate bomb costs a few megabytes and a close).

use bytes::{Buf, BytesMut};

use super::Control;
use crate::CloseCode;
use crate::deflate::{Inflater, SYNC_TAIL};
use crate::frame::{FrameError, FrameHeader, OpCode, decode_header, unmask_into};

/// Compressed bytes taken from the socket at a time.
const CHUNK: usize = 64 * 1024;
/// Output written per inflate step (its room is zeroed first).
const STEP: usize = 64 * 1024;

#[derive(Debug)]
enum State {
    Header,
    Payload {
        header: FrameHeader,
        remaining: u64,
        offset: usize,
    },
}

/// Client frames in, NATS bytes out.
///
/// Driving it: append socket bytes to `raw` and call
/// [`decode`](Self::decode); it consumes complete headers and as much
/// payload as has arrived, appends unmasked (and inflated) data to `out`,
/// and pushes control frames to `controls`. It stops inflating when `out`
/// holds `max_message` bytes: parse some, then call it again, before
/// reading more, while [`has_pending`](Self::has_pending) says so. An
/// error means: send a close frame with [`FrameError::close_code`] and end
/// the connection.
#[derive(Debug)]
pub struct ServerDecoder {
    compression: bool,
    max_message: usize,
    state: State,
    /// A data message is in progress; `Some(true)` when it is compressed.
    message: Option<bool>,
    /// Unmasked compressed bytes not inflated yet (at most one chunk).
    compressed: BytesMut,
    /// The compressed message has ended: this much of the sync tail has
    /// been inflated (`None`: not ended).
    tail: Option<usize>,
    /// The deflate stream of the current message ended (a final block):
    /// the rest of the message is ignored, as a whole-message inflate
    /// ignores it.
    stream_ended: bool,
    /// Made at the first compressed message (about 40 KB): a connection
    /// that never sends one, or did not negotiate compression, has none.
    inflater: Option<Inflater>,
    control: BytesMut,
    /// The peer asked for `Nats-No-Masking`: its frames may come unmasked.
    unmasked_ok: bool,
}

impl ServerDecoder {
    /// A decoder; `compression` is whether permessage-deflate was
    /// negotiated, `max_message` bounds the inflated bytes waiting in
    /// `out` for the parser (at least one operation's worth).
    pub fn new(compression: bool, max_message: usize) -> Self {
        Self {
            compression,
            max_message,
            state: State::Header,
            message: None,
            compressed: BytesMut::new(),
            tail: None,
            stream_ended: false,
            inflater: None,
            control: BytesMut::new(),
            unmasked_ok: false,
        }
    }

    /// Accepts unmasked frames from now on: the peer's upgrade request
    /// said `Nats-No-Masking: true` (nats-server's leaf links ask it).
    pub fn accept_unmasked(&mut self) {
        self.unmasked_ok = true;
    }

    /// True while a frame has started and not finished (its payload is
    /// still arriving); with leftover bytes in `raw`, a header is partial.
    /// The driver bounds how long a peer may stay like this.
    pub fn is_mid_frame(&self) -> bool {
        matches!(self.state, State::Payload { .. })
    }

    /// True when inflation stopped because `out` was full: call
    /// [`decode`](Self::decode) again once the parser has consumed some.
    pub fn has_pending(&self) -> bool {
        !self.compressed.is_empty() || self.tail.is_some()
    }

    /// Decodes what `raw` holds; see the type's docs.
    pub fn decode(
        &mut self,
        raw: &mut BytesMut,
        out: &mut BytesMut,
        controls: &mut Vec<Control>,
    ) -> Result<(), FrameError> {
        if !self.inflate_pending(out)? {
            return Ok(());
        }
        loop {
            match &mut self.state {
                State::Header => {
                    let Some((header, header_len)) = decode_header(raw)? else {
                        return Ok(());
                    };
                    if header.mask.is_none() && !self.unmasked_ok {
                        return Err(FrameError::UnmaskedClientFrame);
                    }
                    if header.opcode.is_control() {
                        if header.rsv1 {
                            return Err(FrameError::ReservedBits);
                        }
                        let total = header_len + header.len as usize;
                        if raw.len() < total {
                            return Ok(());
                        }
                        raw.advance(header_len);
                        self.control.clear();
                        unmask_into(raw, header.len as usize, header.mask, 0, &mut self.control);
                        controls.push(control_event(header.opcode, &self.control)?);
                        continue;
                    }
                    self.start_data_frame(&header)?;
                    raw.advance(header_len);
                    self.state = State::Payload {
                        header,
                        remaining: header.len,
                        offset: 0,
                    };
                }
                State::Payload {
                    header,
                    remaining,
                    offset,
                } => {
                    let compressed = self.message == Some(true);
                    let limit = if compressed { CHUNK } else { usize::MAX };
                    let take = (*remaining).min(raw.len().min(limit) as u64) as usize;
                    if take == 0 && *remaining > 0 {
                        return Ok(());
                    }
                    let target = if compressed {
                        &mut self.compressed
                    } else {
                        &mut *out
                    };
                    unmask_into(raw, take, header.mask, *offset, target);
                    *remaining -= take as u64;
                    *offset += take;
                    let done = *remaining == 0;
                    let fin = header.fin;
                    if done {
                        self.state = State::Header;
                        if fin && compressed {
                            self.tail = Some(0);
                        }
                        if fin {
                            self.message = None;
                        }
                    }
                    if compressed && !self.inflate_pending(out)? {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn start_data_frame(&mut self, header: &FrameHeader) -> Result<(), FrameError> {
        match header.opcode {
            OpCode::Continuation => {
                if self.message.is_none() {
                    return Err(FrameError::BadFragmentation);
                }
                if header.rsv1 {
                    return Err(FrameError::ReservedBits);
                }
            }
            _ => {
                if self.message.is_some() {
                    return Err(FrameError::BadFragmentation);
                }
                if header.rsv1 && !self.compression {
                    return Err(FrameError::ReservedBits);
                }
                if header.rsv1 {
                    self.inflater.get_or_insert_with(Inflater::new).reset();
                    self.stream_ended = false;
                }
                self.message = Some(header.rsv1);
            }
        }
        Ok(())
    }

    /// Inflates the compressed bytes waiting (and, once the message has
    /// ended, the sync tail) into `out` while `out` has room. False when it
    /// stopped for lack of room.
    fn inflate_pending(&mut self, out: &mut BytesMut) -> Result<bool, FrameError> {
        if !self.has_pending() {
            return Ok(true);
        }
        let Some(inflater) = self.inflater.as_mut() else {
            return Err(FrameError::BadCompressedData);
        };
        loop {
            if self.stream_ended {
                self.compressed.clear();
                if self.tail.is_some() {
                    self.tail = None;
                }
                return Ok(true);
            }
            let room = self.max_message.saturating_sub(out.len());
            if room == 0 {
                return Ok(false);
            }
            let from_tail = self.compressed.is_empty();
            let input: &[u8] = match self.tail {
                Some(fed) if from_tail => &SYNC_TAIL[fed..],
                _ => &self.compressed,
            };
            let (consumed, written, ended) = inflater.inflate_step(input, room.min(STEP), out)?;
            if from_tail {
                if let Some(fed) = &mut self.tail {
                    *fed += consumed;
                }
            } else {
                self.compressed.advance(consumed);
            }
            self.stream_ended = ended;
            if consumed == 0 && written == 0 && !ended {
                if !self.compressed.is_empty() {
                    return Err(FrameError::BadCompressedData);
                }
                // Nothing more to write from what it has: the message is
                // done once its tail is in; else more frames must come.
                if self.tail.is_some() {
                    self.tail = None;
                }
                return Ok(true);
            }
        }
    }
}

fn control_event(opcode: OpCode, payload: &[u8]) -> Result<Control, FrameError> {
    Ok(match opcode {
        OpCode::Ping => Control::Ping(payload.to_vec()),
        OpCode::Pong => Control::Pong,
        _ => match payload {
            [] => Control::Close(None),
            [_] => return Err(FrameError::InvalidClose),
            [hi, lo, reason @ ..] => {
                let code = CloseCode::from_u16(u16::from_be_bytes([*hi, *lo]))
                    .ok_or(FrameError::InvalidClose)?;
                if std::str::from_utf8(reason).is_err() {
                    return Err(FrameError::InvalidClose);
                }
                Control::Close(Some(code))
            }
        },
    })
}
