//! The `starling` binary: parses nats-server's flags, reads the
//! configuration file, sets up logging, runs the server until SIGINT or
//! SIGTERM, and exits with nats-server's codes.
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

use std::path::Path;
use std::process::ExitCode;

use flags::{Command, Flags};
use starling_server::{ConfigOptions, Server};

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
    let options = match load_options(&flags) {
        Ok(options) => options,
        Err(errors) => {
            for error in errors {
                eprintln!("starling: {error}");
            }
            return ExitCode::FAILURE;
        }
    };
    if flags.check {
        for warning in &options.warnings {
            eprintln!("starling: warning: {warning}");
        }
        let file = flags
            .config
            .as_deref()
            .map_or_else(String::new, |p| p.display().to_string());
        println!("starling: configuration file {file} is valid");
        return ExitCode::SUCCESS;
    }
    if let Err(message) = log::init(&options.log) {
        eprintln!("starling: {message}");
        return ExitCode::FAILURE;
    }
    for warning in &options.warnings {
        tracing::warn!("{warning}");
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
    let pid_file = options.log.pid_file.clone();
    if let Some(path) = &pid_file
        && let Err(error) = std::fs::write(path, std::process::id().to_string())
    {
        eprintln!(
            "starling: can't write the pid file {}: {error}",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    let code = runtime.block_on(run(options));
    if let Some(path) = &pid_file {
        let _ = std::fs::remove_file(path);
    }
    code
}

/// The configuration file (if any) with the flags laid over it, validated.
fn load_options(flags: &Flags) -> Result<ConfigOptions, Vec<String>> {
    let mut options = match &flags.config {
        Some(path) => read_config(path)?,
        None => ConfigOptions::default(),
    };
    flags.apply(&mut options);
    options.server.validate().map_err(|e| vec![e.to_string()])?;
    Ok(options)
}

fn read_config(path: &Path) -> Result<ConfigOptions, Vec<String>> {
    let root = starling_conf::parse_file(path).map_err(|e| vec![e.to_string()])?;
    starling_server::options_from_config(&root)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

async fn run(options: ConfigOptions) -> ExitCode {
    let server = match Server::start(options.server).await {
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
