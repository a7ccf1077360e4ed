//! `cargo xtask bench`: a load generator of its own (raw protocol over
//! blocking sockets, no client library in the loop) measuring the release
//! binary, and nats-server in the same run when it is on PATH.
//!
//! Workloads, each at 16 B and 1 KB: publish only; pub/sub 1→1; fan-out
//! 1→4; four publishers into one queue group of four members; and
//! request/reply latency. Servers alternate within each round (the order
//! flips every round) and a fresh server process serves each measurement,
//! so neither server profits from the other's warm-up. Medians over rounds
//! are printed with the Starling/nats-server ratio. Then the capacity
//! probes ([`capacity`]): memory per idle connection, connect rate, flow
//! control, a bcrypt brute force.

mod capacity;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::broker::{Broker, free_port, loopback};
use crate::workspace_root;
use crate::wsclient::WsStream;

const SUBJECT: &str = "bench.data";
const READ_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Shape {
    PublishOnly,
    PubSub,
    FanOut4,
    Queue4,
    RequestReply,
}

impl Shape {
    fn label(self) -> &'static str {
        match self {
            Self::PublishOnly => "publish only",
            Self::PubSub => "pub/sub 1→1",
            Self::FanOut4 => "fan-out 1→4",
            Self::Queue4 => "queue 4 pubs → group of 4",
            Self::RequestReply => "request/reply latency",
        }
    }
}

/// How the load generator's connections reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Transport {
    Tcp,
    Websocket,
    WebsocketDeflate,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Self::Tcp => "",
            Self::Websocket => " (ws)",
            Self::WebsocketDeflate => " (ws+deflate)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Workload {
    transport: Transport,
    shape: Shape,
    size: usize,
}

impl Workload {
    fn name(&self) -> String {
        let size = if self.size >= 1024 {
            format!("{} KB", self.size / 1024)
        } else {
            format!("{} B", self.size)
        };
        format!("{} {size}{}", self.shape.label(), self.transport.label())
    }

    fn messages(&self, scale: f64) -> u64 {
        let base: f64 = match (self.shape, self.size) {
            (Shape::RequestReply, _) => 20_000.0,
            (_, s) if s <= 64 => 2_000_000.0,
            _ => 400_000.0,
        };
        ((base * scale) as u64).max(100)
    }
}

/// One measurement: messages per second, or latency percentiles.
#[derive(Debug, Clone, Copy)]
enum Figure {
    Rate(f64),
    Latency {
        p50: Duration,
        p90: Duration,
        p99: Duration,
    },
}

#[derive(Debug, Clone)]
struct Target {
    name: &'static str,
    program: PathBuf,
}

