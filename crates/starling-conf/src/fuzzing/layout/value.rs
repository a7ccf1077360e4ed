//! Values in a layout: maps on one line or many, arrays, integers with
//! size suffixes, strings bare or quoted, booleans in every spelling.

use std::fmt::Write as _;

use super::{Flaw, Place, Renderer};
use crate::{Map, Value, ValueKind};

impl Renderer<'_> {
    pub(super) fn value(&mut self, out: &mut String, value: &Value, depth: usize) {
        match &value.kind {
            ValueKind::Map(map) => self.map(out, map, depth),
            ValueKind::Array(items) => self.array(out, items, depth),
            ValueKind::String(s) => self.string(out, s),
            ValueKind::Integer(i) => self.integer(out, *i),
            ValueKind::Bool(b) => {
                let words: &[&str] = if *b {
                    &["true", "TRUE", "True", "yes", "on", "YES", "On"]
                } else {
                    &["false", "FALSE", "False", "no", "off", "NO", "Off"]
                };
                out.push_str(self.rng.pick(words));
            }
            ValueKind::Float(x) => write!(out, "{x:?}").unwrap_or_default(),
            ValueKind::DateTime(d) => out.push_str(d),
        }
    }

    fn map(&mut self, out: &mut String, map: &Map, depth: usize) {
        out.push('{');
        // In a braced file the last `}` would close the map and nats-server
        // skips the top-level `{`: no flaw there.
        let unclosed = !self.braced && self.flaw_here(Flaw::UnclosedMap);
        if map.is_empty() {
            out.push_str(self.rng.pick(&["", " ", "\n"]));
        } else if self.rng.chance(30) {
            // On one line: `{a: 1, b: 2}`.
            out.push(' ');
            for (i, (key, value)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(self.rng.pick(&[", ", "; ", ",", ";"]));
                }
                self.pair_inline(out, &key.name, value, depth);
            }
            out.push_str(self.rng.pick(&[" ", "", ", ", ";"]));
        } else {
            if self.rng.chance(20) {
                write!(out, " {}", self.comment()).unwrap_or_default();
            }
            out.push('\n');
            self.entries(out, map, Place::InMap, depth + 1, false);
            self.indent(out, depth);
        }
        if !unclosed {
            out.push('}');
        }
    }

    /// A map entry on one line: no line breaks, no comments.
    fn pair_inline(&mut self, out: &mut String, key: &str, value: &Value, depth: usize) {
        self.key(out, key);
        out.push_str(self.rng.pick(&[": ", " = ", " ", ":", "="]));
        self.value(out, value, depth);
    }

    fn array(&mut self, out: &mut String, items: &[Value], depth: usize) {
        out.push('[');
        if self.flaw_here(Flaw::ArrayLeadingComma) {
            out.push_str(", ");
        }
        let multiline = self.rng.chance(50);
        for (i, item) in items.iter().enumerate() {
            if multiline {
                out.push('\n');
                if self.rng.chance(15) {
                    self.indent(out, depth + 1);
                    writeln!(out, "{}", self.comment()).unwrap_or_default();
                }
                self.indent(out, depth + 1);
            } else if i == 0 && self.rng.chance(50) {
                out.push(' ');
            }
            self.value(out, item, depth + 1);
            let last = i + 1 == items.len();
            if !last && self.flaw_here(Flaw::ArrayDoubleComma) {
                out.push_str(",, ");
                continue;
            }
            if !last && self.flaw_here(Flaw::ArraySemicolon) {
                out.push_str("; ");
                continue;
            }
            // A blank after an integer before `]`: see the module docs.
            let after_integer = matches!(item.kind, ValueKind::Integer(_));
            match (multiline, last) {
                (true, false) => {
                    out.push_str(self.rng.pick(&["", ",", " ,"]));
                    if self.rng.chance(15) {
                        write!(out, " {}", self.comment()).unwrap_or_default();
                    }
                }
                (true, true) => {
                    out.push_str(self.rng.pick(&["", ","]));
                    out.push('\n');
                    self.indent(out, depth);
                }
                (false, false) => out.push_str(self.rng.pick(&[", ", ",", " , "])),
                (false, true) => {
                    let end = self.rng.pick(&["", " ", ",", ", "]);
                    out.push_str(if after_integer && end.is_empty() {
                        " "
                    } else {
                        end
                    });
                }
            }
        }
        out.push(']');
    }

    fn integer(&mut self, out: &mut String, i: i64) {
        let suffixes: &[(&str, i64)] = &[
            ("k", 1000),
            ("K", 1000),
            ("kb", 1024),
            ("KB", 1024),
            ("Ki", 1024),
            ("m", 1_000_000),
            ("MB", 1024 * 1024),
            ("mib", 1024 * 1024),
            ("G", 1_000_000_000),
            ("gb", 1 << 30),
        ];
        let (suffix, unit) = self.rng.pick(suffixes);
        if i != 0 && i % unit == 0 && self.rng.chance(50) {
            write!(out, "{}{suffix}", i / unit).unwrap_or_default();
        } else {
            write!(out, "{i}").unwrap_or_default();
        }
    }

    fn string(&mut self, out: &mut String, s: &str) {
        let bare = is_bare_string(s);
        let single = !s.contains('\'') && !s.contains(['\n', '\r']);
        match self.rng.below(4) {
            0 | 1 if bare => out.push_str(s),
            2 if single => write!(out, "'{s}'").unwrap_or_default(),
            _ => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        '\r' => out.push_str("\\r"),
                        c if c.is_ascii_alphanumeric() && self.rng.chance(5) => {
                            write!(out, "\\x{:02x}", c as u32).unwrap_or_default();
                        }
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
        }
    }
}

/// A string that reads back as the same string when written bare: it
/// starts with a letter or `_`, holds nothing that ends or changes a
/// bare value, and is not a boolean word.
fn is_bare_string(s: &str) -> bool {
    let Some(first) = s.bytes().next() else {
        return false;
    };
    let lower = s.to_ascii_lowercase();
    (first.is_ascii_alphabetic() || first == b'_')
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'_' | b'/' | b'.' | b'-' | b':' | b'*' | b'>' | b'@')
        })
        && !["true", "false", "yes", "no", "on", "off"].contains(&lower.as_str())
}
