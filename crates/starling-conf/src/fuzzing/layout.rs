//! One configuration tree, many layouts: renders a [`Map`] as
//! configuration text with a seeded choice of every separator, line break,
//! brace placement, quoting, terminator, comment and include that
//! nats-server's lexer accepts, so a test can check that every rendering
//! parses back to the same tree. A [`Flaw`] renders the same tree with one
//! deliberate layout mistake that nats-server refuses.
//!
//! The layouts avoid two places where nats-server's lexer reads a value
//! differently from what the text says (Starling reads the text): a bare
//! integer directly before `]` (nats-server reads `[1]` as a broken
//! string), and unquoted durations (`2m` is the size two million in both).

use std::fmt::Write as _;

use crate::{Map, Value, ValueKind};

pub use super::rng::Rng;

mod value;

/// A deliberate layout mistake, each one refused by nats-server 2.9.10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flaw {
    /// A top-level value on the line after its `=` or `:`.
    TopValueAfterNewLine,
    /// `include` with its path on the next line.
    IncludePathAfterNewLine,
    /// An array that starts with a comma.
    ArrayLeadingComma,
    /// Two commas between array values.
    ArrayDoubleComma,
    /// A semicolon between array values.
    ArraySemicolon,
    /// A map whose closing brace is missing.
    UnclosedMap,
    /// A comment between a map key's separator and its value.
    CommentBeforeMapValue,
    /// Two values after one key.
    TwoValues,
    /// A map opened right after its key, with no blank or separator.
    BraceAgainstKey,
}

impl Flaw {
    /// Every flaw.
    pub const ALL: [Self; 9] = [
        Self::TopValueAfterNewLine,
        Self::IncludePathAfterNewLine,
        Self::ArrayLeadingComma,
        Self::ArrayDoubleComma,
        Self::ArraySemicolon,
        Self::UnclosedMap,
        Self::CommentBeforeMapValue,
        Self::TwoValues,
        Self::BraceAgainstKey,
    ];
}

/// A rendered configuration: the main file and the files it includes
/// (names relative to the main file's directory).
#[derive(Debug, Clone, Default)]
pub struct Rendering {
    /// The main file's text.
    pub main: String,
    /// Included files: name and text.
    pub includes: Vec<(String, String)>,
    /// The flaw asked for, if the tree had a place for it.
    pub flaw: Option<Flaw>,
}

impl std::fmt::Display for Rendering {
    /// Every file under a `--- name` line, main first: what a failing
    /// test prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "--- main.conf\n{}", self.main)?;
        for (name, text) in &self.includes {
            writeln!(f, "--- {name}\n{text}")?;
        }
        Ok(())
    }
}

/// Where entries are being written: the rules differ at the top level.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Top,
    InMap,
}

struct Renderer<'r> {
    rng: &'r mut Rng,
    includes: Vec<(String, String)>,
    flaw: Option<Flaw>,
    flaw_done: bool,
    braced: bool,
    crlf: bool,
}

/// Renders `root` in a layout chosen by `rng`. Every rendering without a
/// flaw parses back to `root` (compare with [`shape`]).
pub fn render(root: &Map, rng: &mut Rng) -> Rendering {
    render_with(root, rng, None)
}

/// Renders `root` with `flaw` at one place chosen by `rng`;
/// [`Rendering::flaw`] is `None` when the tree has no place for it.
pub fn render_with(root: &Map, rng: &mut Rng, flaw: Option<Flaw>) -> Rendering {
    let crlf = rng.chance(15);
    let braced = rng.chance(15);
    let mut r = Renderer {
        rng,
        includes: Vec::new(),
        flaw,
        flaw_done: false,
        braced,
        crlf,
    };
    let mut main = String::new();
    r.blank_lines(&mut main, 0);
    if braced {
        main.push_str("{\n");
    }
    r.entries(&mut main, root, Place::Top, usize::from(braced), !braced);
    if braced {
        main.push_str("}\n");
    }
    let flaw = flaw.filter(|_| r.flaw_done);
    let fix = |text: String| {
        if crlf {
            text.replace('\n', "\r\n")
        } else {
            text
        }
    };
    Rendering {
        main: fix(main),
        includes: r
            .includes
            .into_iter()
            .map(|(name, text)| (name, fix(text)))
            .collect(),
        flaw,
    }
}

