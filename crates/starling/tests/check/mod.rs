//! `-t` runs shared by the configuration tests: Starling's and, when it is
//! installed, nats-server's.

use std::path::Path;
use std::process::Command;

/// `program -t -c file` with the corpus's environment: valid or not, and
/// what it said.
pub(crate) fn check(program: &str, file: &Path) -> (bool, String) {
    let out = Command::new(program)
        .args(["-t", "-c"])
        .arg(file)
        .env("STARLING_TEST_PORT", "4333")
        .env("STARLING_TEST_HOST", "127.0.0.1")
        .output()
        .expect("the program runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text.trim_end().to_owned())
}

/// True when `nats-server` is on the PATH.
pub(crate) fn nats_server_installed() -> bool {
    Command::new("nats-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
