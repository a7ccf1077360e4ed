//! The signals nats-server handles, installed before the server says it
//! is ready: SIGINT and SIGTERM stop it, SIGUSR2 puts it in lame-duck
//! mode, SIGUSR1 reopens the log file, SIGHUP asks for a configuration
//! reload (not supported yet: refused with a log line, the process keeps
//! running on its configuration).

use std::sync::Arc;

use starling_server::Server;
use tokio::signal::unix::{Signal, SignalKind, signal};

use starling_server::log_file::LogFile;

pub(crate) struct Signals {
    interrupt: Signal,
    terminate: Signal,
    user1: Signal,
    user2: Signal,
    hangup: Signal,
}

impl Signals {
    pub(crate) fn install() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            user1: signal(SignalKind::user_defined1())?,
            user2: signal(SignalKind::user_defined2())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Serves `server` until it has shut down: at once on SIGINT or
    /// SIGTERM (lame-duck mode included), after lame-duck mode on SIGUSR2.
    pub(crate) async fn serve(mut self, server: &Server, log_file: Option<Arc<LogFile>>) {
        let mut lame_duck = None;
        loop {
            tokio::select! {
                _ = self.interrupt.recv() => {
                    tracing::info!("Trapped \"interrupt\" signal");
                    break;
                }
                _ = self.terminate.recv() => {
                    tracing::info!("Trapped \"terminated\" signal");
                    break;
                }
                _ = self.user2.recv(), if lame_duck.is_none() => {
                    tracing::info!("Trapped \"user defined signal 2\" signal");
                    lame_duck = Some(Box::pin(server.lame_duck()));
                }
                () = async { lame_duck.as_mut().expect("guarded").await }, if lame_duck.is_some() => {
                    return;
                }
                _ = self.user1.recv() => {
                    tracing::info!("Trapped \"user defined signal 1\" signal");
                    reopen(log_file.as_deref());
                }
                _ = self.hangup.recv() => {
                    tracing::info!("Trapped \"hangup\" signal");
                    tracing::error!(
                        "Failed to reload server configuration: configuration reload is not supported yet; the configuration is unchanged"
                    );
                }
            }
        }
        server.shutdown().await;
    }
}

/// nats-server's `ReOpenLogFile`, with its lines.
fn reopen(log_file: Option<&LogFile>) {
    match log_file {
        None => tracing::info!("File log re-open ignored, not a file logger"),
        Some(file) => match file.reopen() {
            Ok(()) => tracing::info!("File log re-opened"),
            Err(error) => tracing::error!("Failed to re-open the log file: {error}"),
        },
    }
}
