//! `cargo xtask ci`: the checks CI runs, in order, stopping at the first
//! failure. Tools that a fresh machine may lack (cargo-deny, cargo-fuzz) are
//! skipped with a note locally; under CI (`CI=true`) a missing tool fails.

use std::process::Command;
use std::time::Instant;

use crate::workspace_root;

struct Step {
    label: &'static str,
    argv: &'static [&'static str],
    /// A cargo subcommand the step needs that may not be installed.
    /// (Each fuzz target runs for 30 s, from the committed seeds.)
    needs: Option<&'static str>,
}

const STEPS: &[Step] = &[
    Step {
        label: "fmt",
        argv: &["cargo", "fmt", "--all", "--", "--check"],
        needs: None,
    },
    Step {
        label: "clippy",
        argv: &[
            "cargo",
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        needs: None,
    },
    Step {
        label: "doc",
        argv: &["cargo", "doc", "--workspace", "--no-deps", "--locked"],
        needs: None,
    },
    Step {
        label: "test",
        argv: &["cargo", "test", "--workspace", "--locked"],
        needs: None,
    },
    Step {
        label: "conformance",
        argv: &["cargo", "xtask", "conformance"],
        needs: None,
    },
    Step {
        label: "deny",
        argv: &[
            "cargo", "deny", "--locked", "check", "licenses", "bans", "sources",
        ],
        needs: Some("deny"),
    },
    Step {
        label: "fuzz proto_parse",
        argv: &[
            "cargo",
            "fuzz",
            "run",
            "proto_parse",
            "fuzz/corpus/proto_parse",
            "fuzz/seeds/proto_parse",
            "--",
            "-max_total_time=30",
        ],
        needs: Some("fuzz"),
    },
    Step {
        label: "fuzz leaf_parse",
        argv: &[
            "cargo",
            "fuzz",
            "run",
            "leaf_parse",
            "fuzz/corpus/leaf_parse",
            "fuzz/seeds/leaf_parse",
            "--",
            "-max_total_time=30",
        ],
        needs: Some("fuzz"),
    },
    Step {
        label: "fuzz router_ops",
        argv: &[
            "cargo",
            "fuzz",
            "run",
            "router_ops",
            "fuzz/corpus/router_ops",
            "fuzz/seeds/router_ops",
            "--",
            "-max_total_time=30",
        ],
        needs: Some("fuzz"),
    },
    Step {
        label: "fuzz conf_parse",
        argv: &[
            "cargo",
            "fuzz",
            "run",
            "conf_parse",
            "fuzz/corpus/conf_parse",
            "fuzz/seeds/conf_parse",
            "--",
            "-max_total_time=30",
        ],
        needs: Some("fuzz"),
    },
    Step {
        label: "fuzz ws_frame",
        argv: &[
            "cargo",
            "fuzz",
            "run",
            "ws_frame",
            "fuzz/corpus/ws_frame",
            "fuzz/seeds/ws_frame",
            "--",
            "-max_total_time=30",
        ],
        needs: Some("fuzz"),
    },
    Step {
        label: "fuzz ws_upgrade",
        argv: &[
            "cargo",
            "fuzz",
            "run",
            "ws_upgrade",
            "fuzz/corpus/ws_upgrade",
            "fuzz/seeds/ws_upgrade",
            "--",
            "-max_total_time=30",
        ],
        needs: Some("fuzz"),
    },
    Step {
        label: "fuzz ws_inflate",
        argv: &[
            "cargo",
            "fuzz",
            "run",
            "ws_inflate",
            "fuzz/corpus/ws_inflate",
            "fuzz/seeds/ws_inflate",
            "--",
            "-max_total_time=30",
        ],
        needs: Some("fuzz"),
    },
    Step {
        label: "fuzz auth_config",
        argv: &[
            "cargo",
            "fuzz",
            "run",
            "auth_config",
            "fuzz/corpus/auth_config",
            "fuzz/seeds/auth_config",
            "--",
            "-max_total_time=30",
        ],
        needs: Some("fuzz"),
    },
    Step {
        label: "fuzz jwt",
        argv: &[
            "cargo",
            "fuzz",
            "run",
            "jwt",
            "fuzz/corpus/jwt",
            "fuzz/seeds/jwt",
            "--",
            "-max_total_time=30",
        ],
        needs: Some("fuzz"),
    },
    Step {
        label: "fuzz subject_transform",
        argv: &[
            "cargo",
            "fuzz",
            "run",
            "subject_transform",
            "fuzz/corpus/subject_transform",
            "fuzz/seeds/subject_transform",
            "--",
            "-max_total_time=30",
        ],
        needs: Some("fuzz"),
    },
];

fn has_cargo_subcommand(name: &str) -> bool {
    Command::new("cargo")
        .args([name, "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub(crate) fn run() -> Result<(), String> {
    let root = workspace_root();
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let total = STEPS.len();
    let mut skipped = Vec::new();
    for (i, step) in STEPS.iter().enumerate() {
        let n = i + 1;
        if let Some(tool) = step.needs
            && !has_cargo_subcommand(tool)
        {
            if in_ci {
                return Err(format!(
                    "{}: cargo-{tool} is not installed (.ci/run installs it)",
                    step.label
                ));
            }
            println!(
                "ci [{n}/{total}] {}: skipped, cargo-{tool} is not installed",
                step.label
            );
            skipped.push(step.label);
            continue;
        }
        println!("ci [{n}/{total}] {}: {}", step.label, step.argv.join(" "));
        let started = Instant::now();
        let mut command = Command::new(step.argv[0]);
        command
            .args(&step.argv[1..])
            .current_dir(&root)
            .env("RUSTDOCFLAGS", "-D warnings");
        if step.needs == Some("fuzz") {
            // libFuzzer adds what it finds to the first directory; the
            // committed seeds (the second) stay as they are.
            let corpus = root.join(step.argv[4]);
            std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
            // cargo-fuzz needs nightly-only flags; this machine has one stable toolchain.
            command.env("RUSTC_BOOTSTRAP", "1");
        }
        let status = command
            .status()
            .map_err(|e| format!("{}: can't run {}: {e}", step.label, step.argv[0]))?;
        if !status.success() {
            return Err(format!("{} failed ({status})", step.label));
        }
        println!(
            "ci [{n}/{total}] {}: ok in {:.1} s",
            step.label,
            started.elapsed().as_secs_f64()
        );
    }
    if skipped.is_empty() {
        println!("ci: all {total} steps passed");
    } else {
        println!(
            "ci: passed, {} skipped ({})",
            skipped.len(),
            skipped.join(", ")
        );
    }
    Ok(())
}
