//! A real nats-server on loopback for the differential tests (killed on
//! drop), when one is installed.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free loopback port for a server to bind a moment later. Taken below
/// the kernel's ephemeral range (32768 and up on Linux), where outgoing
/// connections take their local ports, so none of the test's own
/// connections can take it meanwhile; each call in a process gets another
/// port (a counter from an offset of the process id), checked free.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = FIRST + (offset + n) % SPAN;
        let port = u16::try_from(port).expect("below 32000");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// A running nats-server.
pub struct NatsServer {
    child: Child,
    /// Its client port.
    pub addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl NatsServer {
    /// True when `nats-server` is on the PATH.
    pub fn installed() -> bool {
        Command::new("nats-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// The process id (for signals: `USR2` is lame-duck mode).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes `config` over its configuration file and sends SIGHUP (a
    /// reload); the caller waits on what the reload changes.
    pub fn reload(&self, config: &str) {
        std::fs::write(self.dir.join("server.conf"), config).expect("config written");
        let signalled = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(signalled.success(), "SIGHUP sent");
    }

    /// `nats-server -a 127.0.0.1 -p <free port> -c <config>`, returned once
    /// its client port accepts connections, or, when `wait_for` names
    /// addresses, once those do (a probe of the client port is a
    /// connection nats-server counts and remembers).
    pub async fn start(config: &str, wait_for: &[SocketAddr]) -> Self {
        Self::start_with(config, free_port(), wait_for).await
    }

    /// [`start`](Self::start) on a given client port (a server restarted
    /// where its clients and peers expect it), ready when that port is.
    pub async fn start_on(config: &str, port: u16) -> Self {
        Self::start_with(config, port, &[]).await
    }

    async fn start_with(config: &str, port: u16, wait_for: &[SocketAddr]) -> Self {
        let dir = std::env::temp_dir().join(format!("starling-nats-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("server.conf");
        std::fs::write(&file, config).expect("config written");
        let log = std::fs::File::create(dir.join("server.log")).expect("log file");
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-c"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut server = Self { child, addr, dir };
        let targets = if wait_for.is_empty() {
            vec![addr]
        } else {
            wait_for.to_vec()
        };
        for target in targets {
            let mut ready = false;
            for _ in 0..200 {
                if tokio::net::TcpStream::connect(target).await.is_ok() {
                    ready = true;
                    break;
                }
                if let Ok(Some(status)) = server.child.try_wait() {
                    let log =
                        std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default();
                    panic!(
                        "nats-server exited ({status}) before listening on {target}:\n{log}\n{config}"
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(ready, "nats-server did not listen on {target} within 10 s");
        }
        server
    }
}
