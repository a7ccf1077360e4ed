//! `cargo xtask`: the project's automation, written in Rust.
//!
//! - `cargo xtask bench`: throughput and latency of the built broker, side
//!   by side with nats-server when it is installed.
//! - `cargo xtask ci`: every check CI runs, in CI's order.
//! - `cargo xtask conformance`: the release broker against real clients
//!   (Rust, Python, Node.js, Chromium) and against nats-server.
//! - `cargo xtask tidy`: the repository rules (also run by `cargo test`).
//!
//! xtask depends on no product crate: it drives the built binary.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on stdout and stderr"
)]

mod bench;
mod broker;
mod ci;
mod conformance;
/// The raw-protocol sessions and upgrade requests, shared with the tests
/// package (which replays them in `tests/tests/raw_protocol.rs`).
#[allow(
    unreachable_pub,
    dead_code,
    reason = "a file of the tests package, included by path"
)]
#[path = "../../tests/src/sessions.rs"]
mod sessions;
mod tidy;
mod wsclient;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: cargo xtask <command> [options]

Commands:
    bench [--rounds N] [--scale F] [--only NAME] [--with NAME=PATH]
                 Throughput and latency against the release binary, and
                 against nats-server when it is on PATH
    ci           fmt, clippy, doc, test, deny, fuzz, conformance: what CI runs
    conformance [--suite NAME]... [--list]
                 The release broker against async-nats, nats-py, nats.js,
                 nats.ws in headless Chromium, and (differential) nats-server
    tidy         Repository rules (crate graph, module docs, file names)
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("bench") => bench::run(args.collect()),
        Some("ci") => ci::run(),
        Some("conformance") => conformance::run(args.collect()),
        Some("tidy") => tidy::check_all(&workspace_root()).map(|()| println!("tidy: ok")),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
