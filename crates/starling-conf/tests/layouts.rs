//! The grammar against generated layouts: random configuration trees, each
//! rendered in many layouts (separators, line breaks, brace and bracket
//! placement, quoting, terminators, comments, includes, CRLF), must parse
//! back to the same tree; the same trees with one deliberate layout flaw
//! must be refused with a place inside the file. The verdicts are checked
//! against nats-server itself in `crates/starling/tests/layout_differential.rs`.

use std::collections::HashMap;
use std::path::Path;

use starling_conf::fuzzing::layout::{Flaw, Rendering, Rng, render, render_with, shape};
use starling_conf::{ConfError, ConfParser, Key, Loader, Map, Span, Value, ValueKind};

/// Included files, served from memory.
struct Files(HashMap<String, String>);

impl Loader for Files {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        self.0
            .get(name.as_ref())
            .cloned()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}

fn parse(rendering: &Rendering) -> Result<Value, ConfError> {
    let files = Files(rendering.includes.iter().cloned().collect());
    let env = |_: &str| None;
    ConfParser::new(&env, &files).parse_str(&rendering.main, Path::new("conf"))
}

fn value(kind: ValueKind) -> Value {
    Value {
        kind,
        span: Span::default(),
    }
}

const KEYS: &[&str] = &[
    "port",
    "host",
    "name",
    "a",
    "b_2",
    "max-payload",
    "x.y",
    "users",
    "user",
    "password",
    "permissions",
    "Publish",
    "allow",
    "deny",
    "token",
    "list",
    "on_off",
    "nested",
    "empty",
    "k",
];

const STRINGS: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "foo.*.bar",
    "foo.>",
    "http://localhost:8080",
    "with space",
    "quote\"d",
    "back\\slash",
    "tab\there",
    "line\nbreak",
    "",
    "#not a comment",
    "// nor this",
    "a,b;c",
    "{braces} [brackets]",
    "$NOT_A_VARIABLE",
    "true",
    "no",
    "2m",
    "-dash",
    "it's",
    "caf\u{e9} \u{1f426}",
    "include",
    "=:",
    "line\n",
    "\n  a block\n  of lines\n",
];

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let kinds = if depth >= 3 { 3 } else { 5 };
    match rng.below(kinds) {
        0 => value(ValueKind::String(rng.pick(STRINGS).to_owned())),
        1 => {
            let i = match rng.below(4) {
                0 => rng.below(70_000) as i64,
                1 => -(rng.below(1000) as i64),
                2 => (1 + rng.below(64) as i64) * 1024 * 1024,
                _ => (1 + rng.below(9) as i64) * 1000,
            };
            value(ValueKind::Integer(i))
        }
        2 => value(ValueKind::Bool(rng.chance(50))),
        3 => value(ValueKind::Map(random_map(rng, depth + 1))),
        _ => {
            let items = (0..rng.below(5))
                .map(|_| random_value(rng, depth + 1))
                .collect();
            value(ValueKind::Array(items))
        }
    }
}

fn random_map(rng: &mut Rng, depth: usize) -> Map {
    let mut map = Map::new();
    for _ in 0..rng.below(if depth == 0 { 8 } else { 4 }) + usize::from(depth == 0) {
        let key = rng.pick(KEYS);
        if map.get(key).is_none() {
            map.insert(Key::new(key, Span::default()), random_value(rng, depth));
        }
    }
    map
}

#[test]
fn every_layout_parses_to_the_same_tree() {
    let mut failures = Vec::new();
    for seed in 0..2_000u64 {
        let mut rng = Rng::new(seed);
        let tree = value(ValueKind::Map(random_map(&mut rng, 0)));
        let expected = shape(&tree);
        let ValueKind::Map(map) = &tree.kind else {
            continue;
        };
        for _ in 0..4 {
            let rendering = render(map, &mut rng);
            match parse(&rendering) {
                Ok(parsed) if shape(&parsed) == expected => {}
                Ok(parsed) => failures.push(format!(
                    "seed {seed}: a different tree\n{}expected:\n{expected}got:\n{}",
                    rendering,
                    shape(&parsed)
                )),
                Err(e) => failures.push(format!("seed {seed}: refused: {e}\n{}", rendering)),
            }
        }
        if failures.len() > 3 {
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_flaw_is_refused_with_a_place() {
    let mut failures = Vec::new();
    let mut rendered: HashMap<String, usize> = HashMap::new();
    for seed in 0..3_000u64 {
        let mut rng = Rng::new(seed);
        let tree = random_map(&mut rng, 0);
        let flaw = rng.pick(&Flaw::ALL);
        let rendering = render_with(&tree, &mut rng, Some(flaw));
        if rendering.flaw.is_none() {
            continue;
        }
        *rendered.entry(format!("{flaw:?}")).or_default() += 1;
        match parse(&rendering) {
            Ok(_) => failures.push(format!("seed {seed}: {flaw:?} accepted\n{}", rendering)),
            Err(e) if e.span.line == 0 => {
                failures.push(format!(
                    "seed {seed}: {flaw:?} refused without a place: {e}"
                ));
            }
            Err(_) => {}
        }
        if failures.len() > 3 {
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for flaw in Flaw::ALL {
        let count = rendered
            .get(&format!("{flaw:?}"))
            .copied()
            .unwrap_or_default();
        assert!(count >= 20, "{flaw:?} rendered only {count} times");
    }
}

/// The layouts the issue named, by hand: each parses to the plain tree.
#[test]
fn values_on_the_next_line() {
    let plain = |text: &str| shape(&starling_conf::parse_str(text).expect("valid"));
    let ws = plain("websocket { port: 8080, no_tls: true }");
    assert_eq!(plain("websocket\n{\n port: 8080\n no_tls: true\n}\n"), ws);
    assert_eq!(
        plain("websocket\n\n{\n port\n 8080\n no_tls\n =\ttrue\n}\n"),
        ws
    );
    assert_eq!(
        plain("websocket {\n port =\n 8080\n no_tls:\n\n true\n}\n"),
        ws
    );
    assert_eq!(plain("port\n4333\n"), plain("port: 4333"));
    assert_eq!(plain("port\n= 4333\n"), plain("port: 4333"));
    assert_eq!(plain("users\n[\n a\n b\n]\n"), plain("users: [a, b]"));

    let error = starling_conf::parse_str("port = \n 4333\n").expect_err("refused");
    assert_eq!((error.span.line, error.span.column), (1, 8));
    assert!(error.message.contains("a new line"), "{error}");
    let error = starling_conf::parse_str("include\n ./x.conf\n").expect_err("refused");
    assert_eq!(error.message, "expected an include path, found a new line");
    assert_eq!((error.span.line, error.span.column), (1, 8));
}

/// Writes generated layouts (plain and flawed) as `conf_parse` fuzz seeds:
/// `cargo test -p starling-conf --test layouts -- --ignored`.
#[test]
#[ignore = "writes fuzz/seeds/conf_parse; run by hand"]
fn write_fuzz_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/conf_parse");
    for seed in 0..12u64 {
        let mut rng = Rng::new(1_000 + seed);
        let tree = random_map(&mut rng, 0);
        let flaw = (seed % 2 == 1).then(|| Flaw::ALL[(seed / 2) as usize % Flaw::ALL.len()]);
        let rendering = render_with(&tree, &mut rng, flaw);
        let name = match rendering.flaw {
            Some(flaw) => format!("layout_{seed:02}_{flaw:?}"),
            None => format!("layout_{seed:02}"),
        };
        std::fs::write(dir.join(name), &rendering.main).expect("seed written");
    }
}
