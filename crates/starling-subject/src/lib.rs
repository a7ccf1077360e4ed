//! NATS subjects: the one home of the rules for tokens, wildcards and validation.
//!
//! A subject is a sequence of tokens separated by `.`. A *filter* (what a
//! subscription names) may use two wildcards, each only as a whole token: `*`
//! matches exactly one token and `>` matches one or more trailing tokens, so it
//! must be last. The parser, the router and permissions all use this crate, so
//! the rules are written once.
//!
//! This crate is plain functions over bytes: no I/O, no allocation when checking
//! or matching.
//!
//! ```
//! use starling_subject::{SubjectFilter, is_valid_filter, is_valid_literal};
//!
//! assert!(is_valid_filter(b"orders.*.created"));
//! assert!(!is_valid_filter(b"orders.>.created"));
//! assert!(is_valid_literal(b"orders.eu.created"));
//! assert!(!is_valid_literal(b"orders.*"));
//!
//! let filter = SubjectFilter::parse("orders.>")?;
//! assert!(filter.matches(b"orders.eu.created"));
//! assert!(!filter.matches(b"orders"));
//! # Ok::<(), starling_subject::SubjectError>(())
//! ```
#![forbid(unsafe_code)]

mod functions;
pub mod fuzzing;
mod mapping;
mod transform;

pub use mapping::{MapDestination, Mapping, MappingError};
pub use transform::{SubjectTransform, TransformError, is_subset};

use bytes::Bytes;

/// The token separator.
pub const SEPARATOR: u8 = b'.';
/// The single-token wildcard.
pub const SINGLE_WILDCARD: &[u8] = b"*";
/// The tail wildcard, matching one or more trailing tokens.
pub const TAIL_WILDCARD: &[u8] = b">";

/// Why a subject or filter was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectError {
    /// The subject is empty or has an empty token (`foo..bar`, `.foo`, `foo.`).
    EmptyToken,
    /// A `>` wildcard that is not the last token (`foo.>.bar`).
    TailWildcardNotLast,
    /// A wildcard where only literal tokens are allowed (publish subjects).
    WildcardInLiteral,
}

impl std::fmt::Display for SubjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::EmptyToken => "subject has an empty token",
            Self::TailWildcardNotLast => "'>' must be the last token",
            Self::WildcardInLiteral => "wildcards are not allowed in a literal subject",
        })
    }
}

impl std::error::Error for SubjectError {}

/// Splits a subject into its tokens. An empty subject yields one empty token.
pub fn tokens(subject: &[u8]) -> impl Iterator<Item = &[u8]> {
    subject.split(|&b| b == SEPARATOR)
}

/// Checks a subscription filter: no empty token, and `>` only as the last token.
pub fn check_filter(filter: &[u8]) -> Result<(), SubjectError> {
    let mut tokens = tokens(filter).peekable();
    while let Some(token) = tokens.next() {
        if token.is_empty() {
            return Err(SubjectError::EmptyToken);
        }
        if token == TAIL_WILDCARD && tokens.peek().is_some() {
            return Err(SubjectError::TailWildcardNotLast);
        }
    }
    Ok(())
}

/// Checks a literal subject (what a pedantic publisher may use): no empty
/// token and no wildcard token.
pub fn check_literal(subject: &[u8]) -> Result<(), SubjectError> {
    for token in tokens(subject) {
        if token.is_empty() {
            return Err(SubjectError::EmptyToken);
        }
        if is_wildcard_token(token) {
            return Err(SubjectError::WildcardInLiteral);
        }
    }
    Ok(())
}

/// True when `filter` is a valid subscription filter.
pub fn is_valid_filter(filter: &[u8]) -> bool {
    check_filter(filter).is_ok()
}

/// True when `subject` is a valid literal subject.
pub fn is_valid_literal(subject: &[u8]) -> bool {
    check_literal(subject).is_ok()
}

/// True when `token` is one of the two wildcards.
pub fn is_wildcard_token(token: &[u8]) -> bool {
    token == SINGLE_WILDCARD || token == TAIL_WILDCARD
}

/// True when any token of `filter` is a wildcard.
pub fn has_wildcard(filter: &[u8]) -> bool {
    tokens(filter).any(is_wildcard_token)
}

