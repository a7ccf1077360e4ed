//! `cargo xtask conformance`: the release broker against the NATS clients
//! people use, and against nats-server itself.
//!
//! Client suites: async-nats (Rust), nats-py (Python) and the official
//! JavaScript client (`nats` over TCP, `nats.ws` over websocket) in Node.js,
//! each over TCP and websocket, and the `nats.ws` bundle in a page in
//! headless Chromium. Every client runs the same scenarios, written once per
//! language in `tests/conformance/` (the Rust one is the `conformance-client`
//! binary of the tests package), and speaks one line protocol with this
//! orchestrator: settings as JSON in `$CONFORMANCE`, one JSON result per
//! scenario on stdout, `{"control":"restart"}` answered with `ok` on stdin
//! once the broker is back. So a result always comes from a real client
//! talking to the real binary; nothing here imitates a client.
//!
//! The differential suite replays the raw-protocol sessions and the
//! websocket upgrade requests of `tests/src/sessions.rs` against Starling
//! and nats-server, both started from the same config text, and lists every
//! reply that differs.
//!
//! What a suite needs and the machine lacks is installed into
//! `target/conformance/` (pip and npm packages) or from Debian (Chromium,
//! openssl); a suite whose tools cannot be installed fails and says why.

mod differential;
mod install;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::broker::{Broker, free_port, loopback};
use crate::workspace_root;

/// The scenarios every client runs, over TCP and websocket: these need
/// the main broker alone (the embedded one runs them too)...
const ONE_BROKER: &[&str] = &[
    "connect",
    "pubsub",
    "wildcards",
    "queue",
    "request_reply",
    "headers",
    "no_responders",
    "unsub_max",
];
/// ...and these a configuration of their own, or a restart.
const MORE_BROKERS: &[&str] = &[
    "max_payload",
    "auth_connection_types",
    "accounts",
    "reconnect",
];
/// Websocket only: a broker with `compression: true`, and wss://.
const WEBSOCKET: &[&str] = &["compression", "wss"];
/// Browser only: `allowed_origins` as a browser exercises it.
const BROWSER: &[&str] = &["origin_allowed", "origin_refused"];

/// The `users` broker: one user per connection type.
const USERS: &str = r#"authorization {
  users: [
    { user: tcp-user, password: secret, allowed_connection_types: ["STANDARD"] }
    { user: ws-user, password: secret, allowed_connection_types: ["WEBSOCKET"] }
  ]
}"#;

/// The `accounts` broker: ORDERS exports a stream and a service, SHOP
/// imports both under its own subjects.
const ACCOUNTS: &str = r#"accounts {
  ORDERS: {
    users: [ { user: orders, password: secret } ]
    exports: [ { stream: "orders.events.>" }, { service: "orders.lookup" } ]
  }
  SHOP: {
    users: [ { user: shop, password: secret } ]
    imports: [
      { stream: { account: ORDERS, subject: "orders.events.>" }, prefix: "shop" }
      { service: { account: ORDERS, subject: "orders.lookup" }, to: "lookup" }
    ]
  }
}
"#;

/// The main broker's max_payload: small, so the clients must honour INFO.
const MAX_PAYLOAD: u64 = 65_536;
/// A client suite that has not finished by then is killed.
const SUITE_LIMIT: Duration = Duration::from_secs(240);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Rust,
    Python,
    Node,
    Browser,
}

impl Client {
    const ALL: [Self; 4] = [Self::Rust, Self::Python, Self::Node, Self::Browser];

    fn label(self) -> &'static str {
        match self {
            Self::Rust => "async-nats (Rust)",
            Self::Python => "nats-py (Python)",
            Self::Node => "nats.js (Node.js)",
            Self::Browser => "nats.ws (Chromium)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Ws,
    /// Websocket through the embedding example's axum route.
    Embedded,
}

impl Transport {
    /// What the client sees (an embedded broker is a websocket server).
    fn label(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Ws | Self::Embedded => "ws",
        }
    }
}

/// A client over a transport.
#[derive(Debug, Clone, Copy)]
struct ClientSuite {
    name: &'static str,
    client: Client,
    transport: Transport,
}

const CLIENT_SUITES: &[ClientSuite] = &[
    suite("rust-tcp", Client::Rust, Transport::Tcp),
    suite("rust-ws", Client::Rust, Transport::Ws),
    suite("python-tcp", Client::Python, Transport::Tcp),
    suite("python-ws", Client::Python, Transport::Ws),
    suite("node-tcp", Client::Node, Transport::Tcp),
    suite("node-ws", Client::Node, Transport::Ws),
    suite("browser-ws", Client::Browser, Transport::Ws),
    suite("rust-embed", Client::Rust, Transport::Embedded),
    suite("browser-embed", Client::Browser, Transport::Embedded),
];
const DIFFERENTIAL: &str = "differential";

