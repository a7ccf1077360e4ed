//! Running one client suite: the client's command, its line protocol
//! (settings in, a JSON result per scenario out, restarts answered), and
//! what its broker logged.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::brokers::Brokers;
use super::{Client, ClientSuite, Outcome, SUITE_LIMIT, Transport, Workdir, install};

/// The command that runs a client suite.
fn client_command(suite: ClientSuite, work: &Workdir, ready: &install::Ready) -> Command {
    match suite.client {
        Client::Rust => Command::new(work.root.join("target/release/conformance-client")),
        Client::Python => {
            let mut command = Command::new("python3");
            command
                .arg(work.root.join("tests/conformance/python/scenarios.py"))
                .env("PYTHONPATH", &ready.python_path);
            command
        }
        Client::Node | Client::Browser => {
            let script = if suite.client == Client::Node {
                "node.mjs"
            } else {
                "browser.mjs"
            };
            let mut command = Command::new("node");
            command
                .arg(ready.js_dir.join(script))
                .env("NODE_EXTRA_CA_CERTS", &ready.certs.ca);
            command
        }
    }
}

enum Line {
    Out(String),
    Closed,
}

pub(super) fn run_client_suite(
    suite: ClientSuite,
    work: &Workdir,
    ready: &install::Ready,
    brokers: &mut Brokers,
) -> Vec<Outcome> {
    let scenarios = suite.scenarios();
    let failed_all = |why: String| -> Vec<Outcome> {
        scenarios
            .iter()
            .map(|s| Outcome::fail(s, why.clone()))
            .collect()
    };
    let stderr_path = work.logs.join(format!("{}.log", suite.name));
    let Ok(stderr) = std::fs::File::create(&stderr_path) else {
        return failed_all(format!("can't create {}", stderr_path.display()));
    };
    let compression_log_before = file_len(&brokers.compression_log);
    let mut child = match client_command(suite, work, ready)
        .env("CONFORMANCE", brokers.settings(suite, ready).to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return failed_all(format!("can't start the client: {e}")),
    };
    let (Some(stdout), Some(mut stdin)) = (child.stdout.take(), child.stdin.take()) else {
        return failed_all("no pipes to the client".into());
    };
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(Line::Out(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(Line::Closed);
    });
    let mut results: BTreeMap<String, Outcome> = BTreeMap::new();
    let deadline = Instant::now() + SUITE_LIMIT;
    let mut ended = "";
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Line::Out(line)) => {
                if let Some(outcome) = handle_line(&line, &mut stdin, brokers) {
                    results.insert(outcome.scenario.clone(), outcome);
                }
            }
            Ok(Line::Closed) => break,
            Err(_) => {
                ended = "the suite ran out of time";
                break;
            }
        }
    }
    let status = finish(&mut child);
    if ended.is_empty() && !status.is_empty() {
        ended = "the client exited";
    }
    let negotiated = count_deflate(&brokers.compression_log, compression_log_before);
    let tail = last_lines(&stderr_path, 6);
    scenarios
        .iter()
        .map(|name| match results.remove(*name) {
            Some(mut outcome) => {
                if *name == "compression" && outcome.ok {
                    outcome.detail = if suite.transport == Transport::Embedded {
                        "through the axum route (the example offers deflate)".into()
                    } else if negotiated > 0 {
                        "permessage-deflate negotiated".into()
                    } else {
                        "the client did not offer permessage-deflate; uncompressed frames".into()
                    };
                }
                outcome
            }
            None => Outcome::fail(
                name,
                format!("no result ({ended}{status}); client stderr ends: {tail}"),
            ),
        })
        .collect()
}

/// A line from a client: a scenario's result, a control request (acted on
/// and answered), or noise (ignored).
fn handle_line(line: &str, stdin: &mut ChildStdin, brokers: &mut Brokers) -> Option<Outcome> {
    let value: Value = serde_json::from_str(line).ok()?;
    if let Some(command) = value["control"].as_str() {
        let answer = match command {
            "restart" => match brokers.main.broker.restart() {
                Ok(()) => "ok".to_owned(),
                Err(e) => format!("restart failed: {e}"),
            },
            other => format!("unknown control {other:?}"),
        };
        let _ = writeln!(stdin, "{answer}");
        let _ = stdin.flush();
        return None;
    }
    let scenario = value["scenario"].as_str()?;
    Some(if value["ok"].as_bool() == Some(true) {
        Outcome::pass(scenario, "")
    } else {
        Outcome::fail(scenario, value["error"].as_str().unwrap_or("failed"))
    })
}

/// Ends the client (killing it if it has not exited within a few seconds
/// of closing its stdout): "" when it exited 0.
fn finish(child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return String::new(),
            Ok(Some(status)) => return format!(": {status}"),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return ": killed".into();
            }
        }
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Upgrades with compression that the broker logged since `from`.
fn count_deflate(log: &Path, from: u64) -> usize {
    let text = std::fs::read(log).unwrap_or_default();
    let from = usize::try_from(from).unwrap_or(0).min(text.len());
    String::from_utf8_lossy(&text[from..])
        .lines()
        .filter(|l| l.contains("compression: true"))
        .count()
}

fn last_lines(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(n)..].join(" | ");
    if tail.is_empty() {
        "(nothing)".into()
    } else {
        tail
    }
}
