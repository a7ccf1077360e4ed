//! Fuzzes the client protocol parser: any bytes, whole or split at any
//! point, must give the same operations or the same error, and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_proto::fuzzing::check_parser;

fuzz_target!(|data: &[u8]| check_parser(data));
