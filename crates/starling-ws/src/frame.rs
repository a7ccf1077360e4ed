//! RFC 6455 frames: a streaming decoder for what clients send and an
//! encoder for what the server sends.
//!
//! The decoder never buffers a data frame by its declared length: payload
//! bytes are unmasked straight into the caller's buffer as they arrive, so
//! a 64-bit length in a header can't make it allocate. Only control frames
//! (at most 125 bytes) and compressed messages (bounded by the caller) are
//! collected whole.

use bytes::{Buf, BufMut, BytesMut};

use crate::CloseCode;

/// Frame opcodes (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// Continuation of a fragmented message.
    Continuation,
    /// Text data.
    Text,
    /// Binary data.
    Binary,
    /// Close.
    Close,
    /// Ping.
    Ping,
    /// Pong.
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Close, ping and pong.
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// Why a frame was refused; each maps to the close code sent back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A client frame without a mask (RFC 6455 §5.1).
    #[error("client frame is not masked")]
    UnmaskedClientFrame,
    /// An opcode RFC 6455 does not define.
    #[error("unknown opcode {0:#x}")]
    UnknownOpcode(u8),
    /// RSV2 or RSV3 set, or RSV1 where no compression was negotiated or on
    /// a control or continuation frame (RFC 7692 §6).
    #[error("reserved bits set")]
    ReservedBits,
    /// A control frame that is fragmented or longer than 125 bytes (§5.5).
    #[error("invalid control frame")]
    InvalidControlFrame,
    /// A continuation with no message started, or a new message while one
    /// is still fragmented (§5.4).
    #[error("unexpected continuation or data frame")]
    BadFragmentation,
    /// A 64-bit length with the most significant bit set (§5.2).
    #[error("frame length out of range")]
    LengthOutOfRange,
    /// A compressed message larger than allowed, before or after inflating.
    #[error("message too big")]
    MessageTooBig,
    /// Compressed data that does not inflate.
    #[error("invalid compressed data")]
    BadCompressedData,
    /// A close frame with a one-byte body or a code that may not be sent.
    #[error("invalid close frame")]
    InvalidClose,
}

impl FrameError {
    /// The close code the server answers with.
    pub fn close_code(self) -> CloseCode {
        match self {
            Self::MessageTooBig => CloseCode::MessageTooBig,
            Self::BadCompressedData => CloseCode::InvalidPayload,
            _ => CloseCode::ProtocolError,
        }
    }
}

/// A frame header as decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN bit: last frame of a message.
    pub fin: bool,
    /// RSV1: compressed message (permessage-deflate).
    pub rsv1: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub len: u64,
}

/// Decodes one frame header from the front of `buf`, or `Ok(None)` if more
/// bytes are needed. Checks only what a header alone can tell.
pub fn decode_header(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    if b0 & 0x30 != 0 {
        return Err(FrameError::ReservedBits);
    }
    let opcode = OpCode::from_bits(b0 & 0x0F).ok_or(FrameError::UnknownOpcode(b0 & 0x0F))?;
    let masked = b1 & 0x80 != 0;
    let (len, mut at) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut be = [0u8; 8];
                be.copy_from_slice(b);
                let len = u64::from_be_bytes(be);
                if len >> 63 != 0 {
                    return Err(FrameError::LengthOutOfRange);
                }
                (len, 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if opcode.is_control() && (b0 & 0x80 == 0 || len > 125) {
        return Err(FrameError::InvalidControlFrame);
    }
    let mask = if masked {
        let Some(key) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([key[0], key[1], key[2], key[3]])
    } else {
        None
    };
    let header = FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv1: b0 & 0x40 != 0,
        opcode,
        mask,
        len,
    };
    Ok(Some((header, at)))
}

/// XORs `data` with `mask`, starting `offset` bytes into the mask.
pub fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    // Whole words first: the compiler vectorises this loop.
    let mut rotated = [0u8; 4];
    for (i, byte) in rotated.iter_mut().enumerate() {
        *byte = mask[(offset + i) % 4];
    }
    let word = u32::from_ne_bytes(rotated);
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let value = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= rotated[i];
    }
}

