//! The differential suite: the raw-protocol sessions and websocket upgrade
//! requests of `tests/src/sessions.rs`, sent byte for byte to Starling and
//! to nats-server, each started from the same config text; every reply
//! that differs is a failure, listed with both sides. Sessions where
//! Starling differs on purpose carry the reason and Starling's expected
//! reply, and pass (with a note) only when Starling answers exactly that.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Outcome, Workdir};
use crate::broker::{Broker, free_port, loopback};
use crate::sessions::{Limits, UPGRADES, WsSettings, all_cases, escape, mask_http, mask_info};

/// How long a session may take before its transcript is cut.
const READ_LIMIT: Duration = Duration::from_secs(5);

/// The two servers, from one config text.
struct Pair {
    _starling: Broker,
    _nats: Broker,
    starling: SocketAddr,
    nats: SocketAddr,
}

fn start_pair(
    starling: &Path,
    work: &Workdir,
    name: &str,
    config: impl Fn(u16, u16) -> String,
    websocket: bool,
) -> Result<Pair, String> {
    let mut servers = Vec::new();
    for (label, program) in [
        ("starling", starling.to_path_buf()),
        ("nats-server", PathBuf::from("nats-server")),
    ] {
        let (port, ws_port) = (free_port()?, free_port()?);
        let mut listens = vec![loopback(port)];
        if websocket {
            listens.push(loopback(ws_port));
        }
        let broker = Broker::start(
            &program,
            work.dir.join(format!("differential-{name}-{label}.conf")),
            &config(port, ws_port),
            &[],
            listens,
            Some(work.logs.join(format!("differential-{label}.log"))),
        )
        .map_err(|e| format!("{label} ({name}): {e}"))?;
        let addr = loopback(if websocket { ws_port } else { port });
        servers.push((broker, addr));
    }
    let (nats, nats_addr) = servers.pop().ok_or("no nats-server")?;
    let (ours, ours_addr) = servers.pop().ok_or("no starling")?;
    Ok(Pair {
        _starling: ours,
        _nats: nats,
        starling: ours_addr,
        nats: nats_addr,
    })
}

pub(crate) fn run(starling: &Path, work: &Workdir) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let cases = all_cases();
    for limits in Limits::ALL {
        let config = |port: u16, _| format!("listen: \"127.0.0.1:{port}\"\n{}", limits.config());
        let pair = match start_pair(starling, work, &format!("{limits:?}"), config, false) {
            Ok(pair) => pair,
            Err(e) => {
                outcomes.push(Outcome::fail(&format!("servers {limits:?}"), e));
                continue;
            }
        };
        for case in cases.iter().filter(|c| c.limits == limits) {
            let ours = session(pair.starling, case.input, case.pongs);
            let theirs = session(pair.nats, case.input, case.pongs);
            let outcome = match (ours, theirs, case.differs) {
                (Err(e), _, _) => Outcome::fail(case.name, format!("starling: {e}")),
                (_, Err(e), _) => Outcome::fail(case.name, format!("nats-server: {e}")),
                (Ok(ours), Ok(theirs), None) => compare(case.name, &ours, &theirs),
                (Ok(ours), Ok(theirs), Some((why, expected))) => {
                    let info = theirs.lines().next().unwrap_or_default();
                    let expected = format!("{info}\n{expected}");
                    if ours == expected {
                        Outcome::pass(case.name, format!("differs on purpose: {why}"))
                    } else {
                        compare(case.name, &ours, &expected)
                    }
                }
            };
            outcomes.push(outcome);
        }
    }
    for settings in WsSettings::ALL {
        let config = |port: u16, ws_port: u16| {
            format!("listen: \"127.0.0.1:{port}\"\n{}", settings.config(ws_port))
        };
        let pair = match start_pair(starling, work, &format!("{settings:?}"), config, true) {
            Ok(pair) => pair,
            Err(e) => {
                outcomes.push(Outcome::fail(&format!("servers {settings:?}"), e));
                continue;
            }
        };
        for upgrade in UPGRADES.iter().filter(|u| u.settings == settings) {
            let ours = upgrade_reply(pair.starling, upgrade.request);
            let theirs = upgrade_reply(pair.nats, upgrade.request);
            outcomes.push(match (ours, theirs) {
                (Ok((ours, true)), Ok((theirs, false))) if ours == theirs => Outcome::pass(
                    upgrade.name,
                    "differs on purpose: after a refusal Starling closes the connection; \
                     nats-server keeps it open for another HTTP request",
                ),
                (Ok((ours, ours_closed)), Ok((theirs, theirs_closed))) => compare(
                    upgrade.name,
                    &format!("{ours}{}", close_marker(ours_closed)),
                    &format!("{theirs}{}", close_marker(theirs_closed)),
                ),
                (Err(e), _) => Outcome::fail(upgrade.name, format!("starling: {e}")),
                (_, Err(e)) => Outcome::fail(upgrade.name, format!("nats-server: {e}")),
            });
        }
    }
    outcomes
}

