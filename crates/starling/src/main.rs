//! The `starling` binary: parses nats-server's flags, reads the
//! configuration file, sets up logging, runs the server until SIGINT or
//! SIGTERM (with nats-server's other signals, `signals.rs`), and exits
//! with nats-server's codes.
//!
//! Flags are parsed by `starling_server::flags` as Go's `flag` package
//! parses nats-server's: `-p 4222`, `-p=4222`, `--port 4222` and
//! `-port 4222` are all the same flag, and `-DV` is one flag, not two.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program talks on stdout and stderr"
)]

mod log;
mod signals;

use std::process::ExitCode;

use signals::Signals;
use starling_conf::Value;
use starling_server::flags::{self, Command};
use starling_server::{ConfigOptions, Server, describe};

fn main() -> ExitCode {
    let flags = match flags::parse(std::env::args().skip(1)) {
        Ok(Command::Run(flags)) => flags,
        Ok(Command::Signal(signal)) => {
            return match starling_server::signal::send(&signal) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("starling: {message}");
                    ExitCode::FAILURE
                }
            };
        }
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
    let (options, root) = match flags.load() {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in errors {
                eprintln!("starling: {error}");
            }
            return ExitCode::FAILURE;
        }
    };
    if flags.check {
        // What start-up would find too: TLS files that can't be used.
        if let Err(error) = Server::check(&options.server) {
            eprintln!("starling: {}", describe(&error, root.as_ref()));
            return ExitCode::FAILURE;
        }
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
    let logging = match log::init(&options.log) {
        Ok(logging) => logging,
        Err(message) => {
            eprintln!("starling: {message}");
            return ExitCode::FAILURE;
        }
    };
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
    if let Err(message) = logging.files.write_pid(&options.log) {
        eprintln!("starling: {message}");
        return ExitCode::FAILURE;
    }
    let code = runtime.block_on(run(options, root, &logging, &flags));
    logging.files.remove();
    // The last lines (the shutdown's) reach a syslog daemon before exit.
    logging.sink.flush(std::time::Duration::from_secs(1));
    code
}

async fn run(
    options: ConfigOptions,
    root: Option<Value>,
    logging: &log::Logging,
    flags: &flags::Flags,
) -> ExitCode {
    // Handlers first: once "Server is ready" is logged, a signal always
    // means what it says.
    let signals = match Signals::install() {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("starling: can't listen for signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let server = match Server::start(options.server).await {
        Ok(server) => server,
        Err(error) => {
            let message = describe(&error, root.as_ref());
            tracing::error!("{message}");
            eprintln!("starling: {message}");
            return ExitCode::FAILURE;
        }
    };
    tokio::task::block_in_place(|| logging.files.write_ports(&options.log, &server.ports()));
    tracing::info!("Server is ready");
    signals.serve(&server, logging, flags).await;
    ExitCode::SUCCESS
}
