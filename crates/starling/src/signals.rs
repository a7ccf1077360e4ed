//! The signals nats-server handles, installed before the server says it
//! is ready: SIGINT and SIGTERM stop it, SIGUSR2 puts it in lame-duck
//! mode, SIGUSR1 reopens the log file, SIGHUP reloads the configuration
//! (a refused reload is logged; the process runs on as it was).

use starling_server::Server;
use starling_server::flags::Flags;
use starling_server::log_file::LogFile;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::log::Logging;

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
    pub(crate) async fn serve(mut self, server: &Server, logging: &Logging, flags: &Flags) {
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
                    LogFile::reopen_logged(logging.sink.file().as_deref());
                }
                _ = self.hangup.recv() => {
                    tracing::info!("Trapped \"hangup\" signal");
                    if let Err(error) = reload(server, logging, flags).await {
                        tracing::error!("Failed to reload server configuration: {error}");
                    }
                }
            }
        }
        server.shutdown().await;
    }
}

/// Reads the configuration file again with the same flags over it and
/// applies it, or none of it.
async fn reload(server: &Server, logging: &Logging, flags: &Flags) -> Result<(), String> {
    let flags = flags.clone();
    let loaded = tokio::task::spawn_blocking(move || flags.reload()).await;
    let options = loaded.map_err(|e| e.to_string())??;
    // A log target that cannot be opened refuses the whole reload.
    let target = logging.open_target(&options.log).await?;
    server
        .reload(options.server)
        .await
        .map_err(|e| e.to_string())?;
    logging.reload(&options.log, target)?;
    // Small file writes, kept off the other tasks' worker all the same.
    tokio::task::block_in_place(|| {
        logging.files.write_pid(&options.log)?;
        logging.files.write_ports(&options.log, &server.ports());
        Ok::<(), String>(())
    })?;
    tracing::info!("Reloaded server configuration");
    Ok(())
}
