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
//! reply that differs. The `natsgo-cluster` suite runs nats.go's own
//! cluster tests, unchanged, with every server they start a Starling
//! process (`conformance/natsgo.rs`).
//!
//! What a suite needs and the machine lacks is installed into
//! `target/conformance/` (pip and npm packages) or from Debian (Chromium,
//! openssl); a suite whose tools cannot be installed fails and says why.

mod brokers;
mod clients;
mod differential;
mod install;
mod natsgo;
mod report;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::workspace_root;
use brokers::Brokers;
use clients::run_client_suite;
use report::{print_progress, print_table};

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
/// Clients on both sides of a leaf link between a Starling hub and a
/// nats-server leaf (a Starling leaf where nats-server is missing), and
/// on two cluster members (Starling and nats-server, or Starling).
const LEAF: &[&str] = &[
    "leaf_pubsub",
    "leaf_request_reply",
    "leaf_queue",
    "cluster_pubsub",
    "cluster_request_reply",
    "cluster_queue",
];

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
/// nats.go's own cluster tests (see `natsgo.rs`).
const NATS_GO: &str = "natsgo-cluster";

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
        names.extend_from_slice(LEAF);
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
                println!("{NATS_GO:<12} {}", natsgo::TESTS.join(" "));
                return Ok(());
            }
            other => return Err(format!("unknown conformance option {other:?}")),
        }
    }
    let known: Vec<&str> = CLIENT_SUITES
        .iter()
        .map(|s| s.name)
        .chain([DIFFERENTIAL, NATS_GO])
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
    let run_natsgo = wanted(NATS_GO);
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

    let total = suites.len() + usize::from(run_differential) + usize::from(run_natsgo);
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
        print!(
            "conformance [{}/{total}] {DIFFERENTIAL:<12} ",
            suites.len() + 1
        );
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
    if run_natsgo {
        // Last: its tests take nats.go's fixed ports (4222, 6222, ...).
        print!("conformance [{total}/{total}] {NATS_GO:<12} ");
        let _ = std::io::stdout().flush();
        let t = Instant::now();
        let outcomes = natsgo::run(&starling, &work);
        print_progress(&outcomes, t.elapsed());
        reports.push((NATS_GO.to_owned(), outcomes));
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