pub(crate) fn run(args: Vec<String>) -> Result<(), String> {
    let mut rounds = 3usize;
    let mut scale = 1.0f64;
    let mut only: Option<String> = None;
    let mut also: Vec<Target> = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--rounds" => rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--scale" => scale = value()?.parse().map_err(|e| format!("--scale: {e}"))?,
            "--only" => only = Some(value()?),
            // Another build side by side (an allocator, a branch):
            // `--with name=path/to/starling`.
            "--with" => {
                let spec = value()?;
                let (name, path) = spec
                    .split_once('=')
                    .ok_or_else(|| format!("--with {spec:?}: expected name=path"))?;
                also.push(Target {
                    name: Box::leak(name.to_owned().into_boxed_str()),
                    program: PathBuf::from(path),
                });
            }
            other => return Err(format!("unknown bench option {other:?}")),
        }
    }
    let rounds = rounds.max(1);
    let root = workspace_root();
    println!("bench: building the release binary");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--locked", "-p", "starling"])
        .current_dir(&root)
        .status()
        .map_err(|e| format!("can't run cargo: {e}"))?;
    if !status.success() {
        return Err("release build failed".into());
    }
    let mut targets = vec![Target {
        name: "starling",
        program: root.join("target/release/starling"),
    }];
    match Command::new("nats-server").arg("--version").output() {
        Ok(out) if out.status.success() => {
            println!(
                "bench: side by side with {}",
                String::from_utf8_lossy(&out.stdout).trim()
            );
            targets.push(Target {
                name: "nats-server",
                program: PathBuf::from("nats-server"),
            });
        }
        _ => println!("bench: nats-server not on PATH; measuring Starling alone"),
    }
    targets.extend(also);
    let mut workloads = Vec::new();
    let shapes = [
        Shape::PublishOnly,
        Shape::PubSub,
        Shape::FanOut4,
        Shape::Queue4,
        Shape::RequestReply,
    ];
    for shape in shapes {
        for size in [16, 1024] {
            workloads.push(Workload {
                transport: Transport::Tcp,
                shape,
                size,
            });
        }
    }
    for transport in [Transport::Websocket, Transport::WebsocketDeflate] {
        for shape in [Shape::PubSub, Shape::RequestReply] {
            for size in [16, 1024] {
                workloads.push(Workload {
                    transport,
                    shape,
                    size,
                });
            }
        }
    }
    if let Some(filter) = &only {
        workloads.retain(|w| w.name().contains(filter.as_str()));
    }
    let mut results: BTreeMap<(Workload, &str), Vec<Figure>> = BTreeMap::new();
    let total = rounds * workloads.len() * targets.len();
    let mut done = 0;
    for round in 0..rounds {
        for workload in &workloads {
            let mut order: Vec<&Target> = targets.iter().collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for target in order {
                done += 1;
                let figure = measure(target, *workload, scale)?;
                println!(
                    "bench [{done}/{total}] round {} {:<34} {:<12} {}",
                    round + 1,
                    workload.name(),
                    target.name,
                    show(&figure)
                );
                results
                    .entry((*workload, target.name))
                    .or_default()
                    .push(figure);
            }
        }
    }
    print_summary(&workloads, &targets, &results, rounds);
    let probes: Vec<capacity::Probe> = capacity::Probe::ALL
        .into_iter()
        .filter(|p| {
            only.as_ref()
                .is_none_or(|f| f == "capacity" || p.label().contains(f.as_str()))
        })
        .collect();
    if !probes.is_empty() {
        run_probes(&probes, &targets, rounds)?;
    }
    Ok(())
}

/// The capacity probes, rounds of them, and their table of medians.
fn run_probes(probes: &[capacity::Probe], targets: &[Target], rounds: usize) -> Result<(), String> {
    capacity::raise_file_limit();
    let mut readings: BTreeMap<(capacity::Probe, &str), Vec<capacity::Reading>> = BTreeMap::new();
    for round in 0..rounds {
        for probe in probes {
            let mut order: Vec<&Target> = targets.iter().collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for target in order {
                // Something nats-server does not serve: its cell stays "-".
                if probe.starling_only() && target.name == "nats-server" {
                    continue;
                }
                let reading = capacity::measure(*probe, target)?;
                println!(
                    "bench round {} {:<52} {:<12} {:.2} {} {}",
                    round + 1,
                    probe.label(),
                    target.name,
                    reading.value,
                    reading.unit,
                    reading.note
                );
                readings
                    .entry((*probe, target.name))
                    .or_default()
                    .push(reading);
            }
        }
    }
    println!("\nCapacity and flow control, medians of {rounds} rounds\n");
    let names: Vec<&str> = targets.iter().map(|t| t.name).collect();
    println!("| probe | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    for probe in probes {
        let cells: Vec<String> = names
            .iter()
            .map(|name| {
                let Some(list) = readings.get(&(*probe, *name)) else {
                    return "-".to_owned();
                };
                let mut sorted = list.clone();
                sorted.sort_by(|a, b| a.value.total_cmp(&b.value));
                let median = &sorted[sorted.len() / 2];
                let note = if median.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", median.note)
                };
                format!("{:.2} {}{note}", median.value, median.unit)
            })
            .collect();
        let lower = readings
            .get(&(*probe, names[0]))
            .and_then(|l| l.first())
            .is_some_and(|r| r.lower_is_better);
        let better = if lower { " (lower is better)" } else { "" };
        println!("| {}{better} | {} |", probe.label(), cells.join(" | "));
    }
    Ok(())
}

