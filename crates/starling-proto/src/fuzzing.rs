//! Properties the fuzz targets check, kept here so the committed seeds are
//! replayed by `cargo test` on stable as well.

use bytes::BytesMut;

use crate::{ClientOp, ClientParser, ParserLimits, ProtoError};

/// Parses `data` whole, and again split at a point chosen by its first
/// byte; both must give the same operations and the same error. Panics
/// (the fuzzer's signal) when they differ.
pub fn check_parser(data: &[u8]) {
    let whole = parse_pieces(&[data]);
    let at = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let (head, tail) = data.split_at(at);
    assert_eq!(
        parse_pieces(&[head, tail]),
        whole,
        "a split changed the result"
    );
}

/// Small limits, so the fuzzer reaches the limit paths quickly.
const FUZZ_LIMITS: ParserLimits = ParserLimits {
    max_control_line: 256,
    max_payload: 4096,
};

fn parse_pieces(pieces: &[&[u8]]) -> (Vec<ClientOp>, Option<ProtoError>) {
    let mut parser = ClientParser::new(FUZZ_LIMITS);
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match parser.decode(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => break,
                Err(error) => return (ops, Some(error)),
            }
        }
    }
    (ops, None)
}
