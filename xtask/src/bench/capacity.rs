//! Capacity and flow control, each probe against a fresh server process
//! (Starling's and nats-server's from the same configuration text):
//! memory per idle connection (TCP and websocket), connect rate (TCP, and
//! websocket upgrades), delivery to subscribers that read slower than their
//! publisher writes, how long a publisher is held behind a subscriber that
//! stopped reading, and a connected client's PING round trip while wrong
//! bcrypt passwords arrive; and the probes with thousands of clients at
//! once ([`flood`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{RunningServer, Target, start};
use crate::wsclient::WsStream;

mod flood;
mod leaf;
mod monitor;
mod probe;

pub(super) use probe::Probe;

/// Idle connections per memory probe, and connections per rate probe.
const CONNECTIONS: usize = 1000;
/// Messages and their size for the flow-control probes.
const FLOW_MESSAGES: usize = 100_000;
const FLOW_SIZE: usize = 1024;
/// bcrypt of "right", cost 11: about a tenth of a second of CPU per check.
const BCRYPT_RIGHT: &str = "$2b$11$kLWKzydNmxycipagAD0e3urt7mJ4yQhcp9j51lxgyFhb1qgxbOHty";

/// What a probe measured: a number, its unit, whether lower is better,
/// and a note (loss, the idle baseline).
#[derive(Debug, Clone)]
pub(super) struct Reading {
    pub(super) value: f64,
    pub(super) unit: &'static str,
    pub(super) lower_is_better: bool,
    pub(super) note: String,
}

/// Lets this process (and the servers it starts) open as many files as
/// the hard limit allows: a thousand idle connections need more than the
/// usual soft limit of 1,024.
pub(super) fn raise_file_limit() {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let hard = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .unwrap_or("4096")
        .to_owned();
    let _ = Command::new("prlimit")
        .args([
            "--pid",
            &std::process::id().to_string(),
            &format!("--nofile={hard}:{hard}"),
        ])
        .status();
}

/// Resident memory of a process, in KB.
fn rss_kb(pid: u32) -> Result<f64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "no VmRSS".to_owned())
}

/// A client that has connected, sent CONNECT and had its PING answered.
enum Client {
    Tcp(BufReader<TcpStream>),
    Ws(Box<WsStream>),
}

