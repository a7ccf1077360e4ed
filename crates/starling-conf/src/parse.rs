//! From text to [`Value`]: the pest grammar, then a walk that resolves
//! strings, numbers, variables and includes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pest::Parser as _;
use pest::iterators::Pair;

use crate::{ConfError, ConfErrorKind, Key, Map, Span, Value, ValueKind};

#[derive(pest_derive::Parser)]
#[grammar = "nats.pest"]
struct NatsGrammar;

/// Reads the files that `include` names.
pub trait Loader {
    /// The text of the file at `path`.
    fn load(&self, path: &Path) -> std::io::Result<String>;
}

/// A [`Loader`] over the file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsLoader;

impl Loader for FsLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Includes may nest this deep; deeper is taken for a cycle.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Maps and arrays may nest this deep. The grammar is recursive descent,
/// so a file of a million `[` must be refused before it is parsed.
const MAX_NESTING: usize = 256;

/// A configuration parser with its environment and file access as
/// arguments, so tests and fuzzing need neither.
pub struct ConfParser<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    loader: &'a dyn Loader,
}

impl std::fmt::Debug for ConfParser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfParser").finish_non_exhaustive()
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

impl<'a> ConfParser<'a> {
    /// A parser that looks variables up with `env` and reads includes
    /// with `loader`.
    pub fn new(env: &'a dyn Fn(&str) -> Option<String>, loader: &'a dyn Loader) -> Self {
        Self { env, loader }
    }

    /// Parses `text`; includes are resolved against `base_dir`.
    pub fn parse_str(&self, text: &str, base_dir: &Path) -> Result<Value, ConfError> {
        self.parse_text(text, None, base_dir, 0)
    }

    /// Reads and parses the file at `path`.
    pub fn parse_file(&self, path: &Path) -> Result<Value, ConfError> {
        self.parse_file_at(path, 0)
    }

