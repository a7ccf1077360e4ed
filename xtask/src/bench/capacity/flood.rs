//! Probes with thousands of clients at once: a flood of idle clients that
//! must all be held while the server pings them every second (memory per
//! connection at the machine's descriptor limit), and what memory a server
//! keeps after thousands of clients left in the middle of a message.
//!
//! One thread drives every flood client through non-blocking sockets, so
//! the load generator needs no thread (and no stack) per connection.

use std::io::{ErrorKind, Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use super::{Client, QUIET, Reading, ready_client, rss_kb};
use crate::bench::{RunningServer, Stream, Target, start};

/// Clients that leave mid-message, and how much of their PUB they send.
const LEAVERS: usize = 4000;
const LEAVER_PAYLOAD: usize = 60_000;
/// How long the flood is held while the server pings every client.
const HOLD: Duration = Duration::from_secs(5);
/// How often the connecting loop stops to answer the pings.
const SWEEP_EVERY: Duration = Duration::from_millis(100);
/// Descriptors the server and this process keep for themselves.
const SPARE_DESCRIPTORS: usize = 200;

/// The most clients the descriptor limit lets both sides hold (19,800
/// under this workplace's hard limit of 20,000).
pub(super) fn flood_size() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1024);
    soft.saturating_sub(SPARE_DESCRIPTORS).max(100)
}

/// One flood client: its stream and the bytes not yet scanned for a
/// complete line.
struct Flooder {
    stream: Stream,
    pending: Vec<u8>,
    pongs: usize,
    alive: bool,
}

impl Flooder {
    /// Reads what is there without waiting; answers each PING with a PONG
    /// and counts PONGs. A closed or failed connection is no longer alive.
    fn serve(&mut self, buf: &mut [u8]) -> bool {
        let mut active = false;
        while self.alive {
            match self.stream.read(buf) {
                Ok(0) => self.alive = false,
                Ok(n) => {
                    active = true;
                    self.pending.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.alive = false,
            }
        }
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.pending.drain(..end + 2).collect();
            if line == b"PING\r\n" && self.send(b"PONG\r\n").is_err() {
                self.alive = false;
            } else if line == b"PONG\r\n" {
                self.pongs += 1;
            }
        }
        active
    }

    /// A write on the non-blocking socket; a few bytes always fit in an
    /// idle socket's buffer, but a full one is retried rather than lost.
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.stream.write_all(bytes) {
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(1));
                }
                other => return other,
            }
        }
    }
}

/// Goes over every live client once; whether any had something to read.
fn sweep(flooders: &mut [Flooder], buf: &mut [u8]) -> bool {
    let mut active = false;
    for flooder in flooders.iter_mut() {
        active |= flooder.serve(buf);
    }
    active
}

