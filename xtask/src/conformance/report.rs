//! What the conformance run prints: a line per suite as it ends, then a
//! table of client × transport and the suites against nats-server's own.

use std::time::Duration;

use super::{CLIENT_SUITES, Client, DIFFERENTIAL, NATS_GO, Outcome, Transport};

pub(super) fn print_progress(outcomes: &[Outcome], took: Duration) {
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
pub(super) fn print_table(reports: &[(String, Vec<Outcome>)]) {
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
    if let Some((_, outcomes)) = reports.iter().find(|(n, _)| n == NATS_GO) {
        println!(
            "{:<22} {}/{} of nats.go's cluster tests pass",
            "nats.go test suite",
            outcomes.iter().filter(|o| o.ok).count(),
            outcomes.len()
        );
    }
    println!();
}
