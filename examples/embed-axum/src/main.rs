//! `embed-axum`: an axum application with Starling inside.
//!
//!     embed-axum [-c server.conf] [--http 127.0.0.1:8080]
//!
//! The broker starts from the configuration file (nats-server's language;
//! its own client port too), and the application serves NATS over
//! websocket on `http://ADDR/nats` (permessage-deflate when the client
//! offers it). SIGINT or SIGTERM stop both.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program talks on stdout and stderr"
)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use starling_server::{Server, ServerOptions};
use starling_ws::handshake::HandshakePolicy;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("embed-axum: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let options = match flag("-c") {
        Some(path) => {
            let root = starling_conf::parse_file(&path).map_err(|e| e.to_string())?;
            starling_server::options_from_config(&root)
                .map_err(|errors| {
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                })?
                .server
        }
        None => ServerOptions::default(),
    };
    let http = flag("--http").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let server = Arc::new(Server::start(options).await.map_err(|e| e.to_string())?);
    let listener = tokio::net::TcpListener::bind(&http)
        .await
        .map_err(|e| format!("can't listen on {http}: {e}"))?;
    let policy = HandshakePolicy {
        compression: true,
        ..HandshakePolicy::default()
    };
    let app = embed_axum::router(Arc::clone(&server), policy);
    println!(
        "embed-axum: NATS on nats://{} and ws://{}/nats",
        server.client_addr(),
        listener.local_addr().map_err(|e| e.to_string())?
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stopped())
    .await
    .map_err(|e| e.to_string())?;
    server.shutdown().await;
    Ok(())
}

/// SIGINT or SIGTERM.
async fn stopped() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}
