//! Fuzzes the readers of authentication, accounts, exports and imports on
//! top of the configuration parser: a config or located errors, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_auth::fuzzing::check_auth_config;

fuzz_target!(|data: &[u8]| check_auth_config(data));
