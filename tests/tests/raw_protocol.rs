//! Scripted byte sessions, good and bad, against Starling and against what
//! nats-server 2.9.10 answered to the same bytes.
//!
//! nats-server's replies are recorded in `tests/recorded/` (INFO values that
//! differ between servers and runs are masked). When `nats-server` is on
//! PATH the replies are also recorded live and Starling is compared with
//! those; `STARLING_RECORD=1` rewrites the files from the live server.
//! Deliberate differences are listed with their reason and checked against
//! Starling's own expected reply.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use starling_server::ServerOptions;
use starling_tests::nats_server::NatsServer;
use starling_tests::sessions::{Case, Limits, all_cases, escape, mask_info};
use starling_tests::{RawClient, start_server};

/// A session's transcript: the masked INFO line, then the replies.
async fn transcript(addr: SocketAddr, input: &[u8], pongs: usize) -> String {
    let mut client = RawClient::connect(addr).await;
    client.send(input).await;
    let limit = Duration::from_secs(5);
    let (mut replies, mut closed) = (Vec::new(), false);
    if pongs == 0 {
        (replies, closed) = client.read_to_close(limit).await;
    } else {
        while replies.windows(6).filter(|w| w == b"PONG\r\n").count() < pongs && !closed {
            let (more, now_closed) = client.read_until(b"PONG\r\n", limit).await;
            if more.is_empty() && !now_closed {
                break;
            }
            replies.extend_from_slice(&more);
            closed = now_closed;
        }
    }
    let mut out = format!("{}\n", mask_info(&client.info));
    out.push_str(&escape(&replies));
    if closed {
        out.push_str("<closed>\n");
    }
    out
}

fn recorded_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("recorded")
        .join(format!("{name}.txt"))
}

async fn start_nats_server(limits: Limits) -> NatsServer {
    NatsServer::start(limits.config(), &[]).await
}

fn starling_options(limits: Limits, options: &mut ServerOptions) {
    match limits {
        Limits::Defaults => {}
        Limits::MaxSubscriptions2 => options.max_subscriptions = 2,
        Limits::MaxControlLine64 => options.max_control_line = 64,
        Limits::Permissions => {
            let root = starling_conf::parse_str(limits.config()).expect("config parses");
            options.auth = starling_server::options_from_config(&root)
                .expect("valid options")
                .server
                .auth;
        }
    }
}

#[tokio::test]
async fn replies_match_nats_server() {
    let live = NatsServer::installed();
    let record = std::env::var_os("STARLING_RECORD").is_some();
    assert!(
        !record || live,
        "STARLING_RECORD=1 needs nats-server on PATH"
    );
    let cases = all_cases();

    let mut failures = Vec::new();
    for limits in Limits::ALL {
        let starling = start_server(|o| starling_options(limits, o)).await;
        let nats = if live {
            Some(start_nats_server(limits).await)
        } else {
            None
        };
        for Case {
            name,
            input,
            pongs,
            differs,
            ..
        } in cases.iter().filter(|c| c.limits == limits)
        {
            let ours = transcript(starling.client_addr(), input, *pongs).await;
            let path = recorded_path(name);
            let theirs = match &nats {
                Some(nats) => {
                    let live = transcript(nats.addr, input, *pongs).await;
                    if record {
                        std::fs::write(&path, &live).expect("recording written");
                    }
                    live
                }
                None => std::fs::read_to_string(&path).unwrap_or_else(|_| {
                    panic!(
                        "{} is missing: record it with STARLING_RECORD=1",
                        path.display()
                    )
                }),
            };
            let info_line = theirs.lines().next().unwrap_or_default();
            let expected = match differs {
                Some((_, ours_expected)) => format!("{info_line}\n{ours_expected}"),
                None => theirs.clone(),
            };
            if ours != expected {
                failures.push(format!("--- {name}\nexpected:\n{expected}got:\n{ours}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} sessions differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
