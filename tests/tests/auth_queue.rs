//! Costly credentials checks wait for a slot no longer than the
//! authorization timeout: a flood of bcrypt logins is refused within it,
//! as nats-server refuses a login that takes too long, instead of queueing
//! CPU work for connections long gone.

use std::time::{Duration, Instant};

use starling_tests::{RawClient, start_from_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_still_queued_at_the_timeout_is_refused() {
    // Cost 12: about a quarter of a second per check; 12 logins take three
    // seconds one after another, the timeout is one.
    let hash = bcrypt::hash("right", 12).unwrap();
    let server = start_from_config(&format!(
        "authorization {{ users: [ {{ user: u, password: \"{hash}\" }} ], timeout: 1 }}"
    ))
    .await;
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..12 {
        let mut raw = RawClient::connect(server.client_addr()).await;
        raw.send(b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"wrong\"}\r\n")
            .await;
        clients.push(raw);
    }
    let mut timed_out = 0;
    for client in &mut clients {
        let (reply, closed) = client.read_to_close(Duration::from_secs(30)).await;
        assert!(closed, "refused and closed");
        match reply.as_slice() {
            b"-ERR 'Authorization Violation'\r\n" => {}
            b"-ERR 'Authentication Timeout'\r\n" => timed_out += 1,
            other => panic!("unexpected reply {:?}", String::from_utf8_lossy(other)),
        }
    }
    assert!(timed_out > 0, "some logins waited past the timeout");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the queue is drained within the timeout (plus the checks running), not after every check: {:?}",
        started.elapsed()
    );
}
