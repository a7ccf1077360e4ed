//! Fuzzes the leaf-node and route protocol parser (`LS+`, `LS-`, `LMSG`,
//! `HMSG`, `RS+`, `RMSG`...):
//! any bytes, whole or split at any point, must give the same operations
//! or the same error, and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_proto::fuzzing::check_leaf_parser;

fuzz_target!(|data: &[u8]| check_leaf_parser(data));
