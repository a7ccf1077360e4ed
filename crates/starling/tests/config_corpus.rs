//! Every file of the configuration corpus through `starling -t`: files in
//! `ok/` are valid, files in `err/` are refused with file, line and column.
//! When nats-server is installed, `nats-server -t` runs on the same files
//! and the two must agree (accept or refuse), except where listed below
//! with the reason.

use std::path::{Path, PathBuf};

mod check;

use check::{check, nats_server_installed};

const BIN: &str = env!("CARGO_BIN_EXE_starling");

/// Where Starling deliberately disagrees with `nats-server -t` because
/// nats-server is wrong: it accepts nonsense, or `-t` passes a file the
/// server then refuses to start with.
const EXCEPTIONS: &[(&str, &str)] = &[
    (
        "err/0001_nonsense_brackets.conf",
        "nats-server's lexer skips a top-level '{' and accepts the rest; Starling refuses nonsense",
    ),
    (
        "err/0009_port_out_of_range.conf",
        "nats-server -t accepts port 70000 and fails only when it binds",
    ),
    (
        "err/0015_key_without_value.conf",
        "nats-server silently ignores a key with no value",
    ),
    (
        "err/0022_size_out_of_range.conf",
        "nats-server lets 9999999EB overflow silently",
    ),
    (
        "err/0026_payload_above_pending.conf",
        "nats-server checks this only at start-up; Starling's -t catches it",
    ),
    (
        "err/0029_stray_closing_brace.conf",
        "nats-server's lexer takes a top-level '}' as a value terminator",
    ),
    (
        "err/0035_websocket_without_tls.conf",
        "nats-server finds this only at start-up (websocket requires TLS configuration)",
    ),
    (
        "err/0042_websocket_bad_origin.conf",
        "nats-server logs an unparsable allowed origin and runs without it; Starling refuses the mistake",
    ),
    (
        "err/0044_websocket_jwt_cookie_without_operator.conf",
        "nats-server finds this only at start-up (jwt_cookie needs operator mode)",
    ),
    (
        "err/0045_no_auth_user_not_a_user.conf",
        "nats-server finds this only at start-up (no_auth_user must name a user)",
    ),
    (
        "err/0046_websocket_token_with_users.conf",
        "nats-server finds this only at start-up (websocket token not compatible with users)",
    ),
    (
        "ok/0020_durations_seconds.conf",
        "nats-server -t fails on its own warning for durations given in seconds, yet nats-server starts with them",
    ),
];

/// Valid nats-server files that use what Starling does not support yet.
/// Starling must refuse them, naming the option and saying "not supported
/// yet" (the configuration issue's rule: an option that is not supported
/// is refused at start-up, never ignored).
const NOT_SUPPORTED: &[&str] = &["err/0038_gateway_not_supported_yet.conf"];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../starling-conf/tests/corpus")
}

#[test]
fn starling_check_agrees_with_the_corpus_and_nats_server() {
    let live = nats_server_installed();
    let mut failures = Vec::new();
    let mut files = 0;
    for dir in ["ok", "err"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus().join(dir))
            .expect("corpus")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        paths.sort();
        for path in paths {
            files += 1;
            let name = format!(
                "{dir}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            let (valid, text) = check(BIN, &path);
            if valid != (dir == "ok") {
                failures.push(format!("{name}: starling -t says valid={valid}:\n{text}"));
                continue;
            }
            if !valid {
                // Every complaint names the file with a line and column (or
                // the file alone when it cannot be read).
                for line in text.lines() {
                    let shown = line.trim_start_matches("starling: ");
                    let located = shown.contains(".conf:")
                        && shown
                            .split(':')
                            .nth(1)
                            .is_some_and(|l| l.parse::<u32>().is_ok());
                    if !located {
                        failures.push(format!("{name}: error without a place: {line}"));
                    }
                }
            }
            if live {
                let (nats_valid, nats_text) = check("nats-server", &path);
                let unsupported = NOT_SUPPORTED.contains(&name.as_str());
                if unsupported {
                    if !nats_valid || !text.contains("is not supported yet") {
                        failures.push(format!(
                            "{name}: listed as not supported: nats-server valid={nats_valid}, starling said:\n{text}"
                        ));
                    }
                    continue;
                }
                let excepted = EXCEPTIONS.iter().any(|(file, _)| *file == name);
                if nats_valid != valid && !excepted {
                    failures.push(format!("{name}: nats-server valid={nats_valid}, starling valid={valid}\n{nats_text}"));
                }
                if nats_valid == valid && excepted {
                    failures.push(format!(
                        "{name}: listed as an exception but both agree; remove it"
                    ));
                }
            }
        }
    }
    assert!(files >= 60, "the corpus holds {files} files");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
