//! The value tree a configuration file parses into, every node with the
//! place it came from.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::{ConfError, ConfErrorKind};

/// Where a value or key starts: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Span {
    /// The file, or `None` for text parsed with [`crate::parse_str`].
    pub file: Option<Arc<Path>>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}:", file.display())?;
        }
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A configuration value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The value itself.
    pub kind: ValueKind,
    /// Where it starts.
    pub span: Span,
}

/// The kinds of value the language has.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ValueKind {
    /// `{ key: value ... }`.
    Map(Map),
    /// `[ value, ... ]`.
    Array(Vec<Value>),
    /// Quoted, unquoted or block string, escapes resolved.
    String(String),
    /// An integer, size suffixes applied (`1k` is 1000, `1kb` is 1024).
    Integer(i64),
    /// A float.
    Float(f64),
    /// `true`/`false`/`yes`/`no`/`on`/`off`, in any case.
    Bool(bool),
    /// An ISO 8601 Zulu date-time (`2006-01-02T15:04:05Z`), as written.
    DateTime(String),
}

/// A key as written, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The key's text (quotes removed).
    pub name: String,
    /// Where it starts.
    pub span: Span,
    /// A `$name` reference used this key as a variable. Option readers
    /// skip such keys instead of calling them unknown, as nats-server does.
    pub used_as_variable: bool,
}

impl Key {
    /// A key named `name` at `span`.
    pub fn new(name: impl Into<String>, span: Span) -> Self {
        Self {
            name: name.into(),
            span,
            used_as_variable: false,
        }
    }
}

/// Keys and values in file order. A key given twice keeps its last value
/// (nats-server's rule) in the place of its first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map {
    entries: Vec<(Key, Value)>,
}

