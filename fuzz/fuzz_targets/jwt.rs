//! Fuzzes the NATS JWT decoder (both versions), the decorated-JWT and
//! creds readers and the LDAP DN reader of `verify_and_map`: an answer or
//! a refusal, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_auth::fuzzing::check_jwt;

fuzz_target!(|data: &[u8]| check_jwt(data));
