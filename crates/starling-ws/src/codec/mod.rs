//! The server side of a websocket connection as two halves: a decoder
//! that turns client frames into the NATS byte stream (and control events),
//! and an encoder that turns the server's NATS bytes into frames.

use bytes::BytesMut;

mod decoder;

pub use decoder::ServerDecoder;

use crate::deflate::Deflater;
use crate::frame::{OpCode, apply_mask, encode_header};
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

/// NATS bytes in, server frames out.
#[derive(Debug)]
pub struct ServerEncoder {
    compression: bool,
    max_frame: Option<usize>,
    /// Made at the first message worth compressing (a compressor's tables
    /// are some 300 KB): idle and uncompressed connections have none.
    deflater: Option<Deflater>,
    scratch: Vec<u8>,
    /// Masks every frame (the client side of a leaf link), with keys from
    /// this generator's state.
    mask: Option<u64>,
}

impl ServerEncoder {
    /// An encoder for the client side of a connection (a leaf link that
    /// dialled a websocket port): frames masked with keys drawn from
    /// `seed`, unless the peer agreed to `Nats-No-Masking` (then use
    /// [`new`](Self::new)).
    pub fn masking(compression: bool, seed: u64) -> Self {
        Self {
            mask: Some(seed | 1),
            ..Self::new(compression, false)
        }
    }

    fn next_mask(&mut self) -> Option<[u8; 4]> {
        let state = self.mask.as_mut()?;
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        Some((*state as u32).to_le_bytes())
    }

    /// An encoder; `compression` as negotiated, `browser` to keep frames to
    /// [`BROWSER_FRAME_SIZE`].
    pub fn new(compression: bool, browser: bool) -> Self {
        Self {
            compression,
            max_frame: browser.then_some(BROWSER_FRAME_SIZE),
            deflater: None,
            scratch: Vec::new(),
            mask: None,
        }
    }

    /// When `data` can go out as one uncompressed frame, writes just that
    /// frame's header to `header` and returns true: the caller then sends
    /// the header and `data` with one vectored write, without copying
    /// `data`. Otherwise returns false: use [`encode`](Self::encode).
    pub fn encode_header_only(&self, data: &[u8], header: &mut BytesMut) -> bool {
        let compressed = self.compression && data.len() >= COMPRESS_THRESHOLD;
        let fragmented = self.max_frame.is_some_and(|max| data.len() > max);
        if compressed || fragmented || self.mask.is_some() {
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

    fn frames(&mut self, payload: &[u8], compressed: bool, out: &mut BytesMut) {
        let size = self.max_frame.unwrap_or(usize::MAX).max(1);
        let mut chunks = payload.chunks(size).peekable();
        if chunks.peek().is_none() {
            let mask = self.next_mask();
            encode_header(out, true, compressed, OpCode::Binary, 0, mask);
            return;
        }
        let mut first = true;
        while let Some(chunk) = chunks.next() {
            let opcode = if first {
                OpCode::Binary
            } else {
                OpCode::Continuation
            };
            let mask = self.next_mask();
            encode_header(
                out,
                chunks.peek().is_none(),
                compressed && first,
                opcode,
                chunk.len(),
                mask,
            );
            let start = out.len();
            out.extend_from_slice(chunk);
            if let Some(mask) = mask {
                apply_mask(&mut out[start..], mask, 0);
            }
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
    apply_mask(&mut out[start..], mask, 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FrameError;
    use crate::frame::decode_header;

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
    fn a_masking_encoder_writes_what_a_server_decodes() {
        for compression in [false, true] {
            let mut encoder = ServerEncoder::masking(compression, 42);
            let data = b"LMSG foo 5\r\nhello\r\n".repeat(20);
            let mut header = BytesMut::new();
            assert!(
                !encoder.encode_header_only(&data, &mut header),
                "masked frames are copied"
            );
            let mut frames = BytesMut::new();
            encoder.encode(&data, &mut frames);
            encoder.encode(b"", &mut frames);
            let (out, _, error) = decode_all(&frames, compression);
            assert_eq!((out, error), (data.clone(), None));
        }
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
    fn inflation_waits_for_the_parser() {
        // A 5 MB message of zeros (a deflate bomb, were the output kept):
        // never more than max_message of output is waiting for the parser.
        let mut compressed = Vec::new();
        Deflater::new().compress(&vec![0u8; 5_000_000], &mut compressed);
        let input = client(OpCode::Binary, true, true, &compressed);
        let mut decoder = ServerDecoder::new(true, 1 << 20);
        let (mut raw, mut out, mut controls) = (input, BytesMut::new(), Vec::new());
        decoder.decode(&mut raw, &mut out, &mut controls).unwrap();
        assert_eq!(out.len(), 1 << 20);
        assert!(decoder.has_pending());
        // The parser consumes; inflation goes on from where it stopped.
        let mut total = out.len();
        while decoder.has_pending() {
            out.clear();
            decoder.decode(&mut raw, &mut out, &mut controls).unwrap();
            assert!(out.len() <= 1 << 20);
            total += out.len();
        }
        assert_eq!(total, 5_000_000);
    }

    #[test]
    fn a_compressed_message_may_hold_many_operations() {
        // 3 MB of PUBs in one compressed message, with max_message 1 MB:
        // each PUB is small, so the message is fine.
        let pubs = b"PUB foo 20\r\n01234567890123456789\r\n".repeat(100_000);
        let mut compressed = Vec::new();
        Deflater::new().compress(&pubs, &mut compressed);
        let mut input = client(
            OpCode::Binary,
            false,
            true,
            &compressed[..compressed.len() / 2],
        );
        input.extend_from_slice(&client(
            OpCode::Continuation,
            true,
            false,
            &compressed[compressed.len() / 2..],
        ));
        input.extend_from_slice(&client(OpCode::Binary, true, false, b"PING\r\n"));
        let mut decoder = ServerDecoder::new(true, 1 << 20);
        let (mut raw, mut out, mut controls) = (input, BytesMut::new(), Vec::new());
        let mut all = Vec::new();
        loop {
            decoder.decode(&mut raw, &mut out, &mut controls).unwrap();
            all.extend_from_slice(&out);
            out.clear();
            if !decoder.has_pending() && raw.is_empty() {
                break;
            }
        }
        assert_eq!(all.len(), pubs.len() + 6);
        assert!(all.starts_with(&pubs) && all.ends_with(b"PING\r\n"));
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
