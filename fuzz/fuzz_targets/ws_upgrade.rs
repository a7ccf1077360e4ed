//! Fuzzes the HTTP upgrade handshake: a decision or a refusal with an HTTP
//! reply, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_ws::fuzzing::check_upgrade;

fuzz_target!(|data: &[u8]| check_upgrade(data));
