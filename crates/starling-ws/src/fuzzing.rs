//! Properties the fuzz targets check, kept here so the committed seeds are
//! replayed by `cargo test` on stable as well.

use bytes::BytesMut;

use crate::ServerDecoder;
use crate::handshake::{HandshakePolicy, HttpVersion, handle_request};
use crate::origin::OriginPolicy;

/// Decodes arbitrary bytes as client frames, whole and split at a point
/// chosen by the first byte, with compression negotiated; both must agree
/// and output stays bounded.
pub fn check_frames(data: &[u8]) {
    let whole = decode(&[data]);
    let at = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let (head, tail) = data.split_at(at);
    assert_eq!(decode(&[head, tail]), whole, "a split changed the result");
}

const LIMIT: usize = 64 * 1024;

fn decode(pieces: &[&[u8]]) -> (Vec<u8>, usize, Option<crate::FrameError>) {
    let mut decoder = ServerDecoder::new(true, LIMIT);
    let (mut raw, mut out, mut controls) = (BytesMut::new(), BytesMut::new(), Vec::new());
    for piece in pieces {
        raw.extend_from_slice(piece);
        if let Err(error) = decoder.decode(&mut raw, &mut out, &mut controls) {
            return (out.to_vec(), controls.len(), Some(error));
        }
        assert!(
            out.len() <= LIMIT + raw.capacity() + piece.len(),
            "output grew past its bound"
        );
    }
    (out.to_vec(), controls.len(), None)
}

/// Runs arbitrary bytes through the upgrade handshake: a decision or a
/// refusal, never a panic.
pub fn check_upgrade(data: &[u8]) {
    let policy = HandshakePolicy {
        origins: OriginPolicy::new(true, &["http://localhost".to_owned()]).unwrap_or_default(),
        compression: true,
        tls: false,
        trust_forwarded_for: true,
    };
    if let Err(error) = handle_request(data, &policy) {
        let mut reply = Vec::new();
        let version = HttpVersion::of_request(data);
        error.encode(&mut reply, "Thu, 01 Jan 1970 00:00:00 GMT", version);
        assert!(reply.starts_with(b"HTTP/1.1 ") || reply.starts_with(b"HTTP/1.0 "));
    }
}

/// Inflates arbitrary bytes as a compressed message: bounded output or a
/// refusal.
pub fn check_inflate(data: &[u8]) {
    let mut out = Vec::new();
    if crate::deflate::Inflater::new()
        .decompress(data, LIMIT, &mut out)
        .is_ok()
    {
        assert!(out.len() <= LIMIT);
    }
}