impl Renderer<'_> {
    /// True once, at a place where `flaw` applies, with some chance.
    fn flaw_here(&mut self, flaw: Flaw) -> bool {
        if self.flaw == Some(flaw) && !self.flaw_done && self.rng.chance(50) {
            self.flaw_done = true;
            return true;
        }
        false
    }

    fn indent(&mut self, out: &mut String, depth: usize) {
        let unit = self.rng.pick(&["  ", "    ", "\t", " "]);
        for _ in 0..depth {
            out.push_str(unit);
        }
        if self.rng.chance(10) {
            out.push(' ');
        }
    }

    /// Blank lines and comment lines where a key may start.
    fn blank_lines(&mut self, out: &mut String, depth: usize) {
        while self.rng.chance(20) {
            self.indent(out, depth);
            if self.rng.chance(60) {
                out.push_str(self.comment());
            }
            out.push('\n');
        }
    }

    fn comment(&mut self) -> &'static str {
        self.rng.pick(&[
            "# a comment",
            "// a comment",
            "#",
            "# with { braces ] and \"quotes\", commas; semicolons = and :",
            "//// slashes",
            "#include nothing.conf",
        ])
    }

    /// The entries of a map; `last_at_eof` when nothing follows them (the
    /// last terminator may then be left out).
    fn entries(
        &mut self,
        out: &mut String,
        map: &Map,
        place: Place,
        depth: usize,
        last_at_eof: bool,
    ) {
        let count = map.len();
        let mut line_open = false;
        for (i, (key, value)) in map.iter().enumerate() {
            self.blank_lines(out, depth);
            self.indent(out, depth);
            let last = i + 1 == count;
            // A bare include path runs on through a comma.
            let comma_ends = if self.includes.len() < 4 && self.rng.chance(12) {
                self.include(out, &key.name, value)
            } else if self.pair(out, &key.name, value, place, depth) {
                // A block string ends with its `)` alone on the line.
                line_open = last && last_at_eof && place == Place::Top && self.rng.chance(50);
                if !line_open {
                    out.push('\n');
                }
                continue;
            } else {
                true
            };
            if self.flaw_here(Flaw::TwoValues) {
                out.push_str(" 12345");
            }
            line_open = !self.terminator(out, last, last_at_eof && place == Place::Top, comma_ends);
        }
        if !line_open {
            self.blank_lines(out, depth);
        }
    }

    /// Writes an include of a file holding `key` and `value`; false when
    /// the path is bare (a comma would be read as part of it).
    fn include(&mut self, out: &mut String, key: &str, value: &Value) -> bool {
        let index = self.includes.len();
        let name = format!("inc_{}.conf", index + 1);
        self.includes.push((name.clone(), String::new()));
        let mut single = Map::new();
        single.insert(crate::Key::new(key, value.span.clone()), value.clone());
        let mut text = String::new();
        self.entries(&mut text, &single, Place::Top, 0, true);
        self.includes[index].1 = text;
        out.push_str(self.rng.pick(&["include", "INCLUDE", "Include"]));
        if self.flaw_here(Flaw::IncludePathAfterNewLine) {
            out.push_str("\n  ");
        } else {
            out.push_str(self.rng.pick(&[" ", "\t", "   "]));
        }
        let quoting = self.rng.below(3);
        match quoting {
            0 => write!(out, "./{name}"),
            1 => write!(out, "\"{name}\""),
            _ => write!(out, "'{name}'"),
        }
        .unwrap_or_default();
        quoting != 0
    }

    /// Ends an entry; false when the line is left open at the end of the
    /// file.
    fn terminator(&mut self, out: &mut String, last: bool, at_eof: bool, comma_ends: bool) -> bool {
        if last && (at_eof || self.rng.chance(30)) && self.rng.chance(50) {
            // Nothing: the end of the file or the map's `}` ends it.
            if !at_eof {
                out.push('\n');
            }
            return !at_eof;
        }
        let choice = self.rng.below(9);
        match choice {
            0 if comma_ends => out.push_str(",\n"),
            1 => out.push_str(";\n"),
            2 => out.push_str(" ;\n"),
            3 => writeln!(out, " {}", self.comment()).unwrap_or_default(),
            4 => writeln!(out, "; {}", self.comment()).unwrap_or_default(),
            5 => out.push_str("\n\n"),
            6 if !last && comma_ends => out.push_str(self.rng.pick(&[", ", ";", "; ", ","])),
            7 if !last => out.push_str(self.rng.pick(&[";", "; "])),
            _ => out.push('\n'),
        }
        true
    }

    /// Writes `key`, quoted or not; true when written bare.
    fn key(&mut self, out: &mut String, key: &str) -> bool {
        let choice = self.rng.below(if is_bare_key(key) { 6 } else { 2 });
        match choice {
            0 => write!(out, "\"{key}\""),
            1 => write!(out, "'{key}'"),
            _ => write!(out, "{key}"),
        }
        .unwrap_or_default();
        choice > 1
    }

    /// Writes `key` and `value`; true when the value went out as a block
    /// string, which only a new line may follow.
    fn pair(
        &mut self,
        out: &mut String,
        key: &str,
        value: &Value,
        place: Place,
        depth: usize,
    ) -> bool {
        let bare = self.key(out, key);
        let is_map = matches!(value.kind, ValueKind::Map(_));
        if bare && is_map && self.flaw_here(Flaw::BraceAgainstKey) {
            self.value(out, value, depth);
            return false;
        }
        if place == Place::Top && self.flaw_here(Flaw::TopValueAfterNewLine) {
            out.push_str(self.rng.pick(&[" =\n", ":\n", " : \n"]));
            self.indent(out, depth + 1);
            self.value(out, value, depth);
            return false;
        }
        if place == Place::InMap && self.flaw_here(Flaw::CommentBeforeMapValue) {
            out.push_str(": # the value follows\n");
            self.indent(out, depth + 1);
            self.value(out, value, depth);
            return false;
        }
        let mut separators = vec![
            " = ", "=", ": ", ":", " ", "\t", "  ", "\n", "\n\n", "\n= ", " \n :  ",
        ];
        if place == Place::InMap {
            separators.extend([" =\n", ":\n\n", " :\n"]);
        }
        let sep = self.rng.pick(&separators);
        out.push_str(sep);
        if sep.ends_with('\n') {
            self.indent(out, depth + 1);
        }
        if let ValueKind::String(text) = &value.kind {
            // `( ... )` block strings: not in CRLF files, where nats-server
            // never finds the end of the block.
            // Its value keeps the new line before the `)`.
            let fits = text.ends_with('\n') && !text.contains([')', '\r']);
            if !self.crlf && fits && self.rng.chance(50) {
                write!(out, "({text})").unwrap_or_default();
                return true;
            }
        }
        self.value(out, value, depth);
        false
    }
}

