//! Fuzzes subject transforms and the subset rule of exports and imports
//! against plain matching.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_subject::fuzzing::check_transform;

fuzz_target!(|data: &[u8]| check_transform(data));