    fn parse_file_at(&self, path: &Path, depth: usize) -> Result<Value, ConfError> {
        let file: Arc<Path> = Arc::from(path);
        let text = self.loader.load(path).map_err(|e| {
            ConfError::file(Some(Arc::clone(&file)), format!("can't read the file: {e}"))
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.parse_text(&text, Some(file), &base, depth)
    }

    /// Refuses text whose `{`/`[` nesting (counted everywhere, strings
    /// included, as an upper bound) passes [`MAX_NESTING`].
    fn check_nesting(text: &str, file: Option<Arc<Path>>) -> Result<(), ConfError> {
        let (mut depth, mut line, mut column) = (0usize, 1u32, 0u32);
        for c in text.chars() {
            column += 1;
            match c {
                '\n' => (line, column) = (line + 1, 0),
                '{' | '[' => depth += 1,
                '}' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > MAX_NESTING {
                let span = Span { file, line, column };
                return Err(ConfError::at(
                    &span,
                    format!("maps and arrays nest deeper than {MAX_NESTING} levels"),
                ));
            }
        }
        Ok(())
    }

    fn parse_text(
        &self,
        text: &str,
        file: Option<Arc<Path>>,
        base: &Path,
        depth: usize,
    ) -> Result<Value, ConfError> {
        Self::check_nesting(text, file.clone())?;
        let mut pairs = NatsGrammar::parse(Rule::file, text)
            .map_err(|e| syntax_error(&e, text, file.clone()))?;
        let root = pairs
            .next()
            .ok_or_else(|| ConfError::file(file.clone(), "empty parse"))?;
        let mut walker = Walker {
            parser: self,
            file,
            base: base.to_path_buf(),
            depth,
            scopes: Vec::new(),
        };
        let span = walker.span(&root);
        let body = root.into_inner().find(|p| p.as_rule() == Rule::body);
        let map = match body {
            Some(body) => walker.body(body)?,
            None => Map::new(),
        };
        Ok(Value {
            kind: ValueKind::Map(map),
            span,
        })
    }
}

struct Walker<'p, 'a> {
    parser: &'p ConfParser<'a>,
    file: Option<Arc<Path>>,
    base: PathBuf,
    depth: usize,
    /// The maps being built, outermost first: variables are looked up in
    /// them from the innermost out (nats-server's block scoping).
    scopes: Vec<Map>,
}

impl Walker<'_, '_> {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let (line, column) = pair.as_span().start_pos().line_col();
        Span {
            file: self.file.clone(),
            line: line as u32,
            column: column as u32,
        }
    }

    fn body(&mut self, body: Pair<'_, Rule>) -> Result<Map, ConfError> {
        self.scopes.push(Map::new());
        let result = self.entries(body);
        let map = self.scopes.pop().unwrap_or_default();
        result.map(|()| map)
    }

    fn entries(&mut self, body: Pair<'_, Rule>) -> Result<(), ConfError> {
        for entry in body.into_inner() {
            match entry.as_rule() {
                Rule::pair | Rule::map_pair => {
                    let mut parts = entry
                        .into_inner()
                        .filter(|p| !matches!(p.as_rule(), Rule::key_sep | Rule::map_sep));
                    let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
                        continue;
                    };
                    let key = self.key(key);
                    let value = self.value(value)?;
                    self.set(key, value);
                }
                Rule::include => self.include(entry)?,
                Rule::include_nl => {
                    let eol = entry.into_inner().next().map(|p| p.as_span().end_pos());
                    let (line, column) = eol.map_or((0, 0), |p| p.line_col());
                    let span = Span {
                        file: self.file.clone(),
                        line: line as u32,
                        column: column as u32,
                    };
                    return Err(ConfError::at(
                        &span,
                        "expected an include path, found a new line",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn set(&mut self, key: Key, value: Value) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(key, value);
        }
    }

    fn key(&self, key: Pair<'_, Rule>) -> Key {
        let span = self.span(&key);
        let name = key
            .into_inner()
            .next()
            .map(|k| match k.as_rule() {
                Rule::dq_key | Rule::sq_key => k.into_inner().as_str().to_owned(),
                _ => k.as_str().to_owned(),
            })
            .unwrap_or_default();
        Key::new(name, span)
    }

    fn include(&mut self, entry: Pair<'_, Rule>) -> Result<(), ConfError> {
        let span = self.span(&entry);
        let Some(target) = entry.into_inner().next() else {
            return Ok(());
        };
        let path = match target.as_rule() {
            Rule::dq_string => {
                unescape(target.into_inner().as_str()).map_err(|m| ConfError::at(&span, m))?
            }
            Rule::sq_string => target.into_inner().as_str().to_owned(),
            _ => target.as_str().to_owned(),
        };
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(ConfError::at(
                &span,
                format!("include {path:?}: includes nest too deeply (is there a cycle?)"),
            ));
        }
        let target = self.base.join(&path);
        let included = self
            .parser
            .parse_file_at(&target, self.depth + 1)
            .map_err(|e| {
                // A file that cannot be read is reported where it is included.
                if e.span.line == 0 {
                    let message = format!("include {path:?}: {}", e.message);
                    ConfError::of_kind(ConfErrorKind::Io, &span, message)
                } else {
                    e
                }
            })?;
        if let ValueKind::Map(map) = included.kind {
            for (key, value) in map.iter() {
                self.set(key.clone(), value.clone());
            }
        }
        Ok(())
    }

    fn value(&mut self, pair: Pair<'_, Rule>) -> Result<Value, ConfError> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::map => {
                let body = pair.into_inner().find(|p| p.as_rule() == Rule::map_body);
                ValueKind::Map(match body {
                    Some(body) => self.body(body)?,
                    None => Map::new(),
                })
            }
            Rule::array => {
                let mut items = Vec::new();
                let values = pair
                    .into_inner()
                    .filter(|p| !matches!(p.as_rule(), Rule::array_sep | Rule::array_close));
                for item in values {
                    items.push(self.value(item)?);
                }
                ValueKind::Array(items)
            }
            Rule::dq_string => ValueKind::String(
                unescape(pair.into_inner().as_str()).map_err(|m| ConfError::at(&span, m))?,
            ),
            Rule::sq_string | Rule::block => {
                ValueKind::String(pair.into_inner().as_str().to_owned())
            }
            Rule::unclosed => {
                let what = match pair.as_str().chars().next() {
                    Some('(') => "block string (it ends with ')' alone on a line)",
                    _ => "string",
                };
                return Err(ConfError::at(&span, format!("this {what} is never closed")));
            }
            _ => return self.bare(pair.as_str(), span),
        };
        Ok(Value { kind, span })
    }

    /// An unquoted value: boolean, variable, number, date-time or string,
    /// told apart the way nats-server's lexer tells them apart.
    fn bare(&mut self, text: &str, span: Span) -> Result<Value, ConfError> {
        let err = |m: String| ConfError::at(&span, m);
        let kind = if let Some(b) = parse_bool(text) {
            ValueKind::Bool(b)
        } else if let Some(name) = text.strip_prefix('$') {
            // A raw bcrypt hash is not a variable (nats-server's special case).
            if name.starts_with("2a$") {
                ValueKind::String(text.to_owned())
            } else {
                return self.variable(name, span);
            }
        } else {
            classify(text).map_err(err)?
        };
        Ok(Value { kind, span })
    }

    fn variable(&mut self, name: &str, span: Span) -> Result<Value, ConfError> {
        for scope in self.scopes.iter_mut().rev() {
            if let Some(value) = scope.use_as_variable(name) {
                return Ok(Value {
                    kind: value.kind.clone(),
                    span,
                });
            }
        }
        let Some(text) = (self.parser.env)(name) else {
            return Err(ConfError::at(
                &span,
                format!("variable reference for '{name}' can not be found"),
            ));
        };
        // Environment values are read as a value would be written in the
        // file (so "4222" is a number), with no further lookups.
        let loader = FsLoader;
        let plain = ConfParser::new(&no_env, &loader);
        let parsed = plain
            .parse_str(&format!("pk={text}"), Path::new(""))
            .map_err(|e| {
                ConfError::at(
                    &span,
                    format!(
                        "variable reference for '{name}' could not be parsed: {}",
                        e.message
                    ),
                )
            })?;
        match parsed.kind {
            ValueKind::Map(map) => match map.get("pk") {
                Some(value) => Ok(Value {
                    kind: value.kind.clone(),
                    span,
                }),
                None => Err(ConfError::at(
                    &span,
                    format!("variable reference for '{name}' is empty"),
                )),
            },
            _ => Err(ConfError::at(
                &span,
                format!("variable reference for '{name}' could not be parsed"),
            )),
        }
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Numbers, sizes, floats, date-times and strings that start with a digit.
fn classify(text: &str) -> Result<ValueKind, String> {
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else {
        return Ok(ValueKind::String(String::new()));
    };
    if first == b'.' {
        return Err(format!("floats must start with a digit: {text:?}"));
    }
    let negative = first == b'-';
    if !(first.is_ascii_digit() || negative) {
        return unescape(text).map(ValueKind::String);
    }
    let digits_start = usize::from(negative);
    let digits_end = bytes[digits_start..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(bytes.len(), |p| p + digits_start);
    if digits_end == digits_start {
        return Err(format!("expected a digit after '-': {text:?}"));
    }
    let number = &text[..digits_end];
    let rest = &text[digits_end..];
    let integer = || {
        number
            .parse::<i64>()
            .map_err(|_| format!("integer {text:?} is out of range"))
    };
    match rest.as_bytes().first() {
        None => Ok(ValueKind::Integer(integer()?)),
        Some(b'-') if !negative && digits_end == 4 => parse_datetime(text),
        Some(b'-') => Err(format!(
            "invalid number {text:?} (dates must be in full Zulu form)"
        )),
        Some(b'.') => {
            let fraction = &rest[1..];
            let fraction_digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if fraction_digits == 0 {
                return Err(format!("floats must have a digit after the '.': {text:?}"));
            }
            if fraction_digits == fraction.len() {
                return text
                    .parse::<f64>()
                    .map(ValueKind::Float)
                    .map_err(|_| format!("invalid float {text:?}"));
            }
            // `127.0.0.1:4222` and the like: an address, kept as a string.
            if !negative && fraction.as_bytes()[fraction_digits] == b'.' {
                return Ok(ValueKind::String(text.to_owned()));
            }
            Err(format!("invalid number {text:?}"))
        }
        Some(c) if b"kKmMgGtTpPeE".contains(c) => {
            let suffix_len = 1 + rest[1..]
                .bytes()
                .take_while(|b| b"bBiI".contains(b))
                .count();
            match rest.as_bytes().get(suffix_len) {
                None => {
                    let multiplier = size_multiplier(&rest.to_ascii_lowercase())
                        .ok_or_else(|| format!("unknown size suffix in {text:?}"))?;
                    integer()?
                        .checked_mul(multiplier)
                        .map(ValueKind::Integer)
                        .ok_or_else(|| format!("integer {text:?} is out of range"))
                }
                Some(d) if d.is_ascii_digit() => Err(format!(
                    "invalid number {text:?} (quote durations: \"1m30s\")"
                )),
                Some(_) if negative => Err(format!("invalid number {text:?}")),
                Some(_) => unescape(text).map(ValueKind::String),
            }
        }
        Some(_) if negative => Err(format!("invalid number {text:?}")),
        Some(_) => unescape(text).map(ValueKind::String),
    }
}

/// nats-server's size suffixes: k, m, g, t, p, e are powers of 1000; with
/// b, i or ib they are powers of 1024.
fn size_multiplier(suffix: &str) -> Option<i64> {
    let (letter, binary) = match suffix.as_bytes() {
        [l] => (*l, false),
        [l, b'b' | b'i'] | [l, b'i', b'b'] => (*l, true),
        _ => return None,
    };
    let power = b"kmgtpe".iter().position(|&c| c == letter)? as u32 + 1;
    let base: i64 = if binary { 1024 } else { 1000 };
    base.checked_pow(power)
}

fn parse_datetime(text: &str) -> Result<ValueKind, String> {
    let shape = b"0000-00-00T00:00:00Z";
    let ok = text.len() == shape.len()
        && text.bytes().zip(shape.iter()).all(|(c, &s)| {
            if s == b'0' {
                c.is_ascii_digit()
            } else {
                c == s
            }
        });
    if ok {
        Ok(ValueKind::DateTime(text.to_owned()))
    } else {
        Err(format!(
            "invalid date-time {text:?} (expected the form 2006-01-02T15:04:05Z)"
        ))
    }
}

/// Resolves `\xXX`, `\t`, `\n`, `\r`, `\"` and `\\`, the escapes
/// nats-server allows; any other is an error.
fn unescape(text: &str) -> Result<String, String> {
    if !text.contains('\\') {
        return Ok(text.to_owned());
    }
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b't') => out.push(b'\t'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b'"') => out.push(b'"'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                let value = std::str::from_utf8(&hex)
                    .ok()
                    .filter(|h| h.len() == 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match value {
                    Some(v) => out.push(v),
                    None => return Err("expected two hexadecimal digits after '\\x'".to_owned()),
                }
            }
            Some(other) => {
                return Err(format!(
                    "invalid escape character '{}'; only \\xXX, \\t, \\n, \\r, \\\" and \\\\ are allowed",
                    char::from(other)
                ));
            }
            None => return Err("a string may not end with '\\'".to_owned()),
        }
    }
    String::from_utf8(out).map_err(|_| "escapes produced invalid UTF-8".to_owned())
}

fn syntax_error(
    error: &pest::error::Error<Rule>,
    text: &str,
    file: Option<Arc<Path>>,
) -> ConfError {
    let (line, column) = match error.line_col {
        pest::error::LineColLocation::Pos(at) | pest::error::LineColLocation::Span(at, _) => at,
    };
    let offset = match error.location {
        pest::error::InputLocation::Pos(at) | pest::error::InputLocation::Span((at, _)) => at,
    };
    let found = match text[offset.min(text.len())..].chars().next() {
        None => "the end of the file".to_owned(),
        Some('\n' | '\r') => "a new line".to_owned(),
        Some(c) => format!("'{}'", c.escape_default()),
    };
    let expected: Vec<&str> = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = Vec::new();
            for name in positives.iter().map(|r| rule_name(*r)) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            names
        }
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", expected.join(" or "))
    };
    let span = Span {
        file,
        line: line as u32,
        column: column as u32,
    };
    ConfError::of_kind(ConfErrorKind::Syntax, &span, message)
}

fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::key
        | Rule::bare_key
        | Rule::dq_key
        | Rule::sq_key
        | Rule::quoted_key
        | Rule::single_key => "a key",
        Rule::map
        | Rule::array
        | Rule::dq_string
        | Rule::sq_string
        | Rule::block
        | Rule::bare
        | Rule::unclosed => "a value",
        Rule::dq_inner | Rule::sq_inner => "the closing quote",
        Rule::block_inner => "')' alone on a line to end the block",
        Rule::entry_sep => "a new line, ',' or ';' after the value",
        Rule::array_sep => "',', ']' or a new line",
        Rule::key_sep | Rule::map_sep => "'=', ':' or a space after the key",
        Rule::include | Rule::include_nl | Rule::include_eol | Rule::bare_path => "an include path",
        Rule::pair | Rule::map_pair | Rule::body | Rule::map_body => "a key and value",
        Rule::file | Rule::EOI => "the end of the file",
        Rule::map_close => "'}'",
        Rule::array_close => "']'",
        _ => "a separator",
    }
}
