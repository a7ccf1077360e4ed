//! The `starling` binary: parses nats-server's flags, reads the
//! configuration file, sets up logging, runs the server until SIGINT or
//! SIGTERM, enters lame-duck mode on SIGUSR2, and exits with
//! nats-server's codes.
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
mod ports_file;

use std::process::ExitCode;

use starling_conf::Value;
use starling_server::flags::{self, Command, Flags};
use starling_server::{ConfigOptions, Server, describe, read_config_file};

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
    let (options, root) = match load_options(&flags) {
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
    let code = runtime.block_on(run(options, root));
    if let Some(path) = &pid_file {
        let _ = std::fs::remove_file(path);
    }
    code
}

/// The configuration file (if any, with its tree, to place errors in it)
/// with the flags laid over it, validated.
fn load_options(flags: &Flags) -> Result<(ConfigOptions, Option<Value>), Vec<String>> {
    let (mut options, root) = match &flags.config {
        Some(path) => {
            let (options, root) = read_config_file(path)?;
            (options, Some(root))
        }
        None => (ConfigOptions::default(), None),
    };
    flags.apply(&mut options).map_err(|e| vec![e])?;
    options
        .server
        .validate()
        .map_err(|e| vec![describe(&e, root.as_ref())])?;
    Ok((options, root))
}

async fn run(options: ConfigOptions, root: Option<Value>) -> ExitCode {
    // Handlers first: once "Server is ready" is logged, a signal always
    // means a clean shutdown.
    let (signals, lame_duck_signal) = match signals() {
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
    let ports_file = options
        .log
        .ports_file_dir
        .as_deref()
        .and_then(|dir| ports_file::write(dir, &server));
    tracing::info!("Server is ready");
    tokio::pin!(signals);
    tokio::select! {
        () = &mut signals => server.shutdown().await,
        () = lame_duck_signal => {
            tracing::info!("Trapped \"user defined signal 2\" signal");
            // A SIGINT or SIGTERM meanwhile still stops at once.
            tokio::select! {
                () = server.lame_duck() => {}
                () = signals => server.shutdown().await,
            }
        }
    }
    if let Some(path) = ports_file {
        ports_file::remove(&path);
    }
    ExitCode::SUCCESS
}

/// Installs the handlers: the first future ends at SIGINT or SIGTERM,
/// the second at SIGUSR2 (lame-duck mode, as nats-server).
fn signals() -> std::io::Result<(impl Future<Output = ()>, impl Future<Output = ()>)> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut user2 = signal(SignalKind::user_defined2())?;
    let stop = async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("Trapped \"interrupt\" signal"),
            _ = terminate.recv() => tracing::info!("Trapped \"terminated\" signal"),
        }
    };
    let lame_duck = async move {
        user2.recv().await;
    };
    Ok((stop, lame_duck))
}
