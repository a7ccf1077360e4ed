//! Repository rules that no compiler checks: the crate graph of
//! `docs/architecture.md`, sans-IO crates free of async runtimes, a module
//! doc at the top of every file, and no stray or vaguely named files.
//! `cargo test` runs these through the test at the bottom.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The only dependency arrows allowed between workspace crates.
const ALLOWED_ARROWS: &[(&str, &[&str])] = &[
    ("starling", &["starling-server", "starling-conf"]),
    (
        "starling-server",
        &[
            "starling-subject",
            "starling-proto",
            "starling-router",
            "starling-conf",
            "starling-auth",
            "starling-ws",
        ],
    ),
    ("starling-proto", &["starling-subject"]),
    ("starling-router", &["starling-subject"]),
    ("starling-auth", &["starling-subject", "starling-conf"]),
    ("starling-ws", &["starling-conf"]),
    ("starling-subject", &[]),
    ("starling-conf", &[]),
    (
        "starling-tests",
        &[
            "starling-server",
            "starling-ws",
            "starling-conf",
            "embed-axum",
        ],
    ),
    (
        "embed-axum",
        &["starling-server", "starling-ws", "starling-conf"],
    ),
    ("xtask", &[]),
];

/// Crates that must work without any async runtime.
const SANS_IO: &[&str] = &[
    "starling-subject",
    "starling-proto",
    "starling-router",
    "starling-conf",
    "starling-auth",
    "starling-ws",
];

/// Crates that would bring a runtime into a sans-IO crate.
const RUNTIMES: &[&str] = &[
    "tokio",
    "futures",
    "futures-util",
    "futures-core",
    "mio",
    "async-std",
    "smol",
];

/// Module names that say nothing about what they hold.
const VAGUE_NAMES: &[&str] = &["utils", "util", "helpers", "helper", "common", "misc"];

/// Lines the binary's sources may have in all (it stays thin).
const BINARY_MAX_LINES: usize = 400;

/// Lines one file of `starling-server` may have before its unit tests: a
/// file that grows past this is split by responsibility.
const SERVER_FILE_MAX_LINES: usize = 400;

/// Runs every rule and reports all violations together.
pub(crate) fn check_all(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    problems.extend(check_crate_graph(root)?);
    problems.extend(check_sources(root));
    problems.extend(check_server_modules(root));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("tidy found problems:\n  {}", problems.join("\n  ")))
    }
}

/// The host's target triple, so metadata covers only what builds here.
fn host_triple() -> Result<String, String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("can't run rustc: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .ok_or_else(|| "rustc -vV names no host".to_owned())
}

fn cargo_metadata(root: &Path) -> Result<Value, String> {
    let host = host_triple()?;
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--filter-platform",
            &host,
        ])
        .current_dir(root)
        .output()
        .map_err(|e| format!("can't run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata output: {e}"))
}

