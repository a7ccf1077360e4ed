//! What the client suites need, installed when missing: nats-py and aiohttp
//! (pip, into `target/conformance/python`), the JavaScript clients and
//! playwright-core (npm, from the committed lock file, into
//! `target/conformance/js`), Debian's Chromium (apt-get; never a browser
//! download by a test tool), and a throwaway CA and server certificate for
//! wss (openssl).
//!
//! Installs are skipped when the lock file or requirements are unchanged
//! since the last install, so a second run starts at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Client, Workdir};

/// Debian's Chromium, driven by playwright-core.
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

/// The JavaScript files copied next to their node_modules.
const JS_FILES: &[&str] = &[
    "package.json",
    "package-lock.json",
    "scenarios.mjs",
    "leaf.mjs",
    "node.mjs",
    "browser.mjs",
    "index.html",
];

/// The wss listener's certificate and the CA the clients trust.
pub(crate) struct Certs {
    pub(crate) ca: PathBuf,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

/// Where the installed tools are, and which clients cannot run (and why).
pub(crate) struct Ready {
    pub(crate) certs: Certs,
    pub(crate) python_path: PathBuf,
    pub(crate) js_dir: PathBuf,
    missing: Vec<(Client, String)>,
}

impl Ready {
    /// Why `client` cannot run here, if it cannot.
    pub(crate) fn missing(&self, client: Client) -> Option<String> {
        self.missing
            .iter()
            .find(|(c, _)| *c == client)
            .map(|(_, why)| why.clone())
    }
}

pub(crate) fn nats_server_installed() -> bool {
    Command::new("nats-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs what `clients` need; the certificates are required by every
/// client suite, so failing to make them is an error.
pub(crate) fn prepare(work: &Workdir, clients: &[Client]) -> Result<Ready, String> {
    let certs = make_certs(&work.dir.join("certs"))?;
    let mut ready = Ready {
        certs,
        python_path: work.dir.join("python"),
        js_dir: work.dir.join("js"),
        missing: Vec::new(),
    };
    if clients.contains(&Client::Python)
        && let Err(why) = install_python(work, &ready.python_path)
    {
        ready.missing.push((Client::Python, why));
    }
    if clients
        .iter()
        .any(|c| matches!(c, Client::Node | Client::Browser))
        && let Err(why) = install_js(work, &ready.js_dir)
    {
        ready.missing.push((Client::Node, why.clone()));
        ready.missing.push((Client::Browser, why));
    }
    if clients.contains(&Client::Browser)
        && ready.missing(Client::Browser).is_none()
        && let Err(why) = install_chromium()
    {
        ready.missing.push((Client::Browser, why));
    }
    Ok(ready)
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: can't run {:?}: {e}", command.get_program()))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Err(format!("{what} failed ({}): {last}", output.status))
    }
}

/// Skips an install whose inputs equal those of the last successful one.
fn unchanged(stamp: &Path, inputs: &[u8]) -> bool {
    std::fs::read(stamp).is_ok_and(|old| old == inputs)
}

fn install_python(work: &Workdir, target: &Path) -> Result<(), String> {
    let requirements = work.root.join("tests/conformance/python/requirements.txt");
    let inputs = std::fs::read(&requirements)
        .map_err(|e| format!("can't read {}: {e}", requirements.display()))?;
    let stamp = target.join(".installed-requirements");
    if unchanged(&stamp, &inputs) {
        return Ok(());
    }
    println!("conformance: installing nats-py into {}", target.display());
    let _ = std::fs::remove_dir_all(target);
    run(
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(target)
            .arg("-r")
            .arg(&requirements),
        "pip install",
    )?;
    std::fs::write(&stamp, inputs).map_err(|e| format!("can't write {}: {e}", stamp.display()))
}

fn install_js(work: &Workdir, target: &Path) -> Result<(), String> {
    let source = work.root.join("tests/conformance/js");
    std::fs::create_dir_all(target)
        .map_err(|e| format!("can't create {}: {e}", target.display()))?;
    for file in JS_FILES {
        std::fs::copy(source.join(file), target.join(file))
            .map_err(|e| format!("can't copy {file}: {e}"))?;
    }
    let lock = std::fs::read(source.join("package-lock.json"))
        .map_err(|e| format!("can't read package-lock.json: {e}"))?;
    let stamp = target.join("node_modules/.installed-lock");
    if unchanged(&stamp, &lock) {
        return Ok(());
    }
    println!(
        "conformance: installing the JavaScript clients into {}",
        target.display()
    );
    run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(target),
        "npm ci",
    )?;
    std::fs::write(&stamp, lock).map_err(|e| format!("can't write {}: {e}", stamp.display()))
}

fn install_chromium() -> Result<(), String> {
    if Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    println!("conformance: installing Debian's chromium");
    apt_install("chromium")?;
    if Path::new(CHROMIUM).exists() {
        Ok(())
    } else {
        Err(format!(
            "{CHROMIUM} is missing after apt-get install chromium"
        ))
    }
}

/// apt-get install, refreshing the package lists first if they are stale.
pub(crate) fn apt_install(package: &str) -> Result<(), String> {
    let install = || {
        run(
            Command::new("apt-get")
                .args(["install", "-y", "-qq", package])
                .env("DEBIAN_FRONTEND", "noninteractive"),
            &format!("apt-get install {package}"),
        )
    };
    install().or_else(|_| {
        run(
            Command::new("apt-get").args(["update", "-qq"]),
            "apt-get update",
        )?;
        install()
    })
}

/// A fresh CA and a server certificate for 127.0.0.1 and localhost.
fn make_certs(dir: &Path) -> Result<Certs, String> {
    make_certs_for(dir, "IP:127.0.0.1,DNS:localhost")
}

/// A fresh CA and a server certificate for `san` (openssl's
/// `subjectAltName` syntax), in `dir`.
pub(crate) fn make_certs_for(dir: &Path, san: &str) -> Result<Certs, String> {
    if Command::new("openssl").arg("version").output().is_err() {
        apt_install("openssl")?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("can't create {}: {e}", dir.display()))?;
    let certs = Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("server-cert.pem"),
        key: dir.join("server-key.pem"),
    };
    let ca_key = dir.join("ca-key.pem");
    let csr = dir.join("server.csr");
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
    )
    .map_err(|e| format!("can't write {}: {e}", ext.display()))?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-days",
                "7",
                "-subj",
                "/CN=Starling conformance CA",
            ])
            .args(ec)
            .arg("-keyout")
            .arg(&ca_key)
            .arg("-out")
            .arg(&certs.ca),
        "openssl (CA)",
    )?;
    run(
        Command::new("openssl")
            .args(["req", "-subj", "/CN=localhost"])
            .args(ec)
            .arg("-keyout")
            .arg(&certs.key)
            .arg("-out")
            .arg(&csr),
        "openssl (request)",
    )?;
    run(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "7", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(&certs.ca)
            .arg("-CAkey")
            .arg(&ca_key)
            .arg("-CAcreateserial")
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&certs.cert),
        "openssl (certificate)",
    )?;
    Ok(certs)
}
