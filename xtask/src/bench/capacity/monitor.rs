//! What the monitoring port costs with many clients: how long `/varz`, a
//! `/connz` listing every connection and `/metrics` take to answer with
//! 10,000 clients connected (issue #14's budget: 10 ms and 200 ms on this
//! machine for the first two).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{Client, QUIET, Reading, ready_client};
use crate::bench::{Target, free_port, loopback, start};

/// Clients connected while the endpoints are timed.
const CLIENTS: usize = 10_000;

/// One `GET`, until the server closes: the time, and the body's size.
fn timed_get(addr: SocketAddr, path: &str) -> std::io::Result<(Duration, usize)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let started = Instant::now();
    stream.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let took = started.elapsed();
    if !answer.starts_with(b"HTTP/1.1 200") {
        return Err(std::io::Error::other(format!(
            "{path}: {}",
            String::from_utf8_lossy(&answer[..answer.len().min(80)])
        )));
    }
    Ok((took, answer.len()))
}

/// The median answer time of `path` over `times` requests, in ms, with
/// [`CLIENTS`] clients connected.
pub(super) fn endpoint_time(target: &Target, path: &str, times: usize) -> std::io::Result<Reading> {
    let http_port = free_port().map_err(std::io::Error::other)?;
    let server =
        start(target, &format!("http_port: {http_port}"), "").map_err(std::io::Error::other)?;
    let monitor = loopback(http_port);
    let clients = (0..CLIENTS)
        .map(|_| ready_client(&server, false, QUIET))
        .collect::<std::io::Result<Vec<Client>>>()?;
    let mut samples = Vec::with_capacity(times);
    let mut size = 0;
    for _ in 0..times {
        let (took, bytes) = timed_get(monitor, path)?;
        samples.push(took);
        size = bytes;
    }
    drop(clients);
    samples.sort();
    Ok(Reading {
        value: samples[samples.len() / 2].as_secs_f64() * 1000.0,
        unit: "ms",
        lower_is_better: true,
        note: format!("median of {times}, {} KB", size / 1024),
    })
}
