//! Fuzzes the permessage-deflate inflater: bounded output or a refusal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_ws::fuzzing::check_inflate;

fuzz_target!(|data: &[u8]| check_inflate(data));
