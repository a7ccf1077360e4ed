//! The server side of a websocket connection as two halves: a decoder
//! that turns client frames into the NATS byte stream (and control events),
//! and an encoder that turns the server's NATS bytes into frames.

use bytes::{Buf, BytesMut};

use crate::deflate::{Deflater, Inflater};
use crate::frame::{FrameError, FrameHeader, OpCode, decode_header, encode_header, unmask_into};
use crate::{CloseCode, frame};

/// Payloads under this many bytes are sent uncompressed (nats-server's).
pub const COMPRESS_THRESHOLD: usize = 64;

/// Frames to browsers are cut to this size (nats-server's).
pub const BROWSER_FRAME_SIZE: usize = 4096;

/// A control frame the client sent, for the driver to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// A ping: answer with a pong carrying `payload` ([`encode_pong`]).
    Ping(Vec<u8>),
    /// A pong: nothing to do.
    Pong,
    /// A close: echo it ([`frame::encode_close`]) and end the connection.
    Close(Option<CloseCode>),
}

/// Writes the pong for a ping's payload.
pub fn encode_pong(out: &mut BytesMut, payload: &[u8]) {
    frame::encode_frame(out, OpCode::Pong, false, payload);
}

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
/// and pushes control frames to `controls`. An error means: send a close
/// frame with [`FrameError::close_code`] and end the connection.
#[derive(Debug)]
pub struct ServerDecoder {
    compression: bool,
    max_message: usize,
    state: State,
    /// A data message is in progress; `Some(true)` when it is compressed.
    message: Option<bool>,
    compressed: Vec<u8>,
    inflated: Vec<u8>,
    /// Made at the first compressed message (about 40 KB): a connection
    /// that never sends one, or did not negotiate compression, has none.
    inflater: Option<Inflater>,
    control: BytesMut,
}

impl ServerDecoder {
    /// A decoder; `compression` is whether permessage-deflate was
    /// negotiated, `max_message` bounds a compressed message before and
    /// after inflating.
    pub fn new(compression: bool, max_message: usize) -> Self {
        Self {
            compression,
            max_message,
            state: State::Header,
            message: None,
            compressed: Vec::new(),
            inflated: Vec::new(),
            inflater: None,
            control: BytesMut::new(),
        }
    }

    /// True while a frame has started and not finished (its payload is
    /// still arriving); with leftover bytes in `raw`, a header is partial.
    /// The driver bounds how long a peer may stay like this.
    pub fn is_mid_frame(&self) -> bool {
        matches!(self.state, State::Payload { .. })
    }