const fn suite(name: &'static str, client: Client, transport: Transport) -> ClientSuite {
    ClientSuite {
        name,
        client,
        transport,
    }
}

impl ClientSuite {
    fn scenarios(self) -> Vec<&'static str> {
        let mut names = ONE_BROKER.to_vec();
        if self.transport == Transport::Embedded {
            // Through the axum route of `examples/embed-axum`.
            names.push("compression");
            return names;
        }
        names.extend_from_slice(MORE_BROKERS);
        if self.transport == Transport::Ws {
            names.extend_from_slice(WEBSOCKET);
        }
        if self.client == Client::Browser {
            names.extend_from_slice(BROWSER);
        }
        names
    }
}

/// One scenario's result.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) scenario: String,
    pub(crate) ok: bool,
    /// Why it failed, or a remark on a pass.
    pub(crate) detail: String,
}

impl Outcome {
    pub(crate) fn pass(scenario: &str, detail: impl Into<String>) -> Self {
        Self {
            scenario: scenario.to_owned(),
            ok: true,
            detail: detail.into(),
        }
    }

    pub(crate) fn fail(scenario: &str, detail: impl Into<String>) -> Self {
        Self {
            scenario: scenario.to_owned(),
            ok: false,
            detail: detail.into(),
        }
    }
}

/// Where the suite keeps what it installs, generates and logs.
pub(crate) struct Workdir {
    pub(crate) root: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) logs: PathBuf,
}

pub(crate) fn run(args: Vec<String>) -> Result<(), String> {
    let mut only: Vec<String> = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--suite" => only.push(args.next().ok_or("--suite needs a name")?),
            "--list" => {
                for suite in CLIENT_SUITES {
                    println!("{:<12} {}", suite.name, suite.scenarios().join(" "));
                }
                println!(
                    "{DIFFERENTIAL:<12} raw-protocol sessions and websocket upgrades vs nats-server"
                );
                return Ok(());
            }
            other => return Err(format!("unknown conformance option {other:?}")),
        }
    }
    let known: Vec<&str> = CLIENT_SUITES
        .iter()
        .map(|s| s.name)
        .chain([DIFFERENTIAL])
        .collect();
    if let Some(unknown) = only.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(format!(
            "no suite {unknown:?}; suites: {}",
            known.join(", ")
        ));
    }
    let wanted = |name: &str| only.is_empty() || only.iter().any(|n| n == name);
    let suites: Vec<ClientSuite> = CLIENT_SUITES
        .iter()
        .copied()
        .filter(|s| wanted(s.name))
        .collect();
    let run_differential = wanted(DIFFERENTIAL);
    let started = Instant::now();

    let root = workspace_root();
    let dir = root.join("target/conformance");
    let work = Workdir {
        logs: dir.join("logs"),
        dir,
        root,
    };
    std::fs::create_dir_all(&work.logs)
        .map_err(|e| format!("can't create {}: {e}", work.logs.display()))?;
    println!("conformance: building the release broker and the Rust client");
    cargo_build(&work.root)?;
    let starling = work.root.join("target/release/starling");

    let total = suites.len() + usize::from(run_differential);
    let mut reports: Vec<(String, Vec<Outcome>)> = Vec::new();
    if !suites.is_empty() {
        let ready = install::prepare(&work, &suites.iter().map(|s| s.client).collect::<Vec<_>>())?;
        let embed = work.root.join("target/release/embed-axum");
        let mut brokers = Brokers::start(&starling, &embed, &work, &ready)?;
        for (i, suite) in suites.iter().enumerate() {
            print!("conformance [{}/{total}] {:<12} ", i + 1, suite.name);
            let _ = std::io::stdout().flush();
            let t = Instant::now();
            let outcomes = match ready.missing(suite.client) {
                Some(why) => suite
                    .scenarios()
                    .iter()
                    .map(|s| Outcome::fail(s, why.clone()))
                    .collect(),
                None => run_client_suite(*suite, &work, &ready, &mut brokers),
            };
            print_progress(&outcomes, t.elapsed());
            reports.push((suite.name.to_owned(), outcomes));
        }
    }
    if run_differential {
        print!("conformance [{total}/{total}] {DIFFERENTIAL:<12} ");
        let _ = std::io::stdout().flush();
        let t = Instant::now();
        let outcomes = if install::nats_server_installed() {
            differential::run(&starling, &work)
        } else {
            println!("skipped: nats-server is not on PATH");
            Vec::new()
        };
        if !outcomes.is_empty() {
            print_progress(&outcomes, t.elapsed());
        }
        reports.push((DIFFERENTIAL.to_owned(), outcomes));
    }
    print_table(&reports);
    let passed = reports.iter().flat_map(|(_, o)| o).filter(|o| o.ok).count();
    let failed = reports
        .iter()
        .flat_map(|(_, o)| o)
        .filter(|o| !o.ok)
        .count();
    println!(
        "conformance: {passed} passed, {failed} failed ({:.0} s; logs in {})",
        started.elapsed().as_secs_f64(),
        work.logs.display()
    );
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} conformance scenarios failed"))
    }
}