fn check_crate_graph(root: &Path) -> Result<Vec<String>, String> {
    let meta = cargo_metadata(root)?;
    let name_of: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    // Normal (non-dev, non-build) dependencies of each package.
    let mut normal: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut all: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().into_iter().flatten() {
        let Some(id) = node["id"].as_str() else {
            continue;
        };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let Some(pkg) = dep["pkg"].as_str() else {
                continue;
            };
            all.entry(id).or_default().push(pkg);
            let is_normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            if is_normal {
                normal.entry(id).or_default().push(pkg);
            }
        }
    }
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED_ARROWS.iter().copied().collect();
    let mut problems = Vec::new();
    for &member in &members {
        let name = name_of.get(member).copied().unwrap_or(member);
        let Some(arrows) = allowed.get(name) else {
            problems.push(format!(
                "crate {name} is not in the crate graph of docs/architecture.md"
            ));
            continue;
        };
        for &dep in all.get(member).into_iter().flatten() {
            let dep_name = name_of.get(dep).copied().unwrap_or(dep);
            if members.contains(dep) && !arrows.contains(&dep_name) {
                problems.push(format!("{name} may not depend on {dep_name}"));
            }
        }
        if SANS_IO.contains(&name) {
            let mut seen = BTreeSet::new();
            let mut stack = vec![member];
            while let Some(at) = stack.pop() {
                for &dep in normal.get(at).into_iter().flatten() {
                    if seen.insert(dep) {
                        stack.push(dep);
                    }
                }
            }
            for dep in seen {
                let dep_name = name_of.get(dep).copied().unwrap_or(dep);
                if RUNTIMES.contains(&dep_name) {
                    problems.push(format!("sans-IO crate {name} pulls in {dep_name}"));
                }
            }
        }
    }
    Ok(problems)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !matches!(
                name.as_ref(),
                "target" | "node_modules" | "corpus" | "artifacts" | ".git"
            ) {
                rust_files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

fn check_sources(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["crates", "tests", "xtask", "fuzz"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut problems = Vec::new();
    let mut binary_lines = 0;
    let (debug_macro, todo_macro) = (concat!("dbg", "!("), concat!("todo", "!("));
    for path in &files {
        let shown = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if [".bak", ".orig", ".rej", "~"]
            .iter()
            .any(|s| file_name.ends_with(s))
        {
            problems.push(format!("{shown}: stray file"));
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let stem = file_name.trim_end_matches(".rs");
        if VAGUE_NAMES.contains(&stem) {
            problems.push(format!("{shown}: name the module after what it holds"));
        }
        let Ok(text) = std::fs::read_to_string(path) else {
            problems.push(format!("{shown}: unreadable"));
            continue;
        };
        if !text.starts_with("//!") {
            problems.push(format!(
                "{shown}: must start with a //! line saying what the module owns"
            ));
        }
        if file_name == "lib.rs" && shown.starts_with("crates/") && !text.contains("//! ```") {
            problems.push(format!("{shown}: crate docs need an example"));
        }
        if text.contains(debug_macro) || text.contains(todo_macro) {
            problems.push(format!("{shown}: leftover debugging or unfinished code"));
        }
        if shown.starts_with("crates/starling/src/") {
            // The binary's own logic; its unit tests do not count.
            binary_lines += text
                .lines()
                .take_while(|l| !l.starts_with("#[cfg(test)]"))
                .count();
        }
    }
    if binary_lines > BINARY_MAX_LINES {
        problems.push(format!("crates/starling/src has {binary_lines} lines; the binary stays under {BINARY_MAX_LINES}"));
    }
    problems
}

/// `starling-server`'s modules: no cycle among its top-level modules
/// (each may use only those below it), and no file past
/// [`SERVER_FILE_MAX_LINES`] before its unit tests.
fn check_server_modules(root: &Path) -> Vec<String> {
    let src = root.join("crates/starling-server/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let module_of = |path: &Path| -> Option<String> {
        let relative = path.strip_prefix(&src).ok()?;
        let first = relative.components().next()?.as_os_str().to_string_lossy();
        let name = first.trim_end_matches(".rs").to_owned();
        (name != "lib").then_some(name)
    };
    let modules: BTreeSet<String> = files.iter().filter_map(|p| module_of(p)).collect();
    let mut problems = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let shown = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        let lines = text
            .lines()
            .take_while(|l| !l.starts_with("#[cfg(test)]"))
            .count();
        if lines > SERVER_FILE_MAX_LINES {
            problems.push(format!(
                "{shown} has {lines} lines; split it by responsibility (at most {SERVER_FILE_MAX_LINES})"
            ));
        }
        let Some(from) = module_of(path) else {
            continue;
        };
        for used in crate_paths(&text) {
            if used != from && modules.contains(&used) {
                edges.entry(from.clone()).or_default().insert(used);
            }
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        problems.push(format!(
            "starling-server's modules form a cycle: {}",
            cycle.join(" -> ")
        ));
    }
    problems
}

/// The first segment of every `crate::` path in `text`, including each
/// item of a `crate::{a, b::c}` group.
fn crate_paths(text: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        // `starling_server::...` and the like are other crates.
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        found.push(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(ident(rest));
        }
    }
    found
}

/// A cycle in `edges`, as the modules along it, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    #[test]
    fn module_cycles_are_found() {
        let paths = super::crate_paths(
            "use crate::a::B;\nuse crate::{b, c::{D, E}};\nx = starling_crate::z; crate::d::f()",
        );
        assert_eq!(paths, ["a", "b", "c", "d"]);
        let edges = |pairs: &[(&str, &str)]| {
            let mut map = super::BTreeMap::<String, super::BTreeSet<String>>::new();
            for (from, to) in pairs {
                map.entry((*from).to_owned())
                    .or_default()
                    .insert((*to).to_owned());
            }
            map
        };
        assert_eq!(super::find_cycle(&edges(&[("a", "b"), ("b", "c")])), None);
        assert_eq!(
            super::find_cycle(&edges(&[("a", "b"), ("b", "c"), ("c", "a")])),
            Some(vec![
                "a".to_owned(),
                "b".to_owned(),
                "c".to_owned(),
                "a".to_owned()
            ])
        );
    }

    #[test]
    fn repository_is_tidy() {
        if let Err(problems) = super::check_all(&crate::workspace_root()) {
            panic!("{problems}");
        }
    }
}
