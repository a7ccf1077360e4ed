//! Broker processes for xtask jobs: a server binary (Starling's release
//! build, or nats-server) started from a config file on loopback ports,
//! restartable on the same ports, killed on drop.
//!
//! Bench and conformance both start servers this way, so nats-server and
//! Starling always run from the same configuration text.

use std::fs::{File, OpenOptions};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server has to start listening.
const START_LIMIT: Duration = Duration::from_secs(10);

/// A free loopback port (free when asked; the server binds it next).
pub(crate) fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// A loopback address on `port`.
pub(crate) fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A running server process.
pub(crate) struct Broker {
    program: PathBuf,
    config: PathBuf,
    args: Vec<String>,
    listens_on: Vec<SocketAddr>,
    log: Option<PathBuf>,
    child: Option<Child>,
}

impl Broker {
    /// Writes `text` to `config`, starts `program -c config args...`, and
    /// waits until every address in `listens_on` accepts connections.
    /// With `log`, the server's output is appended there (else discarded).
    pub(crate) fn start(
        program: &Path,
        config: PathBuf,
        text: &str,
        args: &[&str],
        listens_on: Vec<SocketAddr>,
        log: Option<PathBuf>,
    ) -> Result<Self, String> {
        std::fs::write(&config, text)
            .map_err(|e| format!("can't write {}: {e}", config.display()))?;
        let mut broker = Self {
            program: program.to_path_buf(),
            config,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            listens_on,
            log,
            child: None,
        };
        broker.spawn()?;
        Ok(broker)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let output = |log: &Option<PathBuf>| -> Result<Stdio, String> {
            match log {
                Some(path) => open_log(path).map(Stdio::from),
                None => Ok(Stdio::null()),
            }
        };
        let child = Command::new(&self.program)
            .arg("-c")
            .arg(&self.config)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(output(&self.log)?)
            .stderr(output(&self.log)?)
            .spawn()
            .map_err(|e| format!("can't start {}: {e}", self.program.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_LIMIT;
        for addr in &self.listens_on {
            while TcpStream::connect(addr).is_err() {
                if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                    return Err(format!(
                        "{} -c {} exited ({status}) before listening on {addr}",
                        self.program.display(),
                        self.config.display()
                    ));
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "{} did not listen on {addr} within {START_LIMIT:?}",
                        self.program.display()
                    ));
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// The running process's id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process and waits for it.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process and starts it again with the same configuration.
    pub(crate) fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.spawn()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn open_log(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("can't open {}: {e}", path.display()))
}
