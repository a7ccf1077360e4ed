//! nats-server's signals and `--signal`: `reopen` (SIGUSR1) reopens the
//! log file, `reload` (SIGHUP) reads the file again (a change it cannot
//! apply is refused without stopping the server),
//! `quit` stops it; a pid, a pid file, or none (the one running process)
//! names it. Every wait is for a logged line.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::Running;

const BIN: &str = env!("CARGO_BIN_EXE_starling");

fn signal(arg: &str) -> Output {
    Command::new(BIN)
        .args(["--signal", arg])
        .output()
        .expect("the binary runs")
}

#[test]
fn signals_by_pid_and_pid_file() {
    let dir = std::env::temp_dir().join(format!("starling-signals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let pid_file = dir.join("server.pid");
    let mut server =
        Running::start_with("SIG", "", None, &["-P", pid_file.to_str().expect("UTF-8")]);
    server.until("Server is ready");
    let pid = server.pid().to_string();

    // reopen: without a log file there is nothing to reopen.
    assert!(signal(&format!("reopen={pid}")).status.success());
    server.until("Trapped \"user defined signal 1\" signal");
    server.until("File log re-open ignored, not a file logger");
    // reload: the same file again.
    let with_file = format!("reload={}", pid_file.display());
    assert!(signal(&with_file).status.success());
    server.until("Trapped \"hangup\" signal");
    server.until("Reloaded server configuration");
    // quit: SIGINT, a clean stop.
    assert!(signal(&format!("quit={pid}")).status.success());
    server.until("Trapped \"interrupt\" signal");
    assert!(server.exits_cleanly());

    for (arg, text) in [
        ("bogus", "unknown signal \"bogus\""),
        ("ldm=abc", "invalid pid: abc"),
        ("ldm=1=2", "invalid signal parameters"),
    ] {
        let output = signal(arg);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(text),
            "{arg}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until the file at `path` holds `text`.
fn until_in(path: &Path, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = std::fs::read_to_string(path).unwrap_or_default();
        if seen.contains(text) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "no {text:?} in {}:\n{seen}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn reopen_starts_a_new_log_file_after_rotation() {
    let dir = std::env::temp_dir().join(format!("starling-reopen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let log = dir.join("server.log");
    let mut child = Command::new(BIN)
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "-l",
            log.to_str().expect("UTF-8"),
        ])
        .spawn()
        .expect("the binary runs");
    until_in(&log, "Server is ready");
    let rotated = dir.join("server.log.1");
    std::fs::rename(&log, &rotated).expect("rotate");
    assert!(signal(&format!("reopen={}", child.id())).status.success());
    let fresh = until_in(&log, "File log re-opened");
    assert!(!fresh.contains("Server is ready"), "a new file: {fresh}");
    assert!(
        until_in(&rotated, "Trapped \"user defined signal 1\" signal").contains("Server is ready")
    );
    assert!(signal(&format!("term={}", child.id())).status.success());
    assert!(child.wait().expect("exits").success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_log_file_rotates_past_its_size_limit() {
    let dir = std::env::temp_dir().join(format!("starling-rotation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let log = dir.join("server.log");
    let mut child = Command::new(BIN)
        .args(["-a", "127.0.0.1", "-p", "-1", "--log_size_limit", "300"])
        .args(["-l", log.to_str().expect("UTF-8")])
        .spawn()
        .expect("the binary runs");
    // The start-up lines pass 300 bytes: a backup, and a new file that
    // says where it went.
    let fresh = until_in(&log, "Rotated log, backup saved as");
    let backup = fresh
        .split("backup saved as \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the backup's name")
        .to_owned();
    assert!(
        std::fs::read_to_string(&backup).is_ok_and(|old| old.contains("Starting starling")),
        "{backup}"
    );
    assert!(signal(&format!("term={}", child.id())).status.success());
    assert!(child.wait().expect("exits").success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_reload_moves_the_log_the_pid_file_and_the_ports_file() {
    let dir = std::env::temp_dir().join(format!("starling-moves-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("server.conf");
    let (first, second) = (dir.join("a.log"), dir.join("b.log"));
    let write = |log: &Path, pid: &str, ports: &str| {
        let text = format!(
            "port: -1\nlog_file: \"{}\"\npid_file: \"{}\"\n{ports}",
            log.display(),
            dir.join(pid).display()
        );
        std::fs::write(&config, text).expect("config written");
    };
    write(&first, "a.pid", "");
    let mut child = Command::new(BIN)
        .args(["-a", "127.0.0.1", "-c", config.to_str().expect("UTF-8")])
        .spawn()
        .expect("the binary runs");
    until_in(&first, "Server is ready");
    let pid = child.id().to_string();
    assert_eq!(
        std::fs::read_to_string(dir.join("a.pid")).ok(),
        Some(pid.clone())
    );
    write(
        &second,
        "b.pid",
        &format!("ports_file_dir: \"{}\"\n", dir.display()),
    );
    assert!(signal(&format!("reload={pid}")).status.success());
    let moved = until_in(&second, "Reloaded server configuration");
    assert!(moved.contains("Reloaded: log_file = "), "{moved}");
    assert!(
        !std::fs::read_to_string(&first)
            .expect("a.log")
            .contains("Reloaded server")
    );
    // nats-server writes the new pid file and leaves the old one.
    assert_eq!(
        std::fs::read_to_string(dir.join("b.pid")).ok(),
        Some(pid.clone())
    );
    let ports = dir.join(format!("starling_{pid}.ports"));
    assert!(std::fs::read_to_string(&ports).is_ok_and(|p| p.contains("nats://")));
    assert!(signal(&format!("term={pid}")).status.success());
    assert!(child.wait().expect("exits").success());
    assert!(
        !ports.exists() && !dir.join("b.pid").exists(),
        "removed at exit"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Connects, says CONNECT and PING, and waits for the PONG.
fn ping(port: u16) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream.write_all(b"CONNECT {}\r\nPING\r\n").expect("write");
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.ends_with(b"PONG\r\n") {
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "closed");
        seen.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn sighup_reloads_the_log_level_and_refuses_what_cannot_change() {
    let mut server = Running::start("RELOAD", "debug: false\n", None);
    let port = server
        .log
        .iter()
        .find(|l| l.contains("Listening for client connections on"))
        .and_then(|l| l.rsplit(':').next()?.trim().parse::<u16>().ok())
        .expect("client port");
    let file = std::env::temp_dir()
        .join(format!("starling-binary-{}", std::process::id()))
        .join("RELOAD.conf");
    let hangup = |server: &Running| {
        let sent = Command::new("kill")
            .args(["-HUP", &server.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    };
    ping(port);
    std::fs::write(&file, "debug: true\n").expect("rewritten");
    hangup(&server);
    server.until("Reloaded server configuration");
    assert!(
        !server.log.iter().any(|l| l.contains("Client connected")),
        "no debug line before the reload"
    );
    // Debug lines now: a client's CONNECT logs one.
    ping(port);
    server.until("[DBG]");
    std::fs::write(&file, "debug: true\nmax_payload: 1024\n").expect("rewritten");
    hangup(&server);
    server.until("Reloaded: max_payload = 1024");
    std::fs::write(&file, "debug: true\nmax_payload: 1024\nmax_subs: 10\n").expect("rewritten");
    hangup(&server);
    let refused = server.until("Failed to reload server configuration");
    assert!(
        refused.contains("config reload not supported for max_subscriptions: old=0, new=10"),
        "{refused}"
    );
    ping(port);
}
