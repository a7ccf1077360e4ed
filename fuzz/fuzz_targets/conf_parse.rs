//! Fuzzes the configuration parser: any bytes give a value or an error
//! with a plausible place, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_conf::fuzzing::check_conf;

fuzz_target!(|data: &[u8]| check_conf(data));