/// Writes a frame header. `mask` is for client frames (the leaf-node and
/// test side); server frames are never masked.
pub fn encode_header<B: BufMut>(
    out: &mut B,
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    len: usize,
    mask: Option<[u8; 4]>,
) {
    let mut b0 = opcode.bits();
    if fin {
        b0 |= 0x80;
    }
    if rsv1 {
        b0 |= 0x40;
    }
    out.put_u8(b0);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    if len <= 125 {
        out.put_u8(mask_bit | len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.put_u8(mask_bit | 126);
        out.put_u16(short);
    } else {
        out.put_u8(mask_bit | 127);
        out.put_u64(len as u64);
    }
    if let Some(key) = mask {
        out.put_slice(&key);
    }
}

/// Writes a whole unmasked server frame.
pub fn encode_frame<B: BufMut>(out: &mut B, opcode: OpCode, rsv1: bool, payload: &[u8]) {
    encode_header(out, true, rsv1, opcode, payload.len(), None);
    out.put_slice(payload);
}

/// Writes a close frame with `code` and `reason` (cut to fit 125 bytes).
pub fn encode_close<B: BufMut>(out: &mut B, code: CloseCode, reason: &str) {
    let reason = &reason.as_bytes()[..reason.len().min(123)];
    encode_header(out, true, false, OpCode::Close, 2 + reason.len(), None);
    out.put_u16(code.as_u16());
    out.put_slice(reason);
}

/// Consumes `n` bytes from the front of `buf`, unmasking them into `out`.
pub(crate) fn unmask_into(
    buf: &mut BytesMut,
    n: usize,
    mask: Option<[u8; 4]>,
    offset: usize,
    out: &mut BytesMut,
) {
    let start = out.len();
    out.extend_from_slice(&buf[..n]);
    if let Some(mask) = mask {
        apply_mask(&mut out[start..], mask, offset);
    }
    buf.advance(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(len: usize) {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut out = Vec::new();
        encode_header(
            &mut out,
            true,
            false,
            OpCode::Binary,
            len,
            Some([1, 2, 3, 4]),
        );
        let header_len = out.len();
        let mut masked = payload.clone();
        apply_mask(&mut masked, [1, 2, 3, 4], 0);
        out.extend_from_slice(&masked);
        let (header, at) = decode_header(&out).unwrap().unwrap();
        assert_eq!(
            (at, header.len, header.opcode, header.fin),
            (header_len, len as u64, OpCode::Binary, true)
        );
        let mut body = out[at..].to_vec();
        apply_mask(&mut body, header.mask.unwrap(), 0);
        assert_eq!(body, payload);
    }

    #[test]
    fn lengths_at_every_boundary() {
        for len in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
            roundtrip(len);
        }
    }

    #[test]
    fn header_needs_all_its_bytes() {
        let mut out = Vec::new();
        encode_header(
            &mut out,
            true,
            false,
            OpCode::Binary,
            70000,
            Some([9, 9, 9, 9]),
        );
        for cut in 0..out.len() {
            assert_eq!(decode_header(&out[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(
            decode_header(&[0x83, 0x80, 0, 0, 0, 0]),
            Err(FrameError::UnknownOpcode(3))
        );
        assert_eq!(
            decode_header(&[0xA2, 0x80, 0, 0, 0, 0]),
            Err(FrameError::ReservedBits)
        );
        assert_eq!(
            decode_header(&[0x09, 0x80, 0, 0, 0, 0]),
            Err(FrameError::InvalidControlFrame)
        );
        assert_eq!(
            decode_header(&[0x89, 0xFE, 0, 126]),
            Err(FrameError::InvalidControlFrame)
        );
        let huge = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(decode_header(&huge), Err(FrameError::LengthOutOfRange));
    }

    #[test]
    fn mask_at_any_offset() {
        let data: Vec<u8> = (0..37).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, [7, 11, 13, 17], 0);
        for split in 0..data.len() {
            let mut parts = data.clone();
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, [7, 11, 13, 17], 0);
            apply_mask(b, [7, 11, 13, 17], split);
            assert_eq!(parts, whole, "split at {split}");
        }
    }

    #[test]
    fn close_frames() {
        let mut out = Vec::new();
        encode_close(&mut out, CloseCode::ProtocolError, "Protocol Violation");
        assert_eq!(&out[..4], &[0x88, 20, 0x03, 0xEA]);
        assert_eq!(&out[4..], b"Protocol Violation");
    }
}