fn read_until(stream: &mut impl Read, pattern: &[u8]) -> std::io::Result<()> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(pattern.len()).any(|w| w == pattern) {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

fn ready_client(server: &RunningServer, websocket: bool, connect: &str) -> std::io::Result<Client> {
    let hello = format!("CONNECT {connect}\r\nPING\r\n");
    if websocket {
        let mut ws = WsStream::connect(server.ws_addr, false)?;
        ws.set_read_timeout(Some(Duration::from_secs(30)))?;
        ws.write_all(hello.as_bytes())?;
        read_until(&mut ws, b"PONG\r\n")?;
        Ok(Client::Ws(Box::new(ws)))
    } else {
        let stream = TcpStream::connect(server.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut reader = BufReader::new(stream);
        let mut info = String::new();
        reader.read_line(&mut info)?;
        reader.get_mut().write_all(hello.as_bytes())?;
        read_until(&mut reader, b"PONG\r\n")?;
        Ok(Client::Tcp(reader))
    }
}

const QUIET: &str = "{\"verbose\":false,\"pedantic\":false}";

/// Runs `probe` against `target`.
pub(super) fn measure(probe: Probe, target: &Target) -> Result<Reading, String> {
    let io = |e: std::io::Error| format!("{}: {}: {e}", target.name, probe.label());
    match probe {
        Probe::IdleTcp | Probe::IdleWs => {
            let server = start(target, "", "")?;
            let pid = server.broker.pid().ok_or("no server process")?;
            let before = rss_kb(pid)?;
            let websocket = probe == Probe::IdleWs;
            let clients = (0..CONNECTIONS)
                .map(|_| ready_client(&server, websocket, QUIET))
                .collect::<Result<Vec<_>, _>>()
                .map_err(io)?;
            let after = rss_kb(pid)?;
            drop(clients);
            Ok(Reading {
                value: (after - before) / CONNECTIONS as f64,
                unit: "KB",
                lower_is_better: true,
                note: String::new(),
            })
        }
        Probe::ConnectRateTcp | Probe::UpgradeRateWs => {
            let server = start(target, "", "")?;
            let websocket = probe == Probe::UpgradeRateWs;
            let started = Instant::now();
            for _ in 0..CONNECTIONS {
                drop(ready_client(&server, websocket, QUIET).map_err(io)?);
            }
            Ok(Reading {
                value: CONNECTIONS as f64 / started.elapsed().as_secs_f64(),
                unit: "/s",
                lower_is_better: false,
                note: String::new(),
            })
        }
        Probe::SlowReaders => slow_readers(target).map_err(io),
        Probe::StuckReader => stuck_reader(target).map_err(io),
        Probe::BcryptFlood => bcrypt_flood(target).map_err(io),
        Probe::FloodTcp => flood::flood(target, false).map_err(io),
        Probe::FloodWs => flood::flood(target, true).map_err(io),
        Probe::LeftMidMessage => flood::left_mid_message(target).map_err(io),
        Probe::VarzTime => monitor::endpoint_time(target, "/varz", 20).map_err(io),
        Probe::ConnzTime => monitor::endpoint_time(target, "/connz?limit=10000", 5).map_err(io),
        Probe::MetricsTime => monitor::endpoint_time(target, "/metrics", 5).map_err(io),
        Probe::LeafHop16 => leaf::leaf_hop(target, 16, false).map_err(io),
        Probe::LeafHop1K => leaf::leaf_hop(target, 1024, false).map_err(io),
        Probe::LeafHopWs1K => leaf::leaf_hop(target, 1024, true).map_err(io),
        Probe::CrossNode16 => leaf::cross_node(target, 16).map_err(io),
        Probe::CrossNode1K => leaf::cross_node(target, 1024).map_err(io),
    }
}

fn message_len() -> usize {
    format!("MSG bench.flow 1 {FLOW_SIZE}\r\n").len() + FLOW_SIZE + 2
}

/// A subscriber on the flow subject, answered once.
fn subscriber(server: &RunningServer) -> std::io::Result<BufReader<TcpStream>> {
    let Client::Tcp(mut conn) = ready_client(server, false, QUIET)? else {
        unreachable!("a TCP client");
    };
    conn.get_mut().write_all(b"SUB bench.flow 1\r\nPING\r\n")?;
    read_until(&mut conn, b"PONG\r\n")?;
    Ok(conn)
}

/// A subscriber that reads at most `bytes_per_second`, counting what it
/// gets until `FLOW_MESSAGES` or the connection ends; returns the
/// messages received.
fn reader(
    server: &RunningServer,
    bytes_per_second: usize,
) -> std::io::Result<thread::JoinHandle<usize>> {
    let mut conn = subscriber(server)?;
    Ok(thread::spawn(move || {
        let chunk = 64 * 1024;
        let pause = Duration::from_secs_f64(chunk as f64 / bytes_per_second as f64);
        let expected = FLOW_MESSAGES * message_len();
        let mut buf = vec![0u8; chunk];
        let mut total = 0;
        // Long enough to outlast nats-server's stall behind a stuck reader.
        let _ = conn
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(30)));
        while total < expected {
            match conn.get_mut().read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
            thread::sleep(pause);
        }
        total / message_len()
    }))
}

/// Publishes `FLOW_MESSAGES` flat out, then waits for the PONG; the time.
fn publish_flat_out(server: &RunningServer) -> std::io::Result<Duration> {
    let Client::Tcp(mut conn) = ready_client(server, false, QUIET)? else {
        unreachable!("a TCP client");
    };
    let mut one = format!("PUB bench.flow {FLOW_SIZE}\r\n").into_bytes();
    one.extend(std::iter::repeat_n(b'x', FLOW_SIZE));
    one.extend_from_slice(b"\r\n");
    let batch = one.repeat(64);
    conn.get_ref()
        .set_read_timeout(Some(Duration::from_secs(60)))?;
    let started = Instant::now();
    for _ in 0..FLOW_MESSAGES / 64 {
        conn.get_mut().write_all(&batch)?;
    }
    conn.get_mut().write_all(b"PING\r\n")?;
    read_until(&mut conn, b"PONG\r\n")?;
    Ok(started.elapsed())
}