    /// Decodes what `raw` holds; see the type's docs.
    pub fn decode(
        &mut self,
        raw: &mut BytesMut,
        out: &mut BytesMut,
        controls: &mut Vec<Control>,
    ) -> Result<(), FrameError> {
        loop {
            match &mut self.state {
                State::Header => {
                    let Some((header, header_len)) = decode_header(raw)? else {
                        return Ok(());
                    };
                    if header.mask.is_none() {
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
                    let take = (*remaining).min(raw.len() as u64) as usize;
                    if take == 0 && *remaining > 0 {
                        return Ok(());
                    }
                    if self.message == Some(true) {
                        if self.compressed.len() + take > self.max_message {
                            return Err(FrameError::MessageTooBig);
                        }
                        let start = self.compressed.len();
                        self.compressed.extend_from_slice(&raw[..take]);
                        if let Some(mask) = header.mask {
                            frame::apply_mask(&mut self.compressed[start..], mask, *offset);
                        }
                        raw.advance(take);
                    } else {
                        unmask_into(raw, take, header.mask, *offset, out);
                    }
                    *remaining -= take as u64;
                    *offset += take;
                    if *remaining > 0 {
                        return Ok(());
                    }
                    let fin = header.fin;
                    self.state = State::Header;
                    if fin {
                        self.finish_message(out)?;
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
                self.message = Some(header.rsv1);
            }
        }
        Ok(())
    }

    fn finish_message(&mut self, out: &mut BytesMut) -> Result<(), FrameError> {
        if self.message.take() == Some(true) {
            self.inflated.clear();
            let inflater = self.inflater.get_or_insert_with(Inflater::new);
            let result =
                inflater.decompress(&self.compressed, self.max_message, &mut self.inflated);
            self.compressed.clear();
            result?;
            out.extend_from_slice(&self.inflated);
            if self.inflated.capacity() > self.max_message.min(1 << 20) {
                self.inflated = Vec::new();
            }
        }
        Ok(())
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

/// NATS bytes in, server frames out.
#[derive(Debug)]
pub struct ServerEncoder {
    compression: bool,
    max_frame: Option<usize>,
    /// Made at the first message worth compressing (a compressor's tables
    /// are some 300 KB): idle and uncompressed connections have none.
    deflater: Option<Deflater>,
    scratch: Vec<u8>,
}

impl ServerEncoder {
    /// An encoder; `compression` as negotiated, `browser` to keep frames to
    /// [`BROWSER_FRAME_SIZE`].
    pub fn new(compression: bool, browser: bool) -> Self {
        Self {
            compression,
            max_frame: browser.then_some(BROWSER_FRAME_SIZE),
            deflater: None,
            scratch: Vec::new(),
        }
    }

    /// When `data` can go out as one uncompressed frame, writes just that
    /// frame's header to `header` and returns true: the caller then sends
    /// the header and `data` with one vectored write, without copying
    /// `data`. Otherwise returns false: use [`encode`](Self::encode).
    pub fn encode_header_only(&self, data: &[u8], header: &mut BytesMut) -> bool {
        let compressed = self.compression && data.len() >= COMPRESS_THRESHOLD;
        let fragmented = self.max_frame.is_some_and(|max| data.len() > max);
        if compressed || fragmented {
            return false;
        }
        encode_header(header, true, false, OpCode::Binary, data.len(), None);
        true
    }

    /// Appends `data` as one binary message (compressed when negotiated and
    /// worth it), fragmented for browsers.
    pub fn encode(&mut self, data: &[u8], out: &mut BytesMut) {
        if self.compression && data.len() >= COMPRESS_THRESHOLD {
            self.scratch.clear();
            let deflater = self.deflater.get_or_insert_with(Deflater::new);
            deflater.compress(data, &mut self.scratch);
            let scratch = std::mem::take(&mut self.scratch);
            self.frames(&scratch, true, out);
            self.scratch = scratch;
        } else {
            self.frames(data, false, out);
        }
    }

    fn frames(&self, payload: &[u8], compressed: bool, out: &mut BytesMut) {
        let size = self.max_frame.unwrap_or(usize::MAX).max(1);
        let mut chunks = payload.chunks(size).peekable();
        if chunks.peek().is_none() {
            encode_header(out, true, compressed, OpCode::Binary, 0, None);
            return;
        }
        let mut first = true;
        while let Some(chunk) = chunks.next() {
            let opcode = if first {
                OpCode::Binary
            } else {
                OpCode::Continuation
            };
            encode_header(
                out,
                chunks.peek().is_none(),
                compressed && first,
                opcode,
                chunk.len(),
                None,
            );
            out.extend_from_slice(chunk);
            first = false;
        }
    }
}

/// Client-side framing, for the leaf-node side and for tests: one masked
/// frame.
pub fn encode_client_frame(
    out: &mut BytesMut,
    opcode: OpCode,
    fin: bool,
    rsv1: bool,
    payload: &[u8],
    mask: [u8; 4],
) {
    encode_header(out, fin, rsv1, opcode, payload.len(), Some(mask));
    let start = out.len();
    out.extend_from_slice(payload);
    frame::apply_mask(&mut out[start..], mask, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

    fn decode_all(input: &[u8], compression: bool) -> (Vec<u8>, Vec<Control>, Option<FrameError>) {
        let mut decoder = ServerDecoder::new(compression, 1 << 20);
        let (mut raw, mut out, mut controls) = (BytesMut::from(input), BytesMut::new(), Vec::new());
        let err = decoder.decode(&mut raw, &mut out, &mut controls).err();
        (out.to_vec(), controls, err)
    }

    fn client(opcode: OpCode, fin: bool, rsv1: bool, payload: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        encode_client_frame(&mut out, opcode, fin, rsv1, payload, MASK);
        out
    }

    #[test]
    fn data_frames_text_binary_and_fragments() {
        let mut input = client(OpCode::Binary, true, false, b"PING\r\n");
        input.extend_from_slice(&client(OpCode::Text, false, false, b"PUB a 2\r"));
        input.extend_from_slice(&client(OpCode::Ping, true, false, b"hey"));
        input.extend_from_slice(&client(OpCode::Continuation, true, false, b"\nhi\r\n"));
        let (out, controls, err) = decode_all(&input, false);
        assert_eq!(err, None);
        assert_eq!(out, b"PING\r\nPUB a 2\r\nhi\r\n");
        assert_eq!(controls, vec![Control::Ping(b"hey".to_vec())]);
    }

    #[test]
    fn split_at_every_byte() {
        let mut input = client(OpCode::Binary, true, false, &[b'x'; 300]);
        input.extend_from_slice(&client(OpCode::Ping, true, false, b"p"));
        input.extend_from_slice(&client(OpCode::Binary, true, false, b"tail"));
        let whole = decode_all(&input, false);
        for split in 0..input.len() {
            let mut decoder = ServerDecoder::new(false, 1 << 20);
            let (mut raw, mut out, mut controls) = (BytesMut::new(), BytesMut::new(), Vec::new());
            for piece in [&input[..split], &input[split..]] {
                raw.extend_from_slice(piece);
                decoder.decode(&mut raw, &mut out, &mut controls).unwrap();
            }
            assert_eq!(
                (out.to_vec(), controls),
                (whole.0.clone(), whole.1.clone()),
                "split at {split}"
            );
        }
    }

    #[test]
    fn protocol_errors() {
        let mut unmasked = BytesMut::new();
        frame::encode_frame(&mut unmasked, OpCode::Binary, false, b"x");
        assert_eq!(
            decode_all(&unmasked, false).2,
            Some(FrameError::UnmaskedClientFrame)
        );
        assert_eq!(
            decode_all(&client(OpCode::Continuation, true, false, b"x"), false).2,
            Some(FrameError::BadFragmentation)
        );
        let mut twice = client(OpCode::Binary, false, false, b"a");
        twice.extend_from_slice(&client(OpCode::Binary, true, false, b"b"));
        assert_eq!(
            decode_all(&twice, false).2,
            Some(FrameError::BadFragmentation)
        );
        assert_eq!(
            decode_all(&client(OpCode::Binary, true, true, b"x"), false).2,
            Some(FrameError::ReservedBits)
        );
        assert_eq!(
            decode_all(&client(OpCode::Ping, true, true, b""), true).2,
            Some(FrameError::ReservedBits)
        );
        let mut rsv1_continuation = client(OpCode::Binary, false, false, b"a");
        rsv1_continuation.extend_from_slice(&client(OpCode::Continuation, true, true, b"b"));
        assert_eq!(
            decode_all(&rsv1_continuation, true).2,
            Some(FrameError::ReservedBits)
        );
        assert_eq!(
            decode_all(&client(OpCode::Close, true, false, b"x"), false).2,
            Some(FrameError::InvalidClose)
        );
        assert_eq!(
            decode_all(&client(OpCode::Close, true, false, &[0x03, 0xED]), false).2,
            Some(FrameError::InvalidClose)
        );
    }

    #[test]
    fn close_frames_are_reported() {
        let (_, controls, err) = decode_all(
            &client(OpCode::Close, true, false, &[0x03, 0xE8, b'b', b'y', b'e']),
            false,
        );
        assert_eq!(
            (controls, err),
            (vec![Control::Close(Some(CloseCode::Normal))], None)
        );
    }

    #[test]
    fn compressed_messages_roundtrip_through_both_halves() {
        let data = b"MSG foo 1 64\r\n".repeat(20);
        let mut encoder = ServerEncoder::new(true, false);
        let mut framed = BytesMut::new();
        encoder.encode(&data, &mut framed);
        assert_eq!(framed[0], 0xC2, "FIN, RSV1, binary");
        // Re-mask the server's frame as a client would send it.
        let (header, at) = decode_header(&framed).unwrap().unwrap();
        let input = client(OpCode::Binary, true, header.rsv1, &framed[at..]);
        let (out, _, err) = decode_all(&input, true);
        assert_eq!((out, err), (data, None));
        let mut small = BytesMut::new();
        encoder.encode(b"PONG\r\n", &mut small);
        assert_eq!(
            &small[..],
            b"\x82\x06PONG\r\n",
            "small payloads stay uncompressed"
        );
    }

    #[test]
    fn inflated_size_is_bounded() {
        let mut compressed = Vec::new();
        Deflater::new().compress(&vec![0u8; 5_000_000], &mut compressed);
        let input = client(OpCode::Binary, true, true, &compressed);
        let mut decoder = ServerDecoder::new(true, 1 << 20);
        let (mut raw, mut out, mut controls) = (input, BytesMut::new(), Vec::new());
        assert_eq!(
            decoder.decode(&mut raw, &mut out, &mut controls),
            Err(FrameError::MessageTooBig)
        );
    }

    #[test]
    fn header_only_frames_match_whole_frames() {
        let encoder = ServerEncoder::new(false, false);
        let mut header = BytesMut::new();
        assert!(encoder.encode_header_only(&[b'a'; 70_000], &mut header));
        let mut whole = BytesMut::new();
        ServerEncoder::new(false, false).encode(&[b'a'; 70_000], &mut whole);
        assert_eq!(&whole[..header.len()], &header[..]);
        assert!(!ServerEncoder::new(true, false).encode_header_only(&[b'a'; 100], &mut header));
        assert!(!ServerEncoder::new(false, true).encode_header_only(&[b'a'; 5000], &mut header));
    }

    #[test]
    fn browsers_get_4096_byte_frames() {
        let mut encoder = ServerEncoder::new(false, true);
        let mut out = BytesMut::new();
        encoder.encode(&[b'z'; 10_000], &mut out);
        let (first, at) = decode_header(&out).unwrap().unwrap();
        assert_eq!(
            (first.opcode, first.fin, first.len),
            (OpCode::Binary, false, 4096)
        );
        let (second, _) = decode_header(&out[at + 4096..]).unwrap().unwrap();
        assert_eq!((second.opcode, second.fin), (OpCode::Continuation, false));
    }
}
