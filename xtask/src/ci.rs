//! `cargo xtask ci`: the checks CI runs, in order, stopping at the first failure.

use std::process::Command;
use std::time::Instant;

use crate::workspace_root;

/// Each step: a label and the command line.
const STEPS: &[(&str, &[&str])] = &[
    ("fmt", &["cargo", "fmt", "--all", "--", "--check"]),
    (
        "clippy",
        &[
            "cargo",
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    ),
    (
        "doc",
        &["cargo", "doc", "--workspace", "--no-deps", "--locked"],
    ),
    ("test", &["cargo", "test", "--workspace", "--locked"]),
    (
        "deny",
        &[
            "cargo", "deny", "--locked", "check", "licenses", "bans", "sources",
        ],
    ),
];

pub(crate) fn run() -> Result<(), String> {
    let root = workspace_root();
    for (i, (label, argv)) in STEPS.iter().enumerate() {
        println!("ci [{}/{}] {label}: {}", i + 1, STEPS.len(), argv.join(" "));
        let started = Instant::now();
        let status = Command::new(argv[0])
            .args(&argv[1..])
            .current_dir(&root)
            .env("RUSTDOCFLAGS", "-D warnings")
            .status()
            .map_err(|e| format!("{label}: can't run {}: {e}", argv[0]))?;
        if !status.success() {
            return Err(format!("{label} failed ({status})"));
        }
        println!(
            "ci [{}/{}] {label}: ok in {:.1} s",
            i + 1,
            STEPS.len(),
            started.elapsed().as_secs_f64()
        );
    }
    println!("ci: all {} steps passed", STEPS.len());
    Ok(())
}
