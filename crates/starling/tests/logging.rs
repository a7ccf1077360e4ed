//! Where log lines go and what trace lines say: `remote_syslog` over UDP
//! and TCP in Go's `log/syslog` shape, `max_traced_msg_len` cutting traced
//! payloads as nats-server does, and `trace_verbose` tracing the system
//! account's own client. Every wait is for a line.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Running;

const BIN: &str = env!("CARGO_BIN_EXE_starling");
const WAIT: Duration = Duration::from_secs(20);

/// Starts the binary with `config` and nothing on stderr to wait for.
fn spawn(name: &str, config: &str) -> Child {
    let dir = std::env::temp_dir().join(format!("starling-logging-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, config).expect("config written");
    Command::new(BIN)
        .args(["-c", path.to_str().expect("UTF-8 path")])
        .args(["-a", "127.0.0.1", "-p", "-1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts")
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Checks one syslog line from a remote logger: `<PRI>RFC3339 host tag[pid]: text`.
fn check_remote(line: &str, priority: u8, pid: u32, text: &str) {
    let (head, rest) = line.split_once(": ").expect("a tag");
    assert_eq!(rest.trim_end_matches('\n'), text, "{line:?}");
    assert!(line.ends_with('\n'), "{line:?}");
    let mut parts = head.split(' ');
    let stamp = parts.next().expect("stamp");
    assert!(stamp.starts_with(&format!("<{priority}>20")), "{line:?}");
    assert!(stamp.ends_with('Z') && stamp.contains('T'), "{line:?}");
    assert!(
        parts.next().is_some_and(|host| !host.is_empty()),
        "{line:?}"
    );
    assert_eq!(
        parts.next(),
        Some(format!("starling[{pid}]").as_str()),
        "{line:?}"
    );
}

#[test]
fn remote_syslog_over_udp() {
    let daemon = UdpSocket::bind("127.0.0.1:0").expect("bind");
    daemon.set_read_timeout(Some(WAIT)).expect("timeout");
    let port = daemon.local_addr().expect("addr").port();
    let child = Killed(spawn(
        "UDP",
        &format!("remote_syslog: \"udp://127.0.0.1:{port}\"\nprof_port: 6060\n"),
    ));
    let pid = child.0.id();
    let deadline = Instant::now() + WAIT;
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.contains("Server is ready")) {
        assert!(Instant::now() < deadline, "{lines:?}");
        let mut buf = [0u8; 4096];
        let n = daemon.recv(&mut buf).expect("a datagram");
        lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let ready = lines
        .iter()
        .find(|l| l.contains("Server is ready"))
        .expect("ready");
    // A remote daemon: kern facility, notice severity.
    check_remote(ready, 5, pid, "Server is ready");
    // The warning for prof_port, at warning severity.
    let warning = lines
        .iter()
        .find(|l| l.contains("prof_port"))
        .expect("warning");
    assert!(warning.starts_with("<4>"), "{warning:?}");
    // The shutdown's last line reaches the daemon before the process ends.
    let stopped = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    let mut buf = [0u8; 4096];
    loop {
        let n = daemon.recv(&mut buf).expect("the shutdown's lines");
        if String::from_utf8_lossy(&buf[..n]).contains("Server Exiting..") {
            break;
        }
    }
}

#[test]
fn remote_syslog_over_tcp() {
    let daemon = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = daemon.local_addr().expect("addr").port();
    let child = Killed(spawn(
        "TCP",
        &format!("remote_syslog: \"tcp://127.0.0.1:{port}\"\n"),
    ));
    let (stream, _) = daemon.accept().expect("the server connects");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut lines = BufReader::new(stream).lines();
    let ready = loop {
        let line = lines.next().expect("a line").expect("read");
        if line.contains("Server is ready") {
            break line;
        }
    };
    check_remote(&format!("{ready}\n"), 5, child.0.id(), "Server is ready");
}

#[test]
fn an_unusable_remote_syslog_is_refused_at_start() {
    let dead = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let dir = std::env::temp_dir().join(format!("starling-logging-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, url, text) in [
        (
            "dead",
            format!("tcp://127.0.0.1:{dead}"),
            "error connecting to syslog",
        ),
        (
            "scheme",
            "ftp://x:1".to_owned(),
            "error invalid network type: \"ftp\"",
        ),
    ] {
        let path = dir.join(format!("{name}.conf"));
        std::fs::write(&path, format!("remote_syslog: \"{url}\"\n")).expect("written");
        let out = Command::new(BIN)
            .args(["-c", path.to_str().expect("path"), "-p", "-1"])
            .output()
            .expect("runs");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(text), "{stderr}");
    }
}

/// Sends a CONNECT, a PUB and a PING; returns after the PONG.
fn publish(port: u16, payload: &str) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let pub_line = format!("PUB foo {}\r\n{payload}\r\n", payload.len());
    stream
        .write_all(format!("CONNECT {{}}\r\n{pub_line}PING\r\n").as_bytes())
        .expect("write");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("PONG") {
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
}

/// The client port, from the line logged before "Server is ready".
fn client_port(server: &Running) -> u16 {
    let line = server
        .log
        .iter()
        .find(|l| l.contains("Listening for client connections on"))
        .expect("a listening line");
    line.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .expect("port")
}

#[test]
fn traced_payloads_are_cut_at_max_traced_msg_len() {
    let mut server = Running::start_with("TRACE", "max_traced_msg_len: 5\n", None, &["-V"]);
    let port = client_port(&server);
    publish(port, "hello world");
    server.until("<<- [PUB foo 11]");
    server.until("<<- MSG_PAYLOAD: [\"hello...\"]");
    // Without trace_verbose the system account's client is not traced.
    assert!(
        !server.log.iter().any(|l| l.contains("<<- [SUB $SYS.")),
        "{}",
        server.log.join("\n")
    );
}

#[test]
fn trace_verbose_traces_the_system_client() {
    let mut server = Running::start("VERBOSE", "trace_verbose: true\n", None);
    server.until("<<- [SUB $SYS.");
    let port = client_port(&server);
    publish(port, "hello world");
    server.until("<<- MSG_PAYLOAD: [\"hello world\"]");
}

/// A remote syslog line with its stamp, tag and pid taken out (checked
/// for their shape): what two servers' lines must share.
fn syslog_shape(line: &str) -> String {
    let (head, text) = line.split_once("]: ").expect("a tag and pid");
    let mut parts = head.split(' ');
    let stamp = parts.next().expect("stamp");
    let (priority, stamp) = stamp.split_once('>').expect("a priority");
    // RFC 3339 in UTC, without fractions: 2006-01-02T15:04:05Z.
    assert_eq!(stamp.len(), 20, "{line:?}");
    assert!(
        stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "{line:?}"
    );
    let host = parts.next().expect("host");
    let tag = parts.next().expect("tag[pid");
    assert!(tag.contains('[') && parts.next().is_none(), "{line:?}");
    format!("{priority}> STAMP {host} TAG[PID]: {text}")
}

/// The "Server is ready" datagram a server sends a UDP daemon on `daemon`.
fn ready_datagram(daemon: &UdpSocket) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no ready line");
        let mut buf = [0u8; 4096];
        let n = daemon.recv(&mut buf).expect("a datagram");
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        if line.contains("Server is ready") {
            return line;
        }
    }
}

#[test]
fn remote_syslog_lines_have_nats_servers_shape() {
    let installed = Command::new("nats-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("nats-server is not installed: the syslog comparison is skipped");
        return;
    }
    let daemon = UdpSocket::bind("127.0.0.1:0").expect("bind");
    daemon.set_read_timeout(Some(WAIT)).expect("timeout");
    let config = format!(
        "remote_syslog: \"udp://127.0.0.1:{}\"\n",
        daemon.local_addr().expect("addr").port()
    );
    let ours = {
        let _child = Killed(spawn("SHAPE", &config));
        ready_datagram(&daemon)
    };
    let dir = std::env::temp_dir().join(format!("starling-logging-{}", std::process::id()));
    let path = dir.join("SHAPE.conf");
    let theirs = {
        let _child = Killed(
            Command::new("nats-server")
                .args(["-c", path.to_str().expect("UTF-8 path")])
                .args(["-a", "127.0.0.1", "-p", "-1"])
                .env("TZ", "UTC")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server starts"),
        );
        ready_datagram(&daemon)
    };
    assert_eq!(
        syslog_shape(&ours),
        syslog_shape(&theirs),
        "{ours:?} {theirs:?}"
    );
}
