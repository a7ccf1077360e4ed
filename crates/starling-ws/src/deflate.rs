//! permessage-deflate (RFC 7692) with miniz_oxide, without context
//! takeover in either direction (what nats-server negotiates): every
//! message is compressed and inflated on its own, so no state leaks from
//! one message, or one connection, to the next.

use miniz_oxide::MZFlush;
use miniz_oxide::deflate::core::{CompressorOxide, create_comp_flags_from_zip_params};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZError, MZStatus};

use crate::FrameError;

/// The four bytes a sync flush ends with, removed by the sender and added
/// back by the receiver (RFC 7692 §7.2.1, §7.2.2).
pub(crate) const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// Compresses one message at a time.
pub struct Deflater {
    compressor: Box<CompressorOxide>,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater").finish_non_exhaustive()
    }
}

impl Default for Deflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Deflater {
    /// A compressor at best speed (nats-server's level), raw deflate.
    pub fn new() -> Self {
        let flags = create_comp_flags_from_zip_params(1, -15, 0);
        Self {
            compressor: Box::new(CompressorOxide::new(flags)),
        }
    }

    /// Appends the compressed form of `data` to `out` (sync-flushed, tail
    /// removed), ready to be a message payload with RSV1 set.
    pub fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.compressor.reset();
        let start = out.len();
        let mut input = data;
        loop {
            let spare = out.len();
            let room = input.len() / 2 + 128;
            out.resize(spare + room, 0);
            let result = miniz_oxide::deflate::stream::deflate(
                &mut self.compressor,
                input,
                &mut out[spare..],
                MZFlush::Sync,
            );
            out.truncate(spare + result.bytes_written);
            input = &input[result.bytes_consumed..];
            // Done when all input is in and the flush fitted in the room given.
            if result.status.is_err() || (input.is_empty() && result.bytes_written < room) {
                break;
            }
        }
        if out[start..].ends_with(&SYNC_TAIL) {
            out.truncate(out.len() - SYNC_TAIL.len());
        }
    }
}

/// Inflates one message at a time, refusing output past a limit.
pub struct Inflater {
    state: Box<InflateState>,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater").finish_non_exhaustive()
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Inflater {
    /// A raw-deflate inflater.
    pub fn new() -> Self {
        Self {
            state: InflateState::new_boxed(DataFormat::Raw),
        }
    }

    /// Starts a new message (no context takeover: nothing carries over).
    pub fn reset(&mut self) {
        self.state.reset(DataFormat::Raw);
    }

    /// Inflates what it can of `input`, the next compressed bytes of the
    /// current message, into `out`, writing at most `room` bytes. Returns
    /// how many input bytes it consumed, how many it wrote, and whether
    /// the deflate stream ended (a final block: nothing after it counts);
    /// it keeps what it has decoded but not written for the next call.
    pub fn inflate_step(
        &mut self,
        input: &[u8],
        room: usize,
        out: &mut bytes::BytesMut,
    ) -> Result<(usize, usize, bool), FrameError> {
        let spare = out.len();
        out.resize(spare + room, 0);
        // What was written before a corrupt byte is kept, so the output up
        // to an error does not depend on how the input was cut.
        let (written, step) = self.step(input, &mut out[spare..], MZFlush::None);
        out.truncate(spare + written);
        step.map(|(consumed, ended)| (consumed, written, ended))
    }

    /// One call of the inflater: how much it wrote (also when it then
    /// found corrupt data), and how much it consumed and whether the stream
    /// ended.
    fn step(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        flush: MZFlush,
    ) -> (usize, Result<(usize, bool), FrameError>) {
        let result = miniz_oxide::inflate::stream::inflate(&mut self.state, input, output, flush);
        let consumed = result.bytes_consumed;
        let status = match result.status {
            Ok(MZStatus::StreamEnd) => Ok((consumed, true)),
            Ok(_) | Err(MZError::Buf) => Ok((consumed, false)),
            Err(_) => Err(FrameError::BadCompressedData),
        };
        (result.bytes_written, status)
    }

    /// Appends the inflated form of one compressed message to `out`; more
    /// than `limit` bytes of output is [`FrameError::MessageTooBig`], before
    /// they are buffered.
    pub fn decompress(
        &mut self,
        compressed: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), FrameError> {
        self.state.reset(DataFormat::Raw);
        let start = out.len();
        let result = self
            .inflate_all(compressed, limit, start, out)
            .and_then(|()| self.inflate_all(&SYNC_TAIL, limit, start, out));
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn inflate_all(
        &mut self,
        mut input: &[u8],
        limit: usize,
        start: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), FrameError> {
        loop {
            let produced = out.len() - start;
            if produced > limit {
                return Err(FrameError::MessageTooBig);
            }
            // Never more room than one byte past the limit: output beyond
            // it is refused before it is buffered.
            let room = (limit + 1 - produced).min(64 * 1024);
            let spare = out.len();
            out.resize(spare + room, 0);
            let (written, step) = self.step(input, &mut out[spare..], MZFlush::Sync);
            out.truncate(spare + written);
            let (consumed, ended) = step?;
            input = &input[consumed..];
            if ended {
                return Ok(());
            }
            let stuck = consumed == 0 && written == 0;
            if stuck || (input.is_empty() && written < room) {
                return if out.len() - start > limit {
                    Err(FrameError::MessageTooBig)
                } else {
                    Ok(())
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(data: &[u8]) {
        let mut compressed = Vec::new();
        Deflater::new().compress(data, &mut compressed);
        assert!(!compressed.ends_with(&SYNC_TAIL));
        let mut inflated = Vec::new();
        Inflater::new()
            .decompress(&compressed, data.len(), &mut inflated)
            .unwrap();
        assert_eq!(inflated, data);
    }

    #[test]
    fn roundtrips() {
        roundtrip(b"");
        roundtrip(b"MSG foo 1 5\r\nhello\r\n");
        roundtrip(&vec![b'x'; 200_000]);
        let noise: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        roundtrip(&noise);
    }

    #[test]
    fn no_state_carries_between_messages() {
        let mut deflater = Deflater::new();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        deflater.compress(b"repeat repeat repeat", &mut a);
        deflater.compress(b"repeat repeat repeat", &mut b);
        assert_eq!(a, b, "the same message compresses the same every time");
        let mut inflater = Inflater::new();
        let mut out = Vec::new();
        inflater.decompress(&b, 100, &mut out).unwrap();
        assert_eq!(out, b"repeat repeat repeat");
    }

    #[test]
    fn output_is_bounded_before_it_is_buffered() {
        let mut compressed = Vec::new();
        Deflater::new().compress(&vec![0u8; 10_000_000], &mut compressed);
        assert!(compressed.len() < 100_000);
        let mut out = Vec::new();
        assert_eq!(
            Inflater::new().decompress(&compressed, 1_000_000, &mut out),
            Err(FrameError::MessageTooBig)
        );
        assert!(
            out.capacity() < 2_000_000,
            "refused without inflating it all"
        );
    }

    #[test]
    fn garbage_is_refused() {
        let mut out = Vec::new();
        assert_eq!(
            Inflater::new().decompress(&[0xFF, 0xFF, 0xFF, 0xFF], 100, &mut out),
            Err(FrameError::BadCompressedData)
        );
    }
}