/// Matches a filter against a subject token by token.
///
/// Both are taken as they are; a subject with an empty token matches only a
/// filter with the same empty token, which valid filters never have. A
/// wildcard token in the subject is compared literally, except that the
/// filter's wildcards match it like any other token (as nats-server does for
/// non-pedantic publishers).
pub fn matches(filter: &[u8], subject: &[u8]) -> bool {
    let mut subject_tokens = tokens(subject);
    for f in tokens(filter) {
        if f == TAIL_WILDCARD {
            return subject_tokens.next().is_some();
        }
        match subject_tokens.next() {
            Some(s) if f == SINGLE_WILDCARD || f == s => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

/// A validated subscription filter (a subject that may hold wildcards).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubjectFilter(Bytes);

impl SubjectFilter {
    /// Validates `filter` and wraps it.
    pub fn parse(filter: impl Into<Bytes>) -> Result<Self, SubjectError> {
        let filter = filter.into();
        check_filter(&filter)?;
        Ok(Self(filter))
    }

    /// True when this filter matches `subject`.
    pub fn matches(&self, subject: &[u8]) -> bool {
        matches(&self.0, subject)
    }

    /// True when this filter has a `*` or `>` token.
    pub fn has_wildcard(&self) -> bool {
        has_wildcard(&self.0)
    }

    /// The filter's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The filter as shared bytes.
    pub fn as_shared(&self) -> &Bytes {
        &self.0
    }
}

/// A validated literal subject (no wildcard, no empty token).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject(Bytes);

impl Subject {
    /// Validates `subject` as a literal subject and wraps it.
    pub fn parse(subject: impl Into<Bytes>) -> Result<Self, SubjectError> {
        let subject = subject.into();
        check_literal(&subject)?;
        Ok(Self(subject))
    }

    /// The subject's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let cases: &[(&str, Result<(), SubjectError>)] = &[
            ("foo", Ok(())),
            ("foo.bar", Ok(())),
            ("foo.*", Ok(())),
            ("*", Ok(())),
            (">", Ok(())),
            ("foo.>", Ok(())),
            ("foo.*.>", Ok(())),
            ("foo*", Ok(())),
            ("foo>.bar", Ok(())),
            ("", Err(SubjectError::EmptyToken)),
            ("foo..bar", Err(SubjectError::EmptyToken)),
            (".foo", Err(SubjectError::EmptyToken)),
            ("foo.", Err(SubjectError::EmptyToken)),
            ("foo.>.bar", Err(SubjectError::TailWildcardNotLast)),
            (">.foo", Err(SubjectError::TailWildcardNotLast)),
        ];
        for (filter, expected) in cases {
            assert_eq!(check_filter(filter.as_bytes()), *expected, "{filter:?}");
        }
    }

    #[test]
    fn literals() {
        assert_eq!(check_literal(b"foo.bar"), Ok(()));
        assert_eq!(check_literal(b"foo*.bar"), Ok(()));
        assert_eq!(
            check_literal(b"foo.*"),
            Err(SubjectError::WildcardInLiteral)
        );
        assert_eq!(check_literal(b">"), Err(SubjectError::WildcardInLiteral));
        assert_eq!(check_literal(b"foo..x"), Err(SubjectError::EmptyToken));
        assert_eq!(check_literal(b""), Err(SubjectError::EmptyToken));
    }

    #[test]
    fn matching() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo", "foo", true),
            ("foo", "bar", false),
            ("foo", "foo.bar", false),
            ("foo.bar", "foo", false),
            ("foo.*", "foo.bar", true),
            ("foo.*", "foo.bar.baz", false),
            ("foo.*", "foo", false),
            ("*.bar", "foo.bar", true),
            ("foo.>", "foo.bar", true),
            ("foo.>", "foo.bar.baz", true),
            ("foo.>", "foo", false),
            (">", "foo", true),
            (">", "foo.bar", true),
            ("*.*", "a.b", true),
            ("*.*", "a", false),
            ("foo*", "foo*", true),
            ("foo*", "foox", false),
            ("foo.*", "foo.*", true),
            ("foo.>", "foo.*.>", true),
        ];
        for (filter, subject, expected) in cases {
            assert_eq!(
                matches(filter.as_bytes(), subject.as_bytes()),
                *expected,
                "{filter} vs {subject}"
            );
        }
    }

    #[test]
    fn typed_wrappers() {
        assert!(SubjectFilter::parse("a.*").unwrap().has_wildcard());
        assert!(!SubjectFilter::parse("a.b").unwrap().has_wildcard());
        assert_eq!(SubjectFilter::parse("a..b"), Err(SubjectError::EmptyToken));
        assert_eq!(Subject::parse("a.b").unwrap().as_bytes(), b"a.b");
        assert_eq!(Subject::parse("a.>"), Err(SubjectError::WildcardInLiteral));
    }
}
