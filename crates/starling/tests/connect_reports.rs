//! `connect_error_reports`: a leaf remote (the same counting holds for
//! routes) that never connected logs its failed dial at error level the
//! first time and every N attempts, as nats-server; the others go to the
//! debug level (not shown here). Every wait is for a logged line.

mod common;

use common::Running;

#[test]
fn failed_dials_are_reported_every_n_attempts() {
    // Nothing listens on a port just released.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let mut server = Running::start(
        "REPORTS",
        &format!(
            "connect_error_reports: 2\n\
             leafnodes {{ reconnect: 1, remotes [ {{ url: \"nats://127.0.0.1:{dead}\" }} ] }}\n"
        ),
        None,
    );
    let first = server.until("(attempt 1)");
    assert!(first.contains("[ERR]"), "{first}");
    assert!(
        first.contains("Error trying to connect as leafnode to remote server"),
        "{first}"
    );
    server.until("(attempt 2)");
    server.until("(attempt 4)");
    assert!(
        !server.log.iter().any(|line| line.contains("(attempt 3)")),
        "attempt 3 was reported:\n{}",
        server.log.join("\n")
    );
}