fn show(figure: &Figure) -> String {
    match figure {
        Figure::Rate(rate) => format!("{:.3} M msgs/s", rate / 1e6),
        Figure::Latency { p50, p90, p99 } => {
            format!(
                "p50 {} µs  p90 {} µs  p99 {} µs",
                p50.as_micros(),
                p90.as_micros(),
                p99.as_micros()
            )
        }
    }
}

fn median_figure(figures: &[Figure]) -> Option<Figure> {
    fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> Option<T> {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        v.get(v.len() / 2).copied()
    }
    match figures.first()? {
        Figure::Rate(_) => median(
            figures
                .iter()
                .filter_map(|f| {
                    if let Figure::Rate(r) = f {
                        Some(*r)
                    } else {
                        None
                    }
                })
                .collect(),
        )
        .map(Figure::Rate),
        Figure::Latency { .. } => {
            let pick = |which: fn(&Figure) -> Option<Duration>| {
                median(figures.iter().filter_map(which).collect())
            };
            Some(Figure::Latency {
                p50: pick(|f| {
                    if let Figure::Latency { p50, .. } = f {
                        Some(*p50)
                    } else {
                        None
                    }
                })?,
                p90: pick(|f| {
                    if let Figure::Latency { p90, .. } = f {
                        Some(*p90)
                    } else {
                        None
                    }
                })?,
                p99: pick(|f| {
                    if let Figure::Latency { p99, .. } = f {
                        Some(*p99)
                    } else {
                        None
                    }
                })?,
            })
        }
    }
}

fn print_summary(
    workloads: &[Workload],
    targets: &[Target],
    results: &BTreeMap<(Workload, &str), Vec<Figure>>,
    rounds: usize,
) {
    println!(
        "\nMedians of {rounds} rounds (throughput: messages delivered per second; latency: round trip)\n"
    );
    let names: Vec<&str> = targets.iter().map(|t| t.name).collect();
    let ratio_header = if names.len() == 2 {
        " | starling / nats-server"
    } else {
        ""
    };
    println!("| workload | {}{ratio_header} |", names.join(" | "));
    println!(
        "|---|{}{}",
        "---|".repeat(names.len()),
        if names.len() == 2 { "---|" } else { "" }
    );
    for workload in workloads {
        let medians: Vec<Option<Figure>> = names
            .iter()
            .map(|n| results.get(&(*workload, *n)).and_then(|f| median_figure(f)))
            .collect();
        let cells: Vec<String> = medians
            .iter()
            .map(|m| m.as_ref().map_or_else(|| "-".into(), show))
            .collect();
        let ratio = match (medians.first(), medians.get(1)) {
            (Some(Some(Figure::Rate(a))), Some(Some(Figure::Rate(b)))) => {
                format!(" | {:.2}", a / b)
            }
            (
                Some(Some(Figure::Latency { p50: a, .. })),
                Some(Some(Figure::Latency { p50: b, .. })),
            ) => {
                format!(
                    " | {:.2} (p50; lower is better)",
                    a.as_secs_f64() / b.as_secs_f64()
                )
            }
            _ => String::new(),
        };
        println!("| {} | {}{ratio} |", workload.name(), cells.join(" | "));
    }
}

/// A server process on free loopback ports (client and websocket),
/// killed on drop.
struct RunningServer {
    broker: Broker,
    addr: SocketAddr,
    ws_addr: SocketAddr,
}

/// A server from the configuration both servers run (`top` and
/// `websocket` lines added to the top level and the websocket block).
fn start(target: &Target, top: &str, websocket: &str) -> Result<RunningServer, String> {
    let (port, ws_port) = (free_port()?, free_port()?);
    // The same configuration file for both servers.
    let config = std::env::temp_dir().join(format!("starling-bench-{}.conf", std::process::id()));
    let text = format!(
        "{top}\nwebsocket {{\n  host: 127.0.0.1\n  port: {ws_port}\n  no_tls: true\n{websocket}}}\n"
    );
    let (addr, ws_addr) = (loopback(port), loopback(ws_port));
    let broker = Broker::start(
        &target.program,
        config,
        &text,
        &["-a", "127.0.0.1", "-p", &port.to_string()],
        vec![addr, ws_addr],
        None,
    )
    .map_err(|e| format!("{}: {e}", target.name))?;
    Ok(RunningServer {
        broker,
        addr,
        ws_addr,
    })
}

