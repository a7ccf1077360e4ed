//! Leaf remotes that trust the system's roots, as nats-server's do when a
//! remote has no `ca_file`: the binary, with `SSL_CERT_FILE` naming the
//! roots it reads (set per process, which an in-process test cannot do).
//! The hub is a Starling binary with a certificate of the test CA in
//! `tests/certs/` (made with openssl for 20 years) on its leafnode port;
//! every wait is for a line the servers log.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_starling");
/// How long a logged line may take to come.
const WAIT: Duration = Duration::from_secs(20);

/// A running binary and the lines it logs.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
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
    fn start(name: &str, config: &str, roots: Option<&Path>) -> Self {
        let dir = std::env::temp_dir().join(format!("starling-leaf-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(format!("{name}.conf"));
        std::fs::write(&path, config).expect("config written");
        let mut command = Command::new(BIN);
        command
            .args(["-c", path.to_str().expect("UTF-8 path")])
            .args(["-a", "127.0.0.1", "-p", "-1", "-n", name])
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

    /// Waits for a line containing `text` logged after the last line an
    /// earlier wait matched, and returns it.
    fn until(&mut self, text: &str) -> String {
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

fn test_cert(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/certs")
        .join(file)
}

#[test]
fn remotes_without_a_ca_file_trust_the_system_roots() {
    let (ca, cert, key) = (
        test_cert("ca.pem"),
        test_cert("hub-cert.pem"),
        test_cert("hub-key.pem"),
    );
    let mut hub = Running::start(
        "HUB",
        &format!(
            "leafnodes {{ host: 127.0.0.1, port: -1, tls {{ cert_file: {cert:?}, key_file: {key:?} }} }}\n"
        ),
        None,
    );
    let listening = hub.until("Listening for leafnode connections on ");
    let (_, address) = listening
        .split_once("Listening for leafnode connections on ")
        .expect("address");
    let port = address.rsplit(':').next().expect("port").trim().to_owned();
    let remote = |url: &str, tls: &str| {
        format!("leafnodes {{ remotes [ {{ url: \"{url}://127.0.0.1:{port}\"{tls} }} ] }}\n")
    };

    // The hub's CA among the system's roots: a tls:// URL, a
    // tls block without ca_file, and a nats:// URL to a hub that asks for
    // TLS all verify it.
    for (name, config) in [
        ("TLSURL", remote("tls", "")),
        ("TLSBLOCK", remote("nats", ", tls { timeout: 3 }")),
        ("HUBASKS", remote("nats", "")),
    ] {
        let mut spoke = Running::start(name, &config, Some(&ca));
        spoke.until("Connected leafnode to ");
        hub.until(&format!(
            "Leafnode connection created for account: \"$G\" (remote \"{name}\")"
        ));
    }

    // With the usual roots, which do not hold it: the handshake fails...
    let mut spoke = Running::start("UNTRUSTED", &remote("tls", ""), None);
    let failed = spoke.until("TLS handshake error");
    assert!(failed.contains("certificate"), "{failed}");
    // ...unless the remote says `insecure: true`, with nats-server's warning.
    let mut spoke = Running::start("INSECURE", &remote("tls", ", tls { insecure: true }"), None);
    assert!(
        spoke
            .log
            .iter()
            .any(|line| line.contains("will not be verified. DO NOT USE IN PRODUCTION!")),
        "{}",
        spoke.log.join("\n")
    );
    spoke.until("Connected leafnode to ");
    hub.until("(remote \"INSECURE\")");
}