impl Map {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key`, replacing an earlier value of the same key (compared
    /// exactly; option readers compare case-insensitively).
    pub fn insert(&mut self, key: Key, value: Value) {
        match self.entries.iter_mut().find(|(k, _)| k.name == key.name) {
            Some(entry) => *entry = (key, value),
            None => self.entries.push((key, value)),
        }
    }

    /// Marks `name` as used by a variable reference; returns its value.
    pub(crate) fn use_as_variable(&mut self, name: &str) -> Option<&Value> {
        let (key, value) = self.entries.iter_mut().find(|(k, _)| k.name == name)?;
        key.used_as_variable = true;
        Some(value)
    }

    /// The value of `name`, compared exactly.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }

    /// The entry whose key equals `name` ignoring ASCII case, as nats-server
    /// matches option names.
    pub fn get_ignore_case(&self, name: &str) -> Option<(&Key, &Value)> {
        self.entries
            .iter()
            .find(|(k, _)| k.name.eq_ignore_ascii_case(name))
            .map(|(k, v)| (k, v))
    }

    /// Entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The entries a block reader reads as options: all but the keys a
    /// `$name` reference used as variables (nats-server skips those
    /// instead of calling them unknown).
    pub fn options(&self) -> impl Iterator<Item = (&Key, &Value)> {
        self.iter().filter(|(key, _)| !key.used_as_variable)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Value {
    /// A short name of the kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            ValueKind::Map(_) => "map",
            ValueKind::Array(_) => "array",
            ValueKind::String(_) => "string",
            ValueKind::Integer(_) => "integer",
            ValueKind::Float(_) => "float",
            ValueKind::Bool(_) => "boolean",
            ValueKind::DateTime(_) => "date-time",
        }
    }

    /// An error about this value, at its place.
    pub fn error(&self, message: impl Into<String>) -> ConfError {
        ConfError::at(&self.span, message)
    }

    /// A value of the wrong kind for `option`.
    pub fn wrong_type(&self, option: &str, expected: &str) -> ConfError {
        ConfError::of_kind(
            ConfErrorKind::WrongType,
            &self.span,
            format!(
                "{option}: expected {expected}, got {} {}",
                self.kind_name(),
                self.show()
            ),
        )
    }

    /// The items of an array, or this value alone: nats-server reads one
    /// value or a list of them for many options.
    pub fn one_or_many(&self) -> &[Self] {
        match &self.kind {
            ValueKind::Array(items) => items,
            _ => std::slice::from_ref(self),
        }
    }

    /// The value read as `T`, with errors naming `option`.
    pub fn read<T: crate::FromValue>(&self, option: &str) -> Result<T, ConfError> {
        T::from_value(self, option)
    }

    fn show(&self) -> String {
        match &self.kind {
            ValueKind::String(s) => format!("{s:?}"),
            ValueKind::Integer(i) => i.to_string(),
            ValueKind::Float(x) => x.to_string(),
            ValueKind::Bool(b) => b.to_string(),
            ValueKind::DateTime(d) => d.clone(),
            ValueKind::Map(_) => "{...}".to_owned(),
            ValueKind::Array(_) => "[...]".to_owned(),
        }
    }

    /// The map, or an error naming `option`.
    pub fn as_map(&self, option: &str) -> Result<&Map, ConfError> {
        match &self.kind {
            ValueKind::Map(map) => Ok(map),
            _ => Err(self.wrong_type(option, "a map")),
        }
    }

    /// The array, or an error naming `option`.
    pub fn as_array(&self, option: &str) -> Result<&[Self], ConfError> {
        match &self.kind {
            ValueKind::Array(items) => Ok(items),
            _ => Err(self.wrong_type(option, "an array")),
        }
    }

    /// The string, or an error naming `option`.
    pub fn as_str(&self, option: &str) -> Result<&str, ConfError> {
        match &self.kind {
            ValueKind::String(s) => Ok(s),
            _ => Err(self.wrong_type(option, "a string")),
        }
    }

    /// The boolean, or an error naming `option`.
    pub fn as_bool(&self, option: &str) -> Result<bool, ConfError> {
        match self.kind {
            ValueKind::Bool(b) => Ok(b),
            _ => Err(self.wrong_type(option, "a boolean")),
        }
    }

    /// The integer, or an error naming `option`.
    pub fn as_integer(&self, option: &str) -> Result<i64, ConfError> {
        match self.kind {
            ValueKind::Integer(i) => Ok(i),
            _ => Err(self.wrong_type(option, "an integer")),
        }
    }

    /// A duration: a string in Go's form (`"2s"`, `"1m30s"`, `"500ms"`) or
    /// an integer number of seconds, as nats-server reads timing options.
    pub fn as_duration(&self, option: &str) -> Result<Duration, ConfError> {
        match &self.kind {
            ValueKind::Integer(seconds) if *seconds >= 0 => Ok(Duration::from_secs(*seconds as u64)),
            ValueKind::Float(seconds) if *seconds >= 0.0 && seconds.is_finite() => {
                Ok(Duration::from_secs_f64(*seconds))
            }
            ValueKind::String(text) => parse_duration(text)
                .ok_or_else(|| self.error(format!("{option}: invalid duration {text:?} (use forms like \"2s\", \"1m30s\", \"500ms\")"))),
            _ => Err(self.wrong_type(option, "a duration")),
        }
    }
}

/// Parses Go's duration syntax (`300ms`, `1.5h`, `2h45m`); units ns, us
/// (or µs), ms, s, m, h. Negative durations are refused.
pub fn parse_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * nanos_per_unit;
    }
    (total.is_finite() && total < u64::MAX as f64).then(|| Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let cases = [
            ("2s", Some(2_000)),
            ("1m30s", Some(90_000)),
            ("500ms", Some(500)),
            ("1.5h", Some(5_400_000)),
            ("0", Some(0)),
            ("2h45m", Some(9_900_000)),
            ("10", None),
            ("-1s", None),
            ("", None),
            ("1x", None),
            ("s", None),
        ];
        for (text, millis) in cases {
            assert_eq!(
                parse_duration(text).map(|d| d.as_millis() as u64),
                millis,
                "{text}"
            );
        }
        assert_eq!(parse_duration("1us"), Some(Duration::from_micros(1)));
    }

    #[test]
    fn later_keys_replace_earlier_ones_in_place() {
        let key = |n: &str| Key::new(n, Span::default());
        let int = |i| Value {
            kind: ValueKind::Integer(i),
            span: Span::default(),
        };
        let mut map = Map::new();
        map.insert(key("a"), int(1));
        map.insert(key("b"), int(2));
        map.insert(key("a"), int(3));
        let keys: Vec<_> = map
            .iter()
            .map(|(k, v)| (k.name.clone(), v.as_integer("x").unwrap()))
            .collect();
        assert_eq!(keys, vec![("a".to_owned(), 3), ("b".to_owned(), 2)]);
        assert!(map.get_ignore_case("A").is_some());
    }
}
