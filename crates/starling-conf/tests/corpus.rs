//! The configuration corpus: every file under `corpus/ok` must parse and
//! every file's result (the value tree, or the error with its place) must
//! equal its `.expected` file. `UPDATE_EXPECT=1` rewrites the expectations
//! (review the diff). Files under `corpus/err` may parse here and fail
//! only as server options; the binary's tests check those
//! (`crates/starling/tests/config_corpus.rs`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use starling_conf::{ConfParser, FsLoader, Value, ValueKind};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The environment the corpus sees (the binary's test sets the same).
fn env(name: &str) -> Option<String> {
    match name {
        "STARLING_TEST_PORT" => Some("4333".to_owned()),
        "STARLING_TEST_HOST" => Some("127.0.0.1".to_owned()),
        _ => None,
    }
}

fn dump(value: &Value, indent: usize, out: &mut String) {
    let at = format!("@{}:{}", value.span.line, value.span.column);
    match &value.kind {
        ValueKind::Map(map) => {
            let _ = writeln!(out, "map {at}");
            for (key, value) in map.iter() {
                let _ = write!(
                    out,
                    "{:indent$}  {:?} @{}:{} = ",
                    "", key.name, key.span.line, key.span.column
                );
                dump(value, indent + 2, out);
            }
        }
        ValueKind::Array(items) => {
            let _ = writeln!(out, "array {at}");
            for item in items {
                let _ = write!(out, "{:indent$}  - ", "");
                dump(item, indent + 2, out);
            }
        }
        ValueKind::String(s) => {
            let _ = writeln!(out, "string {s:?} {at}");
        }
        ValueKind::Integer(i) => {
            let _ = writeln!(out, "integer {i} {at}");
        }
        ValueKind::Float(x) => {
            let _ = writeln!(out, "float {x} {at}");
        }
        ValueKind::Bool(b) => {
            let _ = writeln!(out, "bool {b} {at}");
        }
        ValueKind::DateTime(d) => {
            let _ = writeln!(out, "datetime {d} {at}");
        }
        _ => {
            let _ = writeln!(out, "other {at}");
        }
    }
}

fn result_text(path: &Path) -> (bool, String) {
    let parser = ConfParser::new(&env, &FsLoader);
    match parser.parse_file(path) {
        Ok(value) => {
            let mut out = String::new();
            dump(&value, 0, &mut out);
            (true, out)
        }
        Err(error) => {
            // File names relative to the corpus, so expectations are portable.
            let text = error
                .to_string()
                .replace(&format!("{}/", corpus().display()), "");
            (false, format!("error: {text}\n"))
        }
    }
}

#[test]
fn corpus_matches_expectations() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    let mut count = 0;
    for dir in ["ok", "err"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(corpus().join(dir))
            .expect("corpus directory")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        files.sort();
        for path in files {
            count += 1;
            let (parsed, text) = result_text(&path);
            if dir == "ok" && !parsed {
                failures.push(format!("{}: should parse, got {text}", path.display()));
            }
            let expected_path = path.with_extension("expected");
            if update {
                std::fs::write(&expected_path, &text).expect("expectation written");
                continue;
            }
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
            if expected != text {
                failures.push(format!(
                    "{}:\nexpected:\n{expected}got:\n{text}",
                    path.display()
                ));
            }
        }
    }
    assert!(count >= 60, "the corpus holds {count} files");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
