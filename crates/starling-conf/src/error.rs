//! Configuration errors: what is wrong, what kind of wrong (for callers to
//! match on), and exactly where.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::{Key, Span};

/// What kind of problem a [`ConfError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfErrorKind {
    /// The text is not the configuration language (a syntax error).
    Syntax,
    /// A file could not be read (the configuration or an include).
    Io,
    /// A value of the wrong kind (a string where a number belongs).
    WrongType,
    /// A value of the right kind that is not allowed (out of range, a bad
    /// duration, an unknown variable, a broken cross-option rule).
    Invalid,
    /// A key nobody reads.
    UnknownField,
    /// A key nats-server reads that Starling does not support yet.
    NotSupportedYet,
}

/// An error in a configuration file, with file, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    /// Where: file (if any), line and column; line 0 means the whole file
    /// (it could not be read).
    pub span: Span,
    /// What is wrong, or what was expected.
    pub message: String,
    /// What kind of problem it is.
    pub kind: ConfErrorKind,
}

impl ConfError {
    /// An invalid value at `span`.
    pub fn at(span: &Span, message: impl Into<String>) -> Self {
        Self::of_kind(ConfErrorKind::Invalid, span, message)
    }

    /// An error of `kind` at `span`.
    pub fn of_kind(kind: ConfErrorKind, span: &Span, message: impl Into<String>) -> Self {
        Self {
            span: span.clone(),
            message: message.into(),
            kind,
        }
    }

    /// An error about a whole file (it could not be read).
    pub fn file(file: Option<Arc<Path>>, message: impl Into<String>) -> Self {
        Self {
            span: Span {
                file,
                line: 0,
                column: 0,
            },
            message: message.into(),
            kind: ConfErrorKind::Io,
        }
    }

    /// `key` is not an option of the block it is in.
    pub fn unknown_field(key: &Key) -> Self {
        Self::of_kind(
            ConfErrorKind::UnknownField,
            &key.span,
            format!("unknown field {:?}", key.name),
        )
    }

    /// `key` is a nats-server option Starling does not support yet; `what`
    /// says what it belongs to. Refused at start-up, never ignored.
    pub fn not_supported_yet(key: &Key, what: &str) -> Self {
        Self::of_kind(
            ConfErrorKind::NotSupportedYet,
            &key.span,
            format!("{:?} is not supported yet ({what})", key.name),
        )
    }
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.span.file, self.span.line) {
            (Some(file), 0) => write!(f, "{}: {}", file.display(), self.message),
            (None, 0) => f.write_str(&self.message),
            _ => write!(f, "{}: {}", self.span, self.message),
        }
    }
}

impl std::error::Error for ConfError {}
