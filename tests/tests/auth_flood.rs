//! A flood of wrong bcrypt passwords does not stall connected clients:
//! costly credentials checks run on the blocking pool, a few at a time,
//! never on the threads that move messages. (A file of its own, so no
//! other test shares the process's cores while it measures.)

use std::time::Duration;

use starling_tests::{RawClient, start_from_config, url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_bcrypt_passwords_do_not_stall_other_clients() {
    // Cost 12: about a quarter of a second of CPU per check, by design.
    let hash = bcrypt::hash("right", 12).unwrap();
    let server = start_from_config(&format!(
        // A long authorization timeout: every check runs, none is
        // refused for waiting its turn.
        "authorization {{ users: [ {{ user: u, password: \"{hash}\" }} ], timeout: 30 }}"
    ))
    .await;
    let client = async_nats::ConnectOptions::with_user_and_password("u".into(), "right".into())
        .connect(url(&server))
        .await
        .unwrap();
    starling_tests::round_trip(&client).await;
    // Ten wrong passwords in flight at once.
    let mut attackers = Vec::new();
    for _ in 0..10 {
        let mut raw = RawClient::connect(server.client_addr()).await;
        raw.send(b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"wrong\"}\r\n")
            .await;
        attackers.push(raw);
    }
    // The connected client's round trips, one after the other, for the
    // first second of the checks (they take over two seconds in all).
    let mut slowest = Duration::ZERO;
    let attack = std::time::Instant::now();
    while attack.elapsed() < Duration::from_secs(1) {
        let started = std::time::Instant::now();
        starling_tests::round_trip(&client).await;
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(100),
        "a round trip took {slowest:?} while wrong bcrypt passwords were checked"
    );
    // And the attackers are refused as before.
    let (reply, closed) = attackers[0].read_to_close(Duration::from_secs(30)).await;
    assert_eq!(
        (reply.as_slice(), closed),
        (&b"-ERR 'Authorization Violation'\r\n"[..], true)
    );
}
