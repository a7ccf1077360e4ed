//! Generated layouts through `starling -t` and, when it is installed,
//! `nats-server -t`: random valid configurations (real options, so both
//! servers check them), each rendered in a random layout, must be accepted
//! by both; the same configurations with one deliberate layout flaw must
//! be refused by both. A disagreement prints the files, ready to be added
//! to the golden corpus (`crates/starling-conf/tests/corpus`).
//!
//! `STARLING_LAYOUT_SEEDS=N` runs N seeds of each kind instead of the
//! default sample.

use std::path::{Path, PathBuf};

use starling_conf::fuzzing::layout::{Flaw, Rendering, Rng, render_with};
use starling_conf::{Key, Map, Span, Value, ValueKind};

mod check;

use check::{check, nats_server_installed};

const BIN: &str = env!("CARGO_BIN_EXE_starling");

fn value(kind: ValueKind) -> Value {
    Value {
        kind,
        span: Span::default(),
    }
}

fn string(s: &str) -> Value {
    value(ValueKind::String(s.to_owned()))
}

fn integer(i: i64) -> Value {
    value(ValueKind::Integer(i))
}

fn boolean(b: bool) -> Value {
    value(ValueKind::Bool(b))
}

fn strings(items: &[&str]) -> Value {
    value(ValueKind::Array(items.iter().map(|s| string(s)).collect()))
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    for (key, v) in entries {
        m.insert(Key::new(key, Span::default()), v);
    }
    value(ValueKind::Map(m))
}

/// Options both servers accept, each with a random valid value; a random
/// subset in random order makes a configuration.
fn random_config(rng: &mut Rng) -> Map {
    let mut options: Vec<(&str, Value)> = vec![
        ("port", integer(1024 + rng.below(60_000) as i64)),
        (
            "host",
            string(rng.pick(&["127.0.0.1", "0.0.0.0", "localhost", "::1"])),
        ),
        (
            "server_name",
            string(rng.pick(&["starling", "node_a", "n-1", "block\n"])),
        ),
        ("debug", boolean(rng.chance(50))),
        ("trace", boolean(rng.chance(50))),
        ("logtime", boolean(rng.chance(50))),
        (
            "max_payload",
            integer(rng.pick(&[1024, 65_536, 1024 * 1024, 8 * 1024 * 1024])),
        ),
        (
            "max_pending",
            integer(rng.pick(&[64 * 1024 * 1024, 128 * 1024 * 1024])),
        ),
        ("max_connections", integer(1 + rng.below(100_000) as i64)),
        ("max_control_line", integer(rng.pick(&[4096, 8192, 1024]))),
        ("max_subscriptions", integer(rng.below(1000) as i64)),
        ("ping_interval", string(rng.pick(&["2m", "30s", "1m30s"]))),
        ("ping_max", integer(1 + rng.below(5) as i64)),
        ("write_deadline", string(rng.pick(&["10s", "2s", "500ms"]))),
        (
            "websocket",
            map(vec![
                ("port", integer(1024 + rng.below(60_000) as i64)),
                ("no_tls", boolean(true)),
                ("compression", boolean(rng.chance(50))),
                ("same_origin", boolean(rng.chance(50))),
                (
                    "allowed_origins",
                    strings(&["http://localhost:8080", "https://example.com"][..rng.below(3)]),
                ),
                ("handshake_timeout", string("5s")),
            ]),
        ),
    ];
    let permissions = map(vec![
        (
            "publish",
            if rng.chance(50) {
                strings(&["foo.>", "bar.*"])
            } else {
                map(vec![
                    ("allow", strings(&["foo.>"])),
                    ("deny", strings(&["foo.secret"])),
                ])
            },
        ),
        ("subscribe", strings(&["_INBOX.>", "foo.*"])),
    ]);
    let auth = if rng.chance(50) {
        map(vec![
            (
                "users",
                value(ValueKind::Array(vec![
                    map(vec![
                        ("user", string("alice")),
                        ("password", string("s3cret with space")),
                        ("permissions", permissions),
                    ]),
                    map(vec![("user", string("bob")), ("password", string("pw"))]),
                ])),
            ),
            ("timeout", integer(2)),
        ])
    } else {
        map(vec![("token", string("t0ken#not-a-comment"))])
    };
    options.push(("authorization", auth));
    let mut config = Map::new();
    let mut keep: Vec<(&str, Value)> = options.into_iter().filter(|_| rng.chance(60)).collect();
    for i in (1..keep.len()).rev() {
        keep.swap(i, rng.below(i + 1));
    }
    // At least one map, so every flaw has a place.
    if !keep
        .iter()
        .any(|(_, v)| matches!(v.kind, ValueKind::Map(_)))
    {
        keep.push((
            "websocket",
            map(vec![("port", integer(8080)), ("no_tls", boolean(true))]),
        ));
    }
    for (key, v) in keep {
        config.insert(Key::new(key, Span::default()), v);
    }
    config
}

fn write(dir: &Path, rendering: &Rendering) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("temp dir");
    for (name, text) in &rendering.includes {
        std::fs::write(dir.join(name), text).expect("include written");
    }
    let main = dir.join("main.conf");
    std::fs::write(&main, &rendering.main).expect("config written");
    main
}

fn seeds(default: u64) -> u64 {
    std::env::var("STARLING_LAYOUT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn generated_layouts_agree_with_nats_server() {
    let live = nats_server_installed();
    let dir = std::env::temp_dir().join(format!("starling-layouts-{}", std::process::id()));
    let mut failures = Vec::new();
    let (mut valid_runs, mut flawed_runs) = (0, 0);
    for seed in 0..seeds(120) {
        let mut rng = Rng::new(seed);
        let config = random_config(&mut rng);
        // One plain rendering, then one with a flaw, from the same tree.
        for flaw in [None, Some(rng.pick(&Flaw::ALL))] {
            let rendering = render_with(&config, &mut rng, flaw);
            if flaw.is_some() && rendering.flaw.is_none() {
                continue;
            }
            let expect_valid = flaw.is_none();
            let file = write(&dir, &rendering);
            let (valid, said) = check(BIN, &file);
            if valid != expect_valid {
                failures.push(format!(
                    "seed {seed} ({flaw:?}): starling -t valid={valid}: {said}\n{}",
                    rendering
                ));
            }
            if live {
                let (nats_valid, nats_said) = check("nats-server", &file);
                if nats_valid != valid {
                    failures.push(format!(
                        "seed {seed} ({flaw:?}): nats-server -t valid={nats_valid} ({nats_said}), starling -t valid={valid} ({said})\n{}",
                        rendering
                    ));
                }
            }
            if expect_valid {
                valid_runs += 1;
            } else {
                flawed_runs += 1;
            }
        }
        if failures.len() > 3 {
            break;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        valid_runs >= 100 && flawed_runs >= 40,
        "{valid_runs} valid and {flawed_runs} flawed renderings"
    );
}
