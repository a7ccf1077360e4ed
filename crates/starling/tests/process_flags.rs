//! Flags of nats-server's that shape the process and the client port:
//! `--ports_file_dir` (the listeners' URLs in `<exe>_<pid>.ports`, removed
//! at exit), `-P` (the pid file), `--user`/`--pass` (over the file's
//! authorization). Every wait is for a logged line or a byte sent.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use common::Running;

/// The address after `marker` in a logged line.
fn address(server: &mut Running, marker: &str) -> String {
    let line = server.until(marker);
    let (_, address) = line.split_once(marker).expect("address");
    address.trim().to_owned()
}

#[test]
fn ports_and_pid_files_are_written_and_removed() {
    let dir = std::env::temp_dir().join(format!("starling-ports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let pid_file = dir.join("starling.pid");
    let mut server = Running::start_with(
        "PORTS",
        "",
        None,
        &[
            "--ports_file_dir",
            dir.to_str().expect("UTF-8"),
            "-P",
            pid_file.to_str().expect("UTF-8"),
            "-m",
            "-1",
            "--cluster",
            "nats://127.0.0.1:-1",
        ],
    );
    // In the order they are logged.
    let monitor = address(&mut server, "Starting http monitor on ");
    let client = address(&mut server, "Listening for client connections on ");
    let route = address(&mut server, "Listening for route connections on ");
    server.until("Server is ready");
    let pid = server.pid();
    let ports = dir.join(format!("starling_{pid}.ports"));
    let text = std::fs::read_to_string(&ports).expect("the ports file");
    assert_eq!(
        text,
        format!(
            "{{\"nats\":[\"nats://{client}\"],\"monitoring\":[\"http://{monitor}\"],\"cluster\":[\"nats://{route}\"]}}"
        )
    );
    assert_eq!(
        std::fs::read_to_string(&pid_file).expect("the pid file"),
        pid.to_string()
    );
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    assert!(server.exits_cleanly());
    assert!(!ports.exists() && !pid_file.exists(), "left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn user_and_pass_flags_guard_the_client_port() {
    let mut server =
        Running::start_with("CREDS", "", None, &["--user", "derek", "--pass", "s3cret"]);
    let client = address(&mut server, "Listening for client connections on ");
    server.until("Server is ready");
    let connect = |credentials: &str| {
        let stream = TcpStream::connect(&client).expect("connect");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        let mut line = String::new();
        reader.read_line(&mut line).expect("INFO");
        assert!(line.contains("\"auth_required\":true"), "{line}");
        let connect = format!("CONNECT {{\"verbose\":false{credentials}}}\r\nPING\r\n");
        writer.write_all(connect.as_bytes()).expect("write");
        line.clear();
        reader.read_line(&mut line).expect("answer");
        line
    };
    assert_eq!(connect(""), "-ERR 'Authorization Violation'\r\n");
    assert_eq!(
        connect(",\"user\":\"derek\",\"pass\":\"s3cret\""),
        "PONG\r\n"
    );
}
