//! The ports file (`ports_file_dir`): `<executable>_<pid>.ports` with the
//! listeners' URLs as JSON, written once the server listens and removed
//! at exit, with nats-server's log lines when either fails.

use std::path::{Path, PathBuf};

use starling_server::Server;

/// Writes the file into `dir`; its path, to remove at exit.
pub(crate) fn write(dir: &Path, server: &Server) -> Option<PathBuf> {
    let exe = std::env::args()
        .next()
        .and_then(|arg0| {
            Path::new(&arg0)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "starling".to_owned());
    let path = dir.join(format!("{exe}_{}.ports", std::process::id()));
    let json = server.ports().to_json();
    match std::fs::write(&path, json) {
        Ok(()) => Some(path),
        Err(error) => {
            tracing::error!("Error writing ports file ({}): {error}", path.display());
            None
        }
    }
}

/// Removes the file written at start.
pub(crate) fn remove(path: &Path) {
    if let Err(error) = std::fs::remove_file(path) {
        tracing::error!("Error cleaning up ports file {}: {error}", path.display());
    }
}
