//! The `starling` binary: parses nats-server's flags, sets up logging, runs
//! the server until SIGINT or SIGTERM, and exits with nats-server's codes.
//!
//! Flags are parsed by hand because nats-server uses Go's `flag` package:
//! `-p 4222`, `-p=4222`, `--port 4222` and `-port 4222` are all the same flag,
//! and `-DV` is one flag, not two.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program talks on stdout and stderr"
)]

mod flags;
mod log;

use std::process::ExitCode;

use flags::{Command, Flags};
use starling_server::Server;

fn main() -> ExitCode {
    let flags = match flags::parse(std::env::args().skip(1)) {
        Ok(Command::Run(flags)) => flags,
        Ok(Command::Help) => {
            print!("{}", flags::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!(
                "starling: v{} (nats-server protocol v{})",
                starling_server::STARLING_VERSION,
                starling_server::NATS_VERSION
            );
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("starling: {message}");
            eprint!("{}", flags::USAGE);
            return ExitCode::from(2);
        }
    };
    if let Err(message) = log::init(&flags) {
        eprintln!("starling: {message}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("starling: can't start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(flags))
}

async fn run(flags: Flags) -> ExitCode {
    let server = match Server::start(flags.options).await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("starling: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = wait_for_signal().await {
        tracing::error!("can't listen for signals: {error}");
    }
    server.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = interrupt.recv() => tracing::info!("Trapped \"interrupt\" signal"),
        _ = terminate.recv() => tracing::info!("Trapped \"terminated\" signal"),
    }
    Ok(())
}
