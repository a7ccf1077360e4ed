//! What the tests that run the binary share: a running `starling` and the
//! lines it logs (every wait is for a logged line), and the test
//! certificates of `tests/certs/` (made with openssl for 20 years: a CA
//! and a server certificate for the leaf tests, another CA and a member
//! certificate for server and client use for the route tests).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_starling");
/// How long a logged line may take to come.
const WAIT: Duration = Duration::from_secs(20);

/// A running binary and the lines it logs.
pub(crate) struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub(crate) log: Vec<String>,
    /// Lines before this one were looked at by an earlier wait.
    seen: usize,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    #[allow(dead_code, reason = "a test binary may start with flags only")]
    pub(crate) fn start(name: &str, config: &str, roots: Option<&Path>) -> Self {
        Self::start_with(name, config, roots, &[])
    }

    /// [`start`](Self::start) with more flags.
    pub(crate) fn start_with(
        name: &str,
        config: &str,
        roots: Option<&Path>,
        flags: &[&str],
    ) -> Self {
        let dir = std::env::temp_dir().join(format!("starling-binary-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(format!("{name}.conf"));
        std::fs::write(&path, config).expect("config written");
        let mut command = Command::new(BIN);
        command
            .args(["-c", path.to_str().expect("UTF-8 path")])
            .args(["-a", "127.0.0.1", "-p", "-1", "-n", name])
            .args(flags)
            .env_remove("SSL_CERT_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match roots {
            Some(file) => command.env("SSL_CERT_FILE", file),
            None => command.env_remove("SSL_CERT_FILE"),
        };
        let mut child = command.spawn().expect("binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running = Self {
            child,
            lines,
            log: Vec::new(),
            seen: 0,
        };
        running.until("Server is ready");
        // What it logged while starting stays for the next waits.
        running.seen = 0;
        running
    }

    /// The process id (for signals).
    #[allow(dead_code, reason = "not every test binary signals")]
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit; whether it exited with success.
    #[allow(dead_code, reason = "not every test binary waits for an exit")]
    pub(crate) fn exits_cleanly(&mut self) -> bool {
        self.child.wait().is_ok_and(|status| status.success())
    }

    /// Waits for a line containing `text` logged after the last line an
    /// earlier wait matched, and returns it.
    pub(crate) fn until(&mut self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(at) = self.log[self.seen..].iter().position(|l| l.contains(text)) {
                self.seen += at + 1;
                return self.log[self.seen - 1].clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.log.push(line),
                Err(_) => panic!("no line with {text:?} in:\n{}", self.log.join("\n")),
            }
        }
    }
}

#[allow(dead_code, reason = "not every test binary uses certificates")]
pub(crate) fn test_cert(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/certs")
        .join(file)
}