fn cargo_build(root: &Path) -> Result<(), String> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "starling",
            "-p",
            "starling-tests",
            "-p",
            "embed-axum",
            "--bin",
            "starling",
            "--bin",
            "conformance-client",
            "--bin",
            "embed-axum",
        ])
        .current_dir(root)
        .status()
        .map_err(|e| format!("can't run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("the release build failed".into())
    }
}

fn print_progress(outcomes: &[Outcome], took: Duration) {
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
    println!(
        "{} passed, {} failed ({:.1} s)",
        outcomes.len() - failed.len(),
        failed.len(),
        took.as_secs_f64()
    );
    for outcome in outcomes {
        if !outcome.ok {
            println!("    FAIL {}: {}", outcome.scenario, outcome.detail);
        } else if !outcome.detail.is_empty() {
            println!("    note {}: {}", outcome.scenario, outcome.detail);
        }
    }
}

/// Client × transport, then the differential suite.
fn print_table(reports: &[(String, Vec<Outcome>)]) {
    let cell = |name: &str| -> String {
        reports.iter().find(|(n, _)| n == name).map_or_else(
            || "-".to_owned(),
            |(_, o)| format!("{}/{}", o.iter().filter(|o| o.ok).count(), o.len()),
        )
    };
    println!();
    println!("{:<22} {:>8} {:>8} {:>8}", "client", "tcp", "ws", "embed");
    for client in Client::ALL {
        let by = |transport: Transport| {
            CLIENT_SUITES
                .iter()
                .find(|s| s.client == client && s.transport == transport)
                .map_or_else(|| "n/a".to_owned(), |s| cell(s.name))
        };
        println!(
            "{:<22} {:>8} {:>8} {:>8}",
            client.label(),
            by(Transport::Tcp),
            by(Transport::Ws),
            by(Transport::Embedded)
        );
    }
    if let Some((_, outcomes)) = reports.iter().find(|(n, _)| n == DIFFERENTIAL) {
        let same = outcomes.iter().filter(|o| o.ok).count();
        if outcomes.is_empty() {
            println!(
                "{:<22} skipped (nats-server not installed)",
                "vs nats-server"
            );
        } else {
            println!(
                "{:<22} {same}/{} replies as nats-server's",
                "vs nats-server",
                outcomes.len()
            );
        }
    }
    println!();
}

/// One broker of the suite, on a client port and a websocket port.
struct Running {
    broker: Broker,
    tcp: u16,
    ws: u16,
}

/// The brokers the client suites talk to, each from its own config file.
struct Brokers {
    /// TCP + ws, max_payload 64 KB; restarted by the reconnect scenario.
    main: Running,
    /// ws with `compression: true`, logging at debug level to see which
    /// connections negotiated permessage-deflate.
    compression: Running,
    compression_log: PathBuf,
    /// wss with the suite's own CA.
    wss: Running,
    /// ws with `allowed_origins` naming the browser page's first origin.
    origins: Running,
    page_ports: [u16; 2],
    /// Users allowed only STANDARD or only WEBSOCKET connections.
    users: Running,
    /// Two accounts sharing a stream and a service.
    accounts: Running,
    /// The embedding example: a broker inside an axum application, NATS
    /// over websocket on its `/` and `/nats` routes.
    embedded: Running,
}