/// Passes when equal; else names the first line that differs.
fn compare(name: &str, ours: &str, theirs: &str) -> Outcome {
    if ours == theirs {
        return Outcome::pass(name, "");
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), theirs.lines().collect());
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.len().min(b.len()));
    Outcome::fail(
        name,
        format!(
            "line {}: starling {:?}, nats-server {:?}",
            at + 1,
            a.get(at).copied().unwrap_or("<end>"),
            b.get(at).copied().unwrap_or("<end>")
        ),
    )
}

/// A session's transcript: the masked INFO line, the replies, and whether
/// the server closed the connection.
fn session(addr: SocketAddr, input: &[u8], pongs: usize) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + READ_LIMIT;
    let mut received = Vec::new();
    let info_end = loop {
        if let Some(end) = received.iter().position(|&b| b == b'\n') {
            break end + 1;
        }
        if read_some(&mut stream, &mut received, deadline)? == 0 {
            return Err("closed before INFO".into());
        }
    };
    let info = String::from_utf8_lossy(&received[..info_end]).into_owned();
    let info = mask_info(&info);
    let mut replies = received.split_off(info_end);
    stream.write_all(input).map_err(|e| format!("write: {e}"))?;
    let mut closed = false;
    loop {
        if pongs > 0 && replies.windows(6).filter(|w| w == b"PONG\r\n").count() >= pongs {
            break;
        }
        match read_some(&mut stream, &mut replies, deadline) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let mut out = format!("{info}\n{}", escape(&replies));
    if closed {
        out.push_str("<closed>\n");
    }
    Ok(out)
}

/// Reads once; Ok(0) is the peer's close, Err the deadline.
fn read_some(
    stream: &mut TcpStream,
    into: &mut Vec<u8>,
    deadline: Instant,
) -> Result<usize, String> {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(n) => {
                into.extend_from_slice(&buf[..n]);
                return Ok(n);
            }
            // A reset after the server's last bytes is a close too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(0),
            Err(_) if Instant::now() < deadline => {}
            Err(_) => return Err("no more bytes before the deadline".into()),
        }
    }
}

fn close_marker(closed: bool) -> &'static str {
    if closed { "<closed>\n" } else { "<open>\n" }
}

/// The reply to an upgrade request (the head, and for a refusal the body),
/// and whether the server then closed the connection. A 101 counts as
/// open: the INFO frame follows.
fn upgrade_reply(addr: SocketAddr, request: &str) -> Result<(String, bool), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let deadline = Instant::now() + READ_LIMIT;
    let mut reply = Vec::new();
    let head_end = loop {
        if let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match read_some(&mut stream, &mut reply, deadline)? {
            0 => return Ok((mask_http(&reply), true)),
            _ => continue,
        }
    };
    if reply.starts_with(b"HTTP/1.1 101") {
        return Ok((mask_http(&reply), false));
    }
    let head = String::from_utf8_lossy(&reply[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    // With a length, read the body, then give the server a moment to
    // close; without one, the body ends at the close.
    let closed = loop {
        if length.is_some_and(|n| reply.len() >= head_end + n) {
            let probe = Instant::now() + Duration::from_millis(300);
            break matches!(read_some(&mut stream, &mut reply, probe), Ok(0));
        }
        match read_some(&mut stream, &mut reply, deadline) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(_) => break false,
        }
    };
    Ok((mask_http(&reply), closed))
}
