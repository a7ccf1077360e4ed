//! The built binary: flags, exit codes, logging, and a clean exit on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_starling");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("binary runs");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8 output");
    (
        out.status.code().expect("exit code"),
        text(out.stdout),
        text(out.stderr),
    )
}

#[test]
fn help_and_version() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Usage: starling [options]"));
    let (code, out, _) = run(&["-v"]);
    assert_eq!(code, 0);
    assert!(out.contains("nats-server protocol v2.9.10"), "{out}");
}

#[test]
fn bad_flags_exit_2_with_a_reason() {
    let (code, _, err) = run(&["--bogus"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("flag provided but not defined: -bogus"),
        "{err}"
    );
    let (code, _, err) = run(&["-p", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid value"), "{err}");
}

#[test]
fn cluster_flags() {
    // Routes need a cluster listener, as in nats-server.
    let (code, _, err) = run(&["--routes", "nats://127.0.0.1:6222", "-t"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("solicited routes require cluster capabilities"),
        "{err}"
    );
    let (code, out, err) = run(&[
        "--cluster",
        "nats://127.0.0.1:-1",
        "--cluster_name",
        "C1",
        "--routes",
        "nats://127.0.0.1:6222,nats://127.0.0.1:6223",
        "--no_advertise",
        "-t",
    ]);
    assert_eq!(code, 0, "{out}{err}");
}

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("starling-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("config written");
    path
}

#[test]
fn check_mode_reports_valid_and_invalid_files() {
    let good = write_temp("good.conf", "port: 4333\nmax_payload: 512KB\n");
    let (code, out, _) = run(&["-t", "-c", good.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!("starling: configuration file {} is valid\n", good.display())
    );

    let bad = write_temp("bad.conf", "port: 4333\nmax_payload: [1\nfoo: 2\n");
    let (code, _, err) = run(&["-t", "-c", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    // The array runs on across lines until something cannot be in it.
    assert_eq!(
        err,
        format!(
            "starling: {}:3:6: expected ',', ']' or a new line, found '2'\n",
            bad.display()
        )
    );

    let unknown = write_temp(
        "unknown.conf",
        "port: 4333\nbogus: 1\nwebsocket { port: 8080 }\n",
    );
    let (code, _, err) = run(&["-t", "-c", unknown.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains(":2:1: unknown field \"bogus\""), "{err}");
    assert!(
        err.contains(":3:11: websocket requires TLS configuration"),
        "{err}"
    );

    let (code, _, err) = run(&["-t", "-c", "/nonexistent/starling.conf"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("/nonexistent/starling.conf: can't read the file"),
        "{err}"
    );
}

#[test]
fn every_example_config_is_valid() {
    // Run from the repository root, as the examples say: TLS paths are
    // relative to the current directory, as in nats-server.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("examples")).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "conf") {
            let out = Command::new(BIN)
                .args(["-t", "-c"])
                .arg(&path)
                .current_dir(&root)
                .output()
                .expect("runs");
            let text = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{}: {text}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 4);
}

#[test]
fn port_in_use_fails_to_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let (code, _, err) = run(&["-a", "127.0.0.1", "-p", &port]);
    assert_eq!(code, 1);
    assert!(err.contains("can't listen on"), "{err}");
}

#[test]
fn serves_clients_and_exits_cleanly_on_sigterm() {
    // The example's port and host are overridden by the flags.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tcp.conf");
    let mut child = Command::new(BIN)
        .args(["-c", example, "-a", "127.0.0.1", "-p", "-1", "-D"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut log = BufReader::new(child.stderr.take().expect("stderr"));
    let mut addr = None;
    let mut line = String::new();
    while addr.is_none() && log.read_line(&mut line).expect("log line") > 0 {
        assert!(line.starts_with('['), "nats-server log shape: {line}");
        if let Some((_, at)) = line
            .trim_end()
            .split_once("Listening for client connections on ")
        {
            addr = Some(at.to_owned());
        }
        line.clear();
    }
    let addr = addr.expect("listening line");

    let mut client = TcpStream::connect(&addr).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut info = [0u8; 5];
    client.read_exact(&mut info).expect("INFO");
    assert_eq!(&info, b"INFO ");

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs")
            .success()
    );
    let status = child.wait().expect("exit");
    assert_eq!(status.code(), Some(0));
    let mut rest = String::new();
    log.read_to_string(&mut rest).expect("rest of the log");
    assert!(
        rest.contains("[INF] Trapped \"terminated\" signal"),
        "{rest}"
    );
    assert!(rest.contains("[INF] Server Exiting.."), "{rest}");
    let mut buf = Vec::new();
    let _ = client.read_to_end(&mut buf);
}

#[test]
fn every_example_starts_and_serves() {
    // Each example runs as written, except that its fixed ports become
    // free ones (-p -1, websocket port -1) so tests never collide.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut started = 0;
    for entry in std::fs::read_dir(root.join("examples")).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "conf") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("example");
        let text = text
            .replace("0.0.0.0:8443", "127.0.0.1:-1")
            .replace("port: 8080", "port: -1")
            .replace("port: 8081", "port: -1")
            .replace("listen: \"127.0.0.1:6222\"", "listen: \"127.0.0.1:-1\"")
            .replace("listen: \"127.0.0.1:6223\"", "listen: \"127.0.0.1:-1\"")
            .replace("listen: \"127.0.0.1:6224\"", "listen: \"127.0.0.1:-1\"");
        let copy = write_temp(
            &format!("example-{}", path.file_name().unwrap().to_string_lossy()),
            &text,
        );
        let mut child = Command::new(BIN)
            .args(["-c", copy.to_str().unwrap(), "-a", "127.0.0.1", "-p", "-1"])
            .current_dir(&root)
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let mut log = BufReader::new(child.stderr.take().expect("stderr"));
        let (mut line, mut ready) = (String::new(), false);
        while log.read_line(&mut line).expect("log") > 0 {
            if let Some((_, at)) = line
                .trim_end()
                .split_once("Listening for client connections on ")
            {
                let mut client = TcpStream::connect(at).expect("connect");
                client
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                let mut info = [0u8; 5];
                client.read_exact(&mut info).expect("INFO");
                assert_eq!(&info, b"INFO ");
            }
            if line.contains("Server is ready") {
                ready = true;
                break;
            }
            line.clear();
        }
        assert!(ready, "{} did not start", path.display());
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill")
                .success()
        );
        assert_eq!(
            child.wait().expect("exit").code(),
            Some(0),
            "{}",
            path.display()
        );
        started += 1;
    }
    assert!(started >= 5, "started {started} examples");
}

#[test]
fn a_certificate_that_cannot_be_read_fails_start_up_at_its_option() {
    let config = write_temp(
        "bad-cert.conf",
        "port: -1\nwebsocket {\n  port: -1\n  tls {\n    cert_file: \"/no/such/cert.pem\"\n    key_file: \"/no/such/key.pem\"\n  }\n}\n",
    );
    for check in [true, false] {
        let mut args = vec!["-c", config.to_str().unwrap()];
        if check {
            args.insert(0, "-t");
        }
        let (code, _, err) = run(&args);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains(&format!(
                "{}:4:3: invalid option: websocket tls: can't read certificates from /no/such/cert.pem",
                config.display()
            )),
            "-t: {check}: {err}"
        );
        assert!(!err.contains("Server is ready"), "{err}");
    }
}
