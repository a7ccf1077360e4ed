//! Every input, split at every byte boundary (and fed one byte at a time),
//! must give the same operations and the same error as one read.

use bytes::BytesMut;
use starling_proto::{ClientOp, ClientParser, ParserLimits, ProtoError};

const INPUTS: &[&[u8]] = &[
    b"CONNECT {\"verbose\":false,\"headers\":true}\r\nPING\r\n",
    b"PUB foo 5\r\nhello\r\nPUB foo bar 0\r\n\r\n",
    b"pub \t\tfoo\t  5  \r\nhello\r\nPING\n",
    b"HPUB foo reply.x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
    b"HPUB foo 0 2\r\nhi\r\n",
    b"SUB foo 1\r\nSUB\t foo \t q 2\r\nUNSUB 1\r\nUNSUB 2 10\r\n",
    b"PINGxyz\r\nPONG whatever\r\n+OK\r\nINFO {}\r\n",
    b"PUB foo 4\r\n\r\n\r\n\r\nPING\r\n",
    b"-ERR 'bad'\r\n",
    b"PUB foo 3\r\nhello\r\n",
    b"PUB foo 2\r\nhi\nPING\r\n",
    b"FOO bar\r\n",
    b"PING\r\n PING\r\n",
    b"MSG foo 1 2\r\nhi\r\n",
    b"UNSUB\r\n",
    b"PUB foo 2000\r\n",
    b"PUB foo abc\r\n",
    b"SUB a b c d\r\n",
    b"HPUB foo 5 2\r\n",
    b"SUB aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1\r\n",
    b"CONNECT {\"name\":\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\"}\r\n",
];

fn limits() -> ParserLimits {
    ParserLimits {
        max_control_line: 64,
        max_payload: 1024,
    }
}

fn parse_in_pieces(pieces: &[&[u8]]) -> (Vec<ClientOp>, Option<ProtoError>) {
    let mut parser = ClientParser::new(limits());
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match parser.decode(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => break,
                Err(e) => return (ops, Some(e)),
            }
        }
    }
    (ops, None)
}

#[test]
fn split_at_every_byte_gives_the_same_result() {
    for input in INPUTS {
        let whole = parse_in_pieces(&[input]);
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(
                parse_in_pieces(&[a, b]),
                whole,
                "{:?} split at {at}",
                String::from_utf8_lossy(input)
            );
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            parse_in_pieces(&bytes),
            whole,
            "{:?} byte by byte",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn the_corpus_covers_good_and_bad_input() {
    let outcomes: Vec<_> = INPUTS.iter().map(|i| parse_in_pieces(&[i]).1).collect();
    assert!(outcomes.iter().any(Option::is_none));
    for expected in [
        ProtoError::UnknownOperation,
        ProtoError::MissingPayloadTerminator,
        ProtoError::MaxPayloadExceeded,
        ProtoError::MaxControlLineExceeded,
        ProtoError::BadSize("PUB"),
        ProtoError::WrongArgumentCount("SUB"),
        ProtoError::HeaderSizeExceedsTotal,
    ] {
        assert!(
            outcomes.contains(&Some(expected)),
            "{expected:?} not covered"
        );
    }
}
