//! Two servers of the same program linked, a publisher on one and a
//! subscriber on the other: how many messages per second cross. The leaf
//! hop (a hub and its leaf, issue #12's row) and the cross-node row (two
//! cluster members, issue #13's), Starling pair against nats-server pair.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use super::{Client, QUIET, Reading, ready_client};
use crate::bench::{RunningServer, Target, free_port, start};

const SUBJECT: &str = "bench.leaf";

/// Messages sent per measurement, by payload size.
fn messages(size: usize) -> usize {
    if size <= 64 { 1_000_000 } else { 200_000 }
}

fn tcp(client: Client) -> std::io::Result<TcpStream> {
    match client {
        Client::Tcp(reader) => Ok(reader.into_inner()),
        Client::Ws(_) => Err(std::io::Error::other("a TCP client was asked for")),
    }
}

/// Messages per second from the hub's publisher to the leaf's subscriber,
/// the link over TCP or over websocket (to the hub's websocket port).
pub(super) fn leaf_hop(target: &Target, size: usize, websocket: bool) -> std::io::Result<Reading> {
    let leaf_port = free_port().map_err(std::io::Error::other)?;
    let hub_config = format!("leafnodes {{ host: 127.0.0.1, port: {leaf_port} }}");
    let hub = start(target, &hub_config, "").map_err(std::io::Error::other)?;
    let url = if websocket {
        format!("ws://{}", hub.ws_addr)
    } else {
        format!("nats://127.0.0.1:{leaf_port}")
    };
    let leaf_config = format!("leafnodes {{ remotes [ {{ url: \"{url}\" }} ] }}");
    let leaf = start(target, &leaf_config, "").map_err(std::io::Error::other)?;
    let reading = hop(&hub, &leaf, size);
    drop((hub, leaf));
    reading
}

/// Messages per second from a publisher on one cluster member to a
/// subscriber on the other, across their route.
pub(super) fn cross_node(target: &Target, size: usize) -> std::io::Result<Reading> {
    let port = free_port().map_err(std::io::Error::other)?;
    let first = format!("cluster {{ name: BENCH, listen: \"127.0.0.1:{port}\" }}");
    let first = start(target, &first, "").map_err(std::io::Error::other)?;
    let second = format!(
        "cluster {{ name: BENCH, listen: \"127.0.0.1:-1\", routes: [\"nats://127.0.0.1:{port}\"] }}"
    );
    let second = start(target, &second, "").map_err(std::io::Error::other)?;
    let reading = hop(&first, &second, size);
    drop((first, second));
    reading
}

/// A publisher on `from`, a subscriber on `to`: once a probe crossed,
/// messages per second.
fn hop(from: &RunningServer, to: &RunningServer, size: usize) -> std::io::Result<Reading> {
    let (hub, leaf) = (from, to);
    let mut subscriber = tcp(ready_client(leaf, false, QUIET)?)?;
    subscriber.write_all(format!("SUB {SUBJECT} 1\r\nPING\r\n").as_bytes())?;
    super::read_until(&mut subscriber, b"PONG\r\n")?;
    let mut publisher = tcp(ready_client(hub, false, QUIET)?)?;
    // The link is up when a probe crosses it.
    subscriber.set_read_timeout(Some(Duration::from_millis(100)))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(std::io::Error::other("the link did not come up"));
        }
        publisher.write_all(
            format!("PUB {SUBJECT}.probe 1\r\nx\r\nPUB {SUBJECT} 1\r\nx\r\n").as_bytes(),
        )?;
        match subscriber.read(&mut buf) {
            Ok(n) if n > 0 => break,
            _ => {}
        }
    }
    // Whatever probes are still on their way are read first.
    let settle = Instant::now() + Duration::from_millis(300);
    while Instant::now() < settle {
        let _ = subscriber.read(&mut buf);
    }
    subscriber.set_read_timeout(Some(Duration::from_secs(30)))?;
    let count = messages(size);
    let payload = vec![b'x'; size];
    let mut frame = format!("PUB {SUBJECT} {size}\r\n").into_bytes();
    frame.extend_from_slice(&payload);
    frame.extend_from_slice(b"\r\n");
    let message_len = format!("MSG {SUBJECT} 1 {size}\r\n").len() + size + 2;
    let started = Instant::now();
    let writer = thread::spawn(move || -> std::io::Result<()> {
        let batch: Vec<u8> = frame.repeat(256);
        let mut sent = 0;
        while sent < count {
            let n = (count - sent).min(256);
            publisher.write_all(&batch[..n * frame.len()])?;
            sent += n;
        }
        publisher.write_all(b"PING\r\n")?;
        // Keeps the connection open until the reader is done.
        let mut pong = [0u8; 64];
        let _ = publisher.read(&mut pong);
        Ok(())
    });
    let mut received = 0usize;
    let expected = count * message_len;
    while received < expected {
        let n = subscriber.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        received += n;
    }
    let elapsed = started.elapsed();
    writer
        .join()
        .map_err(|_| std::io::Error::other("the publisher panicked"))??;
    Ok(Reading {
        value: count as f64 / elapsed.as_secs_f64() / 1e6,
        unit: "M msgs/s",
        lower_is_better: false,
        note: format!("{count} × {size} B"),
    })
}
