//! Fuzzes the websocket frame decoder (compression negotiated): whole or
//! split input gives the same result, output stays bounded, no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_ws::fuzzing::check_frames;

fuzz_target!(|data: &[u8]| check_frames(data));