impl Brokers {
    fn start(
        starling: &Path,
        embed: &Path,
        work: &Workdir,
        ready: &install::Ready,
    ) -> Result<Self, String> {
        let log = |name: &str| work.logs.join(format!("broker-{name}.log"));
        // Every broker: `listen` on a free port, `top` options, and a
        // websocket block on another free port with `websocket` options.
        let start = |name: &str, top: &str, websocket: &str, args: &[&str]| {
            let (tcp, ws) = (free_port()?, free_port()?);
            let _ = std::fs::remove_file(log(name));
            let text = format!(
                "listen: \"127.0.0.1:{tcp}\"\n{top}\nwebsocket {{\n  listen: \"127.0.0.1:{ws}\"\n{websocket}\n}}\n"
            );
            let broker = Broker::start(
                starling,
                work.dir.join(format!("{name}.conf")),
                &text,
                args,
                vec![loopback(tcp), loopback(ws)],
                Some(log(name)),
            )
            .map_err(|e| format!("broker {name}: {e}"))?;
            Ok::<_, String>(Running { broker, tcp, ws })
        };
        let max_payload = format!("max_payload: {MAX_PAYLOAD}");
        let page_ports = [free_port()?, free_port()?];
        Ok(Self {
            main: start("main", &max_payload, "  no_tls: true", &[])?,
            compression: start(
                "compression",
                &max_payload,
                "  no_tls: true\n  compression: true",
                &["-D"],
            )?,
            compression_log: log("compression"),
            wss: start(
                "wss",
                &max_payload,
                &format!(
                    "  tls {{\n    cert_file: \"{}\"\n    key_file: \"{}\"\n  }}",
                    ready.certs.cert.display(),
                    ready.certs.key.display()
                ),
                &[],
            )?,
            origins: start(
                "origins",
                &max_payload,
                &format!(
                    "  no_tls: true\n  allowed_origins: [\"http://127.0.0.1:{}\"]",
                    page_ports[0]
                ),
                &[],
            )?,
            page_ports,
            users: start("users", USERS, "  no_tls: true", &[])?,
            accounts: start("accounts", ACCOUNTS, "  no_tls: true", &[])?,
            embedded: start_embedded(embed, work, &log("embedded"))?,
        })
    }

    /// The settings a client suite gets in `$CONFORMANCE`.
    fn settings(&self, suite: ClientSuite, ready: &install::Ready) -> Value {
        let (url, users_url, accounts_url) = match suite.transport {
            Transport::Tcp => (
                format!("nats://127.0.0.1:{}", self.main.tcp),
                format!("nats://127.0.0.1:{}", self.users.tcp),
                format!("nats://127.0.0.1:{}", self.accounts.tcp),
            ),
            Transport::Ws | Transport::Embedded => (
                format!("ws://127.0.0.1:{}", self.main.ws),
                format!("ws://127.0.0.1:{}", self.users.ws),
                format!("ws://127.0.0.1:{}", self.accounts.ws),
            ),
        };
        let mut settings = json!({
            "transport": suite.transport.label(),
            "url": url,
            "users_url": users_url,
            "accounts_url": accounts_url,
            "compression_url": format!("ws://127.0.0.1:{}", self.compression.ws),
            // The certificate names 127.0.0.1 and localhost.
            "wss_url": format!("wss://localhost:{}", self.wss.ws),
            "origins_url": format!("ws://127.0.0.1:{}", self.origins.ws),
            "page_ports": self.page_ports,
            "ca_file": ready.certs.ca.display().to_string(),
            "chromium": install::CHROMIUM,
            "max_payload": MAX_PAYLOAD,
            "scenarios": suite.scenarios(),
        });
        if suite.transport == Transport::Embedded {
            // async-nats puts no path in its websocket URL: it uses `/`,
            // which the example serves too; the browser uses `/nats`.
            let root = format!("ws://127.0.0.1:{}", self.embedded.ws);
            let url = match suite.client {
                Client::Browser => format!("{root}/nats"),
                _ => root,
            };
            settings["url"] = json!(url);
            settings["compression_url"] = json!(url);
        }
        settings
    }
}

/// The embedding example, started as a broker: its NATS port from a
/// config file, its HTTP port from `--http`.
fn start_embedded(embed: &Path, work: &Workdir, log: &Path) -> Result<Running, String> {
    let (tcp, ws) = (free_port()?, free_port()?);
    let _ = std::fs::remove_file(log);
    let http = format!("127.0.0.1:{ws}");
    let broker = Broker::start(
        embed,
        work.dir.join("embedded.conf"),
        &format!("listen: \"127.0.0.1:{tcp}\"\nmax_payload: {MAX_PAYLOAD}\n"),
        &["--http", &http],
        vec![loopback(tcp), loopback(ws)],
        Some(log.to_path_buf()),
    )
    .map_err(|e| format!("embedded broker: {e}"))?;
    Ok(Running { broker, tcp, ws })
}

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

fn run_client_suite(
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