/// A key that can be written without quotes.
fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && !key.eq_ignore_ascii_case("include")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// The tree without places: two parses of one configuration in different
/// layouts give the same shape.
pub fn shape(value: &Value) -> String {
    let mut out = String::new();
    shape_into(value, 0, &mut out);
    out
}

fn shape_into(value: &Value, indent: usize, out: &mut String) {
    match &value.kind {
        ValueKind::Map(map) => {
            out.push_str("map\n");
            for (key, value) in map.iter() {
                write!(out, "{:indent$}  {:?} = ", "", key.name).unwrap_or_default();
                shape_into(value, indent + 2, out);
            }
        }
        ValueKind::Array(items) => {
            out.push_str("array\n");
            for item in items {
                write!(out, "{:indent$}  - ", "").unwrap_or_default();
                shape_into(item, indent + 2, out);
            }
        }
        ValueKind::String(s) => writeln!(out, "string {s:?}").unwrap_or_default(),
        ValueKind::Integer(i) => writeln!(out, "integer {i}").unwrap_or_default(),
        ValueKind::Float(x) => writeln!(out, "float {x}").unwrap_or_default(),
        ValueKind::Bool(b) => writeln!(out, "bool {b}").unwrap_or_default(),
        ValueKind::DateTime(d) => writeln!(out, "datetime {d}").unwrap_or_default(),
    }
}
