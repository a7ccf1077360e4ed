//! The NATS configuration language: text in, a [`Value`] tree with source
//! places out.
//!
//! A nats-server configuration file runs on Starling unchanged, so this
//! crate reads the language exactly as nats-server's parser does: `#` and
//! `//` comments; `=`, `:` or blanks (new lines too, except between a
//! top-level `=`/`:` and its value) between key and value; `,` or `;`
//! after values; maps `{}` and arrays `[]` across lines with or without
//! commas; double-quoted strings with escapes, single-quoted raw strings,
//! unquoted strings and `( ... )` block strings; integers with size
//! suffixes (`1k` = 1000, `1kb` = 1024, up to `e`/`eb`), floats, negative
//! numbers, booleans (`true`/`yes`/`on` and their opposites, in any case),
//! ISO 8601 date-times; `$VAR` references resolved in enclosing blocks and
//! then in the environment; `include` relative to the including file.
//! Where nats-server accepts nonsense (a file that is only `{{{{[[[[`), this
//! crate refuses it.
//!
//! It knows nothing of server options: each Starling crate reads its own
//! block from the tree (see [`Value::as_map`], [`Map::get_ignore_case`],
//! [`Value::as_duration`]). Every error names the file, line and column.
//! The environment and file access are arguments of [`ConfParser`];
//! [`parse_str`] and [`parse_file`] use the process's own.
//!
//! ```
//! use starling_conf::{ValueKind, parse_str};
//!
//! let root = parse_str("
//!     port: 4222
//!     max_payload = 2MB        # 2 * 1024 * 1024
//!     websocket { no_tls: true, allowed_origins: [\"http://localhost\"] }
//! ")?;
//! let map = root.as_map("top level")?;
//! assert_eq!(map.get("port").map(|v| &v.kind), Some(&ValueKind::Integer(4222)));
//! assert_eq!(map.get("max_payload").map(|v| &v.kind), Some(&ValueKind::Integer(2 * 1024 * 1024)));
//! let ws = map.get("websocket").expect("a websocket block").as_map("websocket")?;
//! assert_eq!(ws.get("no_tls").map(|v| v.span.line), Some(4));
//!
//! let error = parse_str("port: 4222\nhost: [1, 2").unwrap_err();
//! assert_eq!((error.span.line, error.span.column), (2, 12));
//! # Ok::<(), starling_conf::ConfError>(())
//! ```
#![forbid(unsafe_code)]

mod error;
mod from_value;
pub mod fuzzing;
mod parse;
mod utc;
mod value;

use std::path::Path;

pub use error::{ConfError, ConfErrorKind};
pub use from_value::FromValue;
pub use parse::{ConfParser, FsLoader, Loader};
pub use utc::UtcTime;
pub use value::{Key, Map, Span, Value, ValueKind, parse_duration};

/// Parses configuration text. `include` paths are taken relative to the
/// current directory and `$VAR` falls back to the process environment.
pub fn parse_str(text: &str) -> Result<Value, ConfError> {
    let env = |name: &str| std::env::var(name).ok();
    ConfParser::new(&env, &FsLoader).parse_str(text, Path::new(""))
}

/// Reads and parses a configuration file; `include` paths are taken
/// relative to it and `$VAR` falls back to the process environment.
pub fn parse_file(path: impl AsRef<Path>) -> Result<Value, ConfError> {
    let env = |name: &str| std::env::var(name).ok();
    ConfParser::new(&env, &FsLoader).parse_file(path.as_ref())
}
