//! nats-server's ports file (`ports_file_dir`, `--ports_file_dir`): where
//! each listener can be reached, as URLs, so a supervisor that started the
//! server on random ports (`-p -1`) can find them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Server;

/// The listeners' URLs, as nats-server's `Ports` (empty lists left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ports {
    /// The client port: `nats://` (`tls://` with a TLS block).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nats: Vec<String>,
    /// The monitoring port: `http://` or `https://`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub monitoring: Vec<String>,
    /// The cluster port: `nats://` (`tls://` with a TLS block).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cluster: Vec<String>,
    /// The websocket port: `ws://` or `wss://`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub websocket: Vec<String>,
}

impl Ports {
    /// As the ports file holds it (nats-server's JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Writes `<executable>_<pid>.ports` into `dir` (the executable's name
    /// from `argv[0]`, as nats-server's); its path, to remove at exit, or
    /// `None` after logging nats-server's line.
    pub fn write_file(&self, dir: &Path) -> Option<PathBuf> {
        let exe = std::env::args()
            .next()
            .as_deref()
            .and_then(|arg0| Path::new(arg0).file_name())
            .map_or_else(
                || "starling".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            );
        let path = dir.join(format!("{exe}_{}.ports", std::process::id()));
        match std::fs::write(&path, self.to_json()) {
            Ok(()) => Some(path),
            Err(error) => {
                tracing::error!("Error writing ports file ({}): {error}", path.display());
                None
            }
        }
    }

    /// Removes a file [`write_file`](Self::write_file) wrote.
    pub fn remove_file(path: &Path) {
        if let Err(error) = std::fs::remove_file(path) {
            tracing::error!("Error cleaning up ports file {}: {error}", path.display());
        }
    }
}

impl Server {
    /// Where each listener can be reached (a listener on an unspecified
    /// address once per address of the machine's interfaces of its
    /// family, loopback included, as nats-server lists them).
    pub fn ports(&self) -> Ports {
        let options = &self.broker().options;
        let scheme = |tls: bool, plain: &'static str, secure: &'static str| {
            if tls { secure } else { plain }
        };
        let monitor_https = options.monitor.port().is_some_and(|(_, https)| https);
        let cluster_tls = options.cluster.as_ref().is_some_and(|c| c.tls.is_some());
        let websocket_tls = options.websocket.as_ref().is_some_and(|ws| !ws.no_tls);
        Ports {
            nats: urls(
                scheme(options.tls.is_some(), "nats", "tls"),
                Some(self.client_addr()),
            ),
            monitoring: urls(scheme(monitor_https, "http", "https"), self.monitor_addr()),
            cluster: urls(scheme(cluster_tls, "nats", "tls"), self.route_addr()),
            websocket: urls(scheme(websocket_tls, "ws", "wss"), self.websocket_addr()),
        }
    }
}

fn urls(scheme: &str, addr: Option<SocketAddr>) -> Vec<String> {
    let Some(addr) = addr else {
        return Vec::new();
    };
    let addrs: Vec<SocketAddr> = if addr.ip().is_unspecified() {
        if_addrs::get_if_addrs()
            .unwrap_or_default()
            .iter()
            .map(if_addrs::Interface::ip)
            .filter(|ip| ip.is_ipv4() == addr.is_ipv4())
            .map(|ip| SocketAddr::new(ip, addr.port()))
            .collect()
    } else {
        vec![addr]
    };
    addrs
        .into_iter()
        .map(|addr| format!("{scheme}://{addr}"))
        .collect()
}
