//! SIGUSR2 puts the binary in lame-duck mode, as nats-server: its client
//! port closes, a client that takes INFO updates is told (`ldm: true`)
//! and closed after the grace period, and the process exits cleanly.
//! Every wait is for a line the server logs or a byte it sends.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;

use common::Running;

#[test]
fn sigusr2_enters_lame_duck_mode() {
    let mut server = Running::start(
        "LDM",
        "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n",
        None,
    );
    let marker = "Listening for client connections on ";
    let line = server.until(marker);
    let (_, address) = line.split_once(marker).expect("address");
    let address = address.trim().to_owned();
    let stream = TcpStream::connect(&address).expect("connect");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line).expect("INFO");
    writer
        .write_all(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n")
        .expect("write");
    line.clear();
    reader.read_line(&mut line).expect("PONG");
    assert_eq!(line, "PONG\r\n");

    let signalled = Command::new("kill")
        .args(["-USR2", &server.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    server.until("Trapped \"user defined signal 2\" signal");
    server.until("Entering lame duck mode, stop accepting new clients");
    line.clear();
    reader.read_line(&mut line).expect("the lame-duck INFO");
    assert!(
        line.starts_with("INFO ") && line.contains("\"ldm\":true"),
        "{line}"
    );
    assert!(TcpStream::connect(&address).is_err(), "still accepting");
    server.until("Closing existing clients");
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    server.until("Server Exiting..");
    assert!(server.exits_cleanly(), "a clean exit");
}