/// Connects as many clients as the descriptor limit allows, holds them
/// for [`HOLD`] while the server (at `ping_interval: 1s`) pings each every
/// second, then checks every one still answers its own PING. The reading
/// is memory per connection; the note says how many were held.
pub(super) fn flood(target: &Target, websocket: bool) -> std::io::Result<Reading> {
    let server = start(target, "ping_interval: \"1s\"", "").map_err(std::io::Error::other)?;
    let pid = server.broker.pid().ok_or(ErrorKind::NotFound)?;
    let before = rss_kb(pid).map_err(std::io::Error::other)?;
    let size = flood_size();
    let started = Instant::now();
    let mut flooders = Vec::with_capacity(size);
    let mut buf = vec![0u8; 64 * 1024];
    let mut swept = Instant::now();
    for _ in 0..size {
        let stream = match ready_client(&server, websocket, QUIET)? {
            Client::Tcp(reader) => Stream::Tcp(reader.into_inner()),
            Client::Ws(ws) => Stream::Websocket(ws),
        };
        match &stream {
            Stream::Tcp(s) => s.set_nonblocking(true)?,
            Stream::Websocket(s) => s.set_nonblocking(true)?,
        }
        flooders.push(Flooder {
            stream,
            pending: Vec::new(),
            pongs: 0,
            alive: true,
        });
        // Connecting takes seconds: those already in answer their pings
        // (a client that misses two in a row is cut as stale).
        if swept.elapsed() >= SWEEP_EVERY {
            sweep(&mut flooders, &mut buf);
            swept = Instant::now();
        }
    }
    let connecting = started.elapsed();
    let connected_kb = rss_kb(pid).map_err(std::io::Error::other)?;
    let held_from = Instant::now();
    while held_from.elapsed() < HOLD {
        if !sweep(&mut flooders, &mut buf) {
            thread::sleep(Duration::from_millis(10));
        }
    }
    // Every client that is still in asks for a PONG of its own.
    let asked: Vec<usize> = flooders.iter().map(|f| f.pongs).collect();
    for flooder in flooders.iter_mut().filter(|f| f.alive) {
        if flooder.send(b"PING\r\n").is_err() {
            flooder.alive = false;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let answered = |flooders: &[Flooder]| {
        flooders
            .iter()
            .zip(&asked)
            .filter(|(f, asked)| f.alive && f.pongs > **asked)
            .count()
    };
    while Instant::now() < deadline
        && answered(&flooders) < flooders.iter().filter(|f| f.alive).count()
    {
        if !sweep(&mut flooders, &mut buf) {
            thread::sleep(Duration::from_millis(10));
        }
    }
    let held = answered(&flooders);
    let after = rss_kb(pid).map_err(std::io::Error::other)?;
    drop(flooders);
    Ok(Reading {
        value: (after - before) / size as f64,
        unit: "KB",
        lower_is_better: true,
        note: format!(
            "held {held} of {size}, connected in {:.1} s, {:.1} KB each before the pings",
            connecting.as_secs_f64(),
            (connected_kb - before) / size as f64,
        ),
    })
}

/// Resident memory once it stops moving: sampled every half second until
/// four seconds pass without a change of more than 1 %, or 30 seconds
/// (allocators return freed memory gradually, over seconds).
fn settled_rss_kb(pid: u32) -> Result<f64, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = rss_kb(pid)?;
    let mut steady_since = Instant::now();
    loop {
        thread::sleep(Duration::from_millis(500));
        let now = rss_kb(pid)?;
        if (now - last).abs() > last / 100.0 {
            steady_since = Instant::now();
        }
        last = now;
        if steady_since.elapsed() >= Duration::from_secs(4) || Instant::now() >= deadline {
            return Ok(last);
        }
    }
}

/// A PING/PONG round trip on a fresh connection: the server has accepted
/// and served everything before it.
fn fence(server: &RunningServer) -> std::io::Result<()> {
    ready_client(server, false, QUIET).map(drop)
}

/// [`LEAVERS`] clients each send most of a large PUB and vanish; the
/// reading is what the server's memory stays above its start afterwards,
/// in MB (the note gives the peak while they were there).
pub(super) fn left_mid_message(target: &Target) -> std::io::Result<Reading> {
    let server = start(target, "", "").map_err(std::io::Error::other)?;
    let pid = server.broker.pid().ok_or(ErrorKind::NotFound)?;
    let before = rss_kb(pid).map_err(std::io::Error::other)?;
    let mut half = format!("PUB bench.left {LEAVER_PAYLOAD}\r\n").into_bytes();
    half.extend(std::iter::repeat_n(b'x', LEAVER_PAYLOAD / 2));
    let mut leavers = Vec::with_capacity(LEAVERS);
    for _ in 0..LEAVERS {
        let Client::Tcp(mut conn) = ready_client(&server, false, QUIET)? else {
            unreachable!("a TCP client");
        };
        conn.get_mut().write_all(&half)?;
        leavers.push(conn);
    }
    fence(&server)?;
    let peak = settled_rss_kb(pid).map_err(std::io::Error::other)?;
    drop(leavers);
    fence(&server)?;
    let after = settled_rss_kb(pid).map_err(std::io::Error::other)?;
    Ok(Reading {
        value: (after - before) / 1024.0,
        unit: "MB",
        lower_is_better: true,
        note: format!("peak {:.0} MB above the start", (peak - before) / 1024.0),
    })
}