/// Where and how a load-generator connection connects.
#[derive(Debug, Clone, Copy)]
struct Endpoint {
    addr: SocketAddr,
    transport: Transport,
}

/// A connection's byte stream: TCP, or websocket frames under it.
enum Stream {
    Tcp(TcpStream),
    Websocket(Box<WsStream>),
}

impl Stream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_read_timeout(timeout),
            Self::Websocket(s) => s.set_read_timeout(timeout),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Websocket(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Websocket(s) => s.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.write_all(buf),
            // One write is one websocket message.
            Self::Websocket(s) => s.write(buf).map(|_| ()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.flush(),
            Self::Websocket(s) => s.flush(),
        }
    }
}

type Conn = BufReader<Stream>;

fn measure(target: &Target, workload: Workload, scale: f64) -> Result<Figure, String> {
    let server = start(target, "", "  compression: true\n")?;
    let endpoint = match workload.transport {
        Transport::Tcp => Endpoint {
            addr: server.addr,
            transport: Transport::Tcp,
        },
        transport => Endpoint {
            addr: server.ws_addr,
            transport,
        },
    };
    let n = workload.messages(scale);
    let io = |e: std::io::Error| format!("{}: {}: {e}", target.name, workload.name());
    match workload.shape {
        Shape::PublishOnly => publish_only(endpoint, workload.size, n).map_err(io),
        Shape::PubSub => pub_sub(endpoint, workload.size, n, 1, 1, false).map_err(io),
        Shape::FanOut4 => pub_sub(endpoint, workload.size, n, 1, 4, false).map_err(io),
        Shape::Queue4 => pub_sub(endpoint, workload.size, n, 4, 4, true).map_err(io),
        Shape::RequestReply => request_reply(endpoint, workload.size, n).map_err(io),
    }
}

/// Connects, reads INFO, and sends a quiet CONNECT.
fn connect(endpoint: Endpoint) -> std::io::Result<Conn> {
    let stream = match endpoint.transport {
        Transport::Tcp => {
            let stream = TcpStream::connect(endpoint.addr)?;
            stream.set_nodelay(true)?;
            Stream::Tcp(stream)
        }
        Transport::Websocket => {
            Stream::Websocket(Box::new(WsStream::connect(endpoint.addr, false)?))
        }
        Transport::WebsocketDeflate => {
            Stream::Websocket(Box::new(WsStream::connect(endpoint.addr, true)?))
        }
    };
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    let mut info = String::new();
    reader.read_line(&mut info)?;
    reader
        .get_mut()
        .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")?;
    Ok(reader)
}

/// PING, then wait for the PONG: everything sent before has been processed.
fn sync(conn: &mut Conn) -> std::io::Result<()> {
    conn.get_mut().write_all(b"PING\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            ));
        }
        if line == "PONG\r\n" {
            return Ok(());
        }
    }
}

/// `n` PUBs written in large batches, like a client library's write
/// buffer. Before each batch `may_send(sent)` is asked whether subscribers
/// have kept up; the publisher waits until they have.
fn publish(
    conn: &mut Conn,
    size: usize,
    n: u64,
    may_send: impl Fn(u64) -> bool,
) -> std::io::Result<()> {
    let mut one = format!("PUB {SUBJECT} {size}\r\n").into_bytes();
    one.extend(std::iter::repeat_n(b'x', size));
    one.extend_from_slice(b"\r\n");
    let per_batch = (64 * 1024 / one.len()).max(1) as u64;
    let batch: Vec<u8> = one.repeat(per_batch as usize);
    let mut sent = 0;
    while sent < n {
        while !may_send(sent) {
            // Sleeping, not spinning: on two cores a spinning publisher
            // would take the CPU the server and subscribers need.
            thread::sleep(Duration::from_micros(100));
        }
        let count = per_batch.min(n - sent);
        let bytes = if count == per_batch {
            &batch[..]
        } else {
            &batch[..one.len() * count as usize]
        };
        conn.get_mut().write_all(bytes)?;
        sent += count;
    }
    Ok(())
}

