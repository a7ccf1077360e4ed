//! Configuration errors: what is wrong and exactly where.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::Span;

/// An error in a configuration file, with file, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    /// Where: file (if any), line and column; line 0 means the whole file
    /// (it could not be read).
    pub span: Span,
    /// What is wrong, or what was expected.
    pub message: String,
}

impl ConfError {
    /// An error at `span`.
    pub fn at(span: &Span, message: impl Into<String>) -> Self {
        Self {
            span: span.clone(),
            message: message.into(),
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
        }
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
