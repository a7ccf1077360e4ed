//! Properties the fuzz targets check, kept here so the committed seeds are
//! replayed by `cargo test` on stable as well.

use bytes::BytesMut;

use crate::leaf::{LeafOp, LeafParser};
use crate::{ClientOp, ClientParser, ParserLimits, ProtoError};

/// Parses `data` whole, and again split at a point chosen by its first
/// byte; both must give the same operations and the same error. Panics
/// (the fuzzer's signal) when they differ.
pub fn check_parser(data: &[u8]) {
    let whole = parse_pieces(&[data]);
    let (head, tail) = split_point(data);
    assert_eq!(
        parse_pieces(&[head, tail]),
        whole,
        "a split changed the result"
    );
}

/// `data` split at a point chosen by its first byte.
fn split_point(data: &[u8]) -> (&[u8], &[u8]) {
    let at = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    data.split_at(at)
}

/// Small limits, so the fuzzer reaches the limit paths quickly.
const FUZZ_LIMITS: ParserLimits = ParserLimits {
    max_control_line: 256,
    max_payload: 4096,
};

fn parse_pieces(pieces: &[&[u8]]) -> (Vec<ClientOp>, Option<ProtoError>) {
    let mut parser = ClientParser::new(FUZZ_LIMITS);
    feed(pieces, |buf| parser.decode(buf))
}

/// Feeds `pieces` one after the other to `decode`, collecting operations
/// until it needs more bytes or fails.
fn feed<T>(
    pieces: &[&[u8]],
    mut decode: impl FnMut(&mut BytesMut) -> Result<Option<T>, ProtoError>,
) -> (Vec<T>, Option<ProtoError>) {
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match decode(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => break,
                Err(error) => return (ops, Some(error)),
            }
        }
    }
    (ops, None)
}

/// [`check_parser`] for the leaf-node protocol parser, in both dialects
/// (the first byte's low bit picks leaf or route lines).
pub fn check_leaf_parser(data: &[u8]) {
    let route = data.first().is_some_and(|b| b & 1 == 1);
    let whole = leaf_pieces(&[data], route);
    let at = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let (head, tail) = data.split_at(at);
    assert_eq!(
        leaf_pieces(&[head, tail], route),
        whole,
        "a split changed the result"
    );
}

fn leaf_pieces(pieces: &[&[u8]], route: bool) -> (Vec<LeafOp>, Option<ProtoError>) {
    let mut parser = if route {
        LeafParser::for_route(FUZZ_LIMITS)
    } else {
        LeafParser::new(FUZZ_LIMITS)
    };
    feed(pieces, |buf| parser.decode(buf))
}