/// How far (in bytes) publishers may run ahead of what subscribers have
/// received: well under both servers' 64 MB max_pending, so the benchmark
/// measures sustained delivery rather than how much a server buffers.
const FLOW_WINDOW_BYTES: u64 = 16 * 1024 * 1024;

fn publish_only(endpoint: Endpoint, size: usize, n: u64) -> std::io::Result<Figure> {
    let mut conn = connect(endpoint)?;
    sync(&mut conn)?;
    let started = Instant::now();
    publish(&mut conn, size, n, |_| true)?;
    sync(&mut conn)?;
    Ok(Figure::Rate(n as f64 / started.elapsed().as_secs_f64()))
}

/// `publishers` send `n` messages in all; `subscribers` connections each
/// hold one subscription (in one queue group when `queue`). Returns
/// deliveries per second, timed until the last one arrived.
fn pub_sub(
    endpoint: Endpoint,
    size: usize,
    n: u64,
    publishers: u64,
    subscribers: usize,
    queue: bool,
) -> std::io::Result<Figure> {
    // Whole shares only, so the expected count is exactly what is sent.
    let share = n / publishers;
    let n = share * publishers;
    let delivered = Arc::new(AtomicU64::new(0));
    let msg_len = (format!("MSG {SUBJECT} 1 {size}\r\n").len() + size + 2) as u64;
    let mut readers = Vec::new();
    for _ in 0..subscribers {
        let mut conn = connect(endpoint)?;
        let sub = if queue {
            format!("SUB {SUBJECT} workers 1\r\n")
        } else {
            format!("SUB {SUBJECT} 1\r\n")
        };
        conn.get_mut().write_all(sub.as_bytes())?;
        sync(&mut conn)?;
        // Short timeouts let a queue member notice that the group is done.
        conn.get_ref()
            .set_read_timeout(Some(Duration::from_millis(50)))?;
        readers.push(conn);
    }
    let total_expected = if queue { n } else { n * subscribers as u64 };
    let mut handles = Vec::new();
    for mut conn in readers {
        let delivered = Arc::clone(&delivered);
        handles.push(thread::spawn(move || -> std::io::Result<Instant> {
            let give_up = Instant::now() + READ_TIMEOUT;
            let mut buf = vec![0u8; 256 * 1024];
            let (mut bytes, mut counted) = (0u64, 0u64);
            let mut last = Instant::now();
            let mut pings = PingCounter::default();
            loop {
                let done = if queue {
                    delivered.load(Ordering::Relaxed) >= total_expected
                } else {
                    counted >= n
                };
                if done {
                    return Ok(last);
                }
                match conn.read(&mut buf) {
                    Ok(0) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "closed",
                        ));
                    }
                    Ok(got) => {
                        last = Instant::now();
                        // Servers PING a couple of seconds after CONNECT;
                        // answer, and leave those bytes out of the count.
                        let pings = pings.count(&buf[..got]);
                        for _ in 0..pings {
                            conn.get_mut().write_all(b"PONG\r\n")?;
                        }
                        bytes += (got - pings * PING.len()) as u64;
                        let now = bytes / msg_len;
                        delivered.fetch_add(now - counted, Ordering::Relaxed);
                        counted = now;
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        if Instant::now() > give_up {
                            return Err(e);
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }));
    }
    let started = Instant::now();
    let mut pubs = Vec::new();
    // Deliveries per published message: every subscriber, or one per group.
    let fan = if queue { 1 } else { subscribers as u64 };
    let window = (FLOW_WINDOW_BYTES / msg_len).max(1);
    for _ in 0..publishers {
        let mut conn = connect(endpoint)?;
        sync(&mut conn)?;
        let delivered = Arc::clone(&delivered);
        pubs.push(thread::spawn(move || -> std::io::Result<()> {
            // All publishers advance at about the same pace, so each
            // compares its own share of the deliveries with what it sent.
            let may_send = |sent: u64| {
                sent * publishers * fan <= delivered.load(Ordering::Relaxed) + window * fan
            };
            publish(&mut conn, size, share, may_send)?;
            sync(&mut conn)
        }));
    }
    for p in pubs {
        p.join()
            .map_err(|_| std::io::Error::other("publisher panicked"))??;
    }
    let mut last = started;
    for handle in handles {
        let done = handle
            .join()
            .map_err(|_| std::io::Error::other("subscriber panicked"))??;
        last = last.max(done);
    }
    Ok(Figure::Rate(
        total_expected as f64 / (last - started).as_secs_f64(),
    ))
}

const PING: &[u8] = b"PING\r\n";

/// Counts `PING\r\n` in a byte stream read in pieces, including one split
/// across two reads. The benchmark's payloads and subjects never contain it.
#[derive(Default)]
struct PingCounter {
    tail: Vec<u8>,
}

impl PingCounter {
    fn count(&mut self, chunk: &[u8]) -> usize {
        let keep = PING.len() - 1;
        let mut seam = std::mem::take(&mut self.tail);
        let tail_len = seam.len();
        seam.extend_from_slice(&chunk[..chunk.len().min(keep)]);
        let across = memchr::memmem::find_iter(&seam, PING)
            .filter(|&at| at < tail_len)
            .count();
        let within = memchr::memmem::find_iter(chunk, PING).count();
        self.tail = chunk[chunk.len().saturating_sub(keep)..].to_vec();
        across + within
    }
}

fn request_reply(endpoint: Endpoint, size: usize, n: u64) -> std::io::Result<Figure> {
    let mut responder = connect(endpoint)?;
    responder.get_mut().write_all(b"SUB bench.req 1\r\n")?;
    sync(&mut responder)?;
    let serving = thread::spawn(move || -> std::io::Result<()> {
        let mut line = String::new();
        let mut payload = Vec::new();
        let mut out = Vec::new();
        loop {
            line.clear();
            if responder.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line == "PING\r\n" {
                responder.get_mut().write_all(b"PONG\r\n")?;
                continue;
            }
            // MSG bench.req 1 <reply> <size>
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.first() != Some(&"MSG") || parts.len() != 5 {
                continue;
            }
            let len: usize = parts[4].parse().map_err(std::io::Error::other)?;
            payload.resize(len + 2, 0);
            responder.read_exact(&mut payload)?;
            out.clear();
            out.extend_from_slice(format!("PUB {} {len}\r\n", parts[3]).as_bytes());
            out.extend_from_slice(&payload);
            responder.get_mut().write_all(&out)?;
        }
    });
    let mut requester = connect(endpoint)?;
    requester.get_mut().write_all(b"SUB bench.reply 1\r\n")?;
    sync(&mut requester)?;
    let mut request = format!("PUB bench.req bench.reply {size}\r\n").into_bytes();
    request.extend(std::iter::repeat_n(b'r', size));
    request.extend_from_slice(b"\r\n");
    let mut samples = Vec::with_capacity(n as usize);
    let mut line = String::new();
    let mut payload = vec![0u8; size + 2];
    for _ in 0..n {
        let sent = Instant::now();
        requester.get_mut().write_all(&request)?;
        loop {
            line.clear();
            requester.read_line(&mut line)?;
            if line != "PING\r\n" {
                break;
            }
            requester.get_mut().write_all(b"PONG\r\n")?;
        }
        requester.read_exact(&mut payload)?;
        samples.push(sent.elapsed());
    }
    drop(requester);
    drop(serving);
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Ok(Figure::Latency {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
    })
}

#[cfg(test)]
mod tests {
    use super::PingCounter;

    #[test]
    fn pings_are_counted_across_reads() {
        let stream = b"MSG a 1 2\r\nxx\r\nPING\r\nMSG a 1 2\r\nxx\r\nPING\r\nPING\r\n";
        for split in 0..stream.len() {
            let mut counter = PingCounter::default();
            let (a, b) = stream.split_at(split);
            assert_eq!(counter.count(a) + counter.count(b), 3, "split at {split}");
        }
    }
}
