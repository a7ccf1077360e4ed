//! Fuzzes the router: a byte string read as subscribe, unsubscribe and
//! lookup operations, each lookup checked against naive matching.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_router::fuzzing::check_router_ops;

fuzz_target!(|data: &[u8]| check_router_ops(data));