fn slow_readers(target: &Target) -> std::io::Result<Reading> {
    let server = start(target, "", "").map_err(std::io::Error::other)?;
    let readers = [reader(&server, 50 << 20)?, reader(&server, 50 << 20)?];
    let took = publish_flat_out(&server)?;
    let received: Vec<usize> = readers.into_iter().map(|r| r.join().unwrap_or(0)).collect();
    let least = received.iter().copied().min().unwrap_or(0);
    let loss = 100.0 * (1.0 - least as f64 / FLOW_MESSAGES as f64);
    Ok(Reading {
        value: FLOW_MESSAGES as f64 / took.as_secs_f64(),
        unit: "msgs/s",
        lower_is_better: false,
        note: format!("loss {loss:.1} %"),
    })
}

fn stuck_reader(target: &Target) -> std::io::Result<Reading> {
    let server = start(target, "", "").map_err(std::io::Error::other)?;
    // Subscribed, then never read.
    let _stuck = subscriber(&server)?;
    let healthy = reader(&server, usize::MAX / 2)?;
    let took = publish_flat_out(&server)?;
    let received = healthy.join().unwrap_or(0);
    Ok(Reading {
        value: took.as_secs_f64(),
        unit: "s",
        lower_is_better: true,
        note: format!(
            "healthy reader got {:.1} %",
            100.0 * received as f64 / FLOW_MESSAGES as f64
        ),
    })
}

/// Round trips of `client`, one after another, until `stop` is set (at
/// least `min` of them); sorted.
fn ping_rtts(
    client: &mut BufReader<TcpStream>,
    stop: &AtomicBool,
    min: usize,
) -> std::io::Result<Vec<Duration>> {
    let mut rtts = Vec::new();
    while rtts.len() < min || !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        client.get_mut().write_all(b"PING\r\n")?;
        read_until(client, b"PONG\r\n")?;
        rtts.push(started.elapsed());
    }
    rtts.sort();
    Ok(rtts)
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)]
}

fn bcrypt_flood(target: &Target) -> std::io::Result<Reading> {
    let users =
        format!("authorization {{ users: [ {{ user: u, password: \"{BCRYPT_RIGHT}\" }} ] }}");
    let server = start(target, &users, "").map_err(std::io::Error::other)?;
    let right = "{\"verbose\":false,\"pedantic\":false,\"user\":\"u\",\"pass\":\"right\"}";
    let Client::Tcp(mut client) = ready_client(&server, false, right)? else {
        unreachable!("a TCP client");
    };
    let idle = ping_rtts(&mut client, &AtomicBool::new(true), 200)?;
    let stop = Arc::new(AtomicBool::new(false));
    let addr = server.addr;
    let attack = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            // 100 wrong passwords, 20 at a time.
            for _ in 0..5 {
                let wave: Vec<_> = (0..20)
                    .map(|_| {
                        thread::spawn(move || {
                            let Ok(mut stream) = TcpStream::connect(addr) else {
                                return;
                            };
                            let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
                            let _ = stream.write_all(
                                b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"wrong\"}\r\n",
                            );
                            let mut sink = Vec::new();
                            let _ = stream.read_to_end(&mut sink);
                        })
                    })
                    .collect();
                for attacker in wave {
                    let _ = attacker.join();
                }
            }
            stop.store(true, Ordering::Relaxed);
        })
    };
    let during = ping_rtts(&mut client, &stop, 100)?;
    let _ = attack.join();
    Ok(Reading {
        value: p99(&during).as_secs_f64() * 1000.0,
        unit: "ms",
        lower_is_better: true,
        note: format!("idle p99 {:.2} ms", p99(&idle).as_secs_f64() * 1000.0),
    })
}
