//! Subject transforms and subset checks, for account exports and imports.
//!
//! An import names a subject in the exporting account and, with `to` (or a
//! stream's `prefix`), the subject it has in the importing account. The
//! mapping is nats-server's: wildcard tokens of the source are carried into
//! the destination, by position (`*` and `>` in the destination take the
//! source's wildcards in order) or by number (`$1`, `{{wildcard(1)}}`).
//! Written here once so configuration checks and delivery agree.

use crate::functions::{self, Function};
use crate::{SINGLE_WILDCARD, TAIL_WILDCARD, tokens};

/// True when every subject `filter` matches is also matched by `of`: the
/// rule for an import (`filter`) being covered by an export (`of`).
pub fn is_subset(filter: &[u8], of: &[u8]) -> bool {
    let mut mine = tokens(filter);
    for theirs in tokens(of) {
        if theirs == TAIL_WILDCARD {
            return mine.next().is_some();
        }
        match mine.next() {
            Some(t) if t == TAIL_WILDCARD => return false,
            Some(t) if t == SINGLE_WILDCARD && theirs != SINGLE_WILDCARD => return false,
            Some(t) if theirs == SINGLE_WILDCARD || t == theirs => {}
            _ => return false,
        }
    }
    mine.next().is_none()
}

/// Why a transform could not be built (the texts are nats-server's).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransformError {
    /// The destination refers to a wildcard the source does not have.
    NoSuchWildcard(usize),
    /// The destination has more positional wildcards than the source, or
    /// the source more than 16.
    TooManyWildcards,
    /// The destination uses `>` but the source does not end in `>`.
    NoTailWildcard,
    /// A `{{...}}` token that is not one of the mapping functions.
    UnsupportedFunction(String),
    /// A subject that is not valid where it stands (a mapping's source,
    /// or a destination with `*` or an unmatched `>`).
    BadSubject,
    /// A mapping destination nats-server refuses: its reason and the token.
    Destination {
        /// What is wrong (`unknown function`, `wildcard index out of range`...).
        reason: &'static str,
        /// The token, as nats-server names it.
        token: String,
    },
}

impl std::fmt::Display for TransformError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoSuchWildcard(n) => write!(f, "no wildcard number {n} in the source subject"),
            Self::TooManyWildcards => {
                f.write_str("the destination has more wildcards than the source")
            }
            Self::NoTailWildcard => f.write_str("'>' in the destination needs '>' in the source"),
            Self::UnsupportedFunction(text) => {
                write!(f, "invalid mapping destination: unknown function in {text}")
            }
            Self::BadSubject => f.write_str("invalid subject"),
            Self::Destination { reason, token } => {
                write!(f, "invalid mapping destination: {reason} in {token}")
            }
        }
    }
}

impl std::error::Error for TransformError {}

/// The most `*` a transform's source may have (captured without
/// allocating).
const MAX_WILDCARDS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Vec<u8>),
    /// The source's `*` number N (0-based).
    Wildcard(usize),
    /// A mapping function of the source's wildcards (numbered from 1).
    Function(Function),
    /// What the source's `>` matched.
    Tail,
}

/// A mapping from subjects matching `source` to `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTransform {
    source: Vec<u8>,
    parts: Vec<Part>,
}

impl SubjectTransform {
    /// Builds an import's mapping; `destination` may use `*`, `>`, `$N`
    /// and the mapping functions to carry the source's wildcards.
    pub fn new(source: &[u8], destination: &[u8]) -> Result<Self, TransformError> {
        let stars = Self::stars(source)?;
        let tail = tokens(source).last() == Some(TAIL_WILDCARD);
        let mut next_star = 0;
        let mut parts = Vec::new();
        for token in tokens(destination) {
            let part = if token == SINGLE_WILDCARD {
                next_star += 1;
                if next_star > stars {
                    return Err(TransformError::TooManyWildcards);
                }
                Part::Wildcard(next_star - 1)
            } else if token == TAIL_WILDCARD {
                if !tail {
                    return Err(TransformError::NoTailWildcard);
                }
                Part::Tail
            } else {
                let function = placeholder(token).map_err(|e| match e {
                    TransformError::Destination {
                        reason: functions::UNKNOWN,
                        token,
                    } => TransformError::UnsupportedFunction(token),
                    TransformError::Destination {
                        reason: functions::OUT_OF_RANGE,
                        ..
                    } => TransformError::NoSuchWildcard(0),
                    other => other,
                })?;
                if let Some(n) = function.as_ref().and_then(|f| out_of_range(f, stars)) {
                    return Err(TransformError::NoSuchWildcard(n));
                }
                match function {
                    Some(Function::Wildcard(n)) => Part::Wildcard(n - 1),
                    Some(function) => Part::Function(function),
                    None => Part::Literal(token.to_vec()),
                }
            };
            parts.push(part);
        }
        Ok(Self {
            source: source.to_vec(),
            parts,
        })
    }

    /// Builds a subject mapping's destination with nats-server's rules
    /// (`newTransform`): both must be valid subjects, the destination has
    /// no `*` and a `>` only when the source ends in one; with wildcards
    /// in the source the destination uses every one of them (`$N` or a
    /// function); without, it is taken as written.
    pub fn for_mapping(source: &[u8], destination: &[u8]) -> Result<Self, TransformError> {
        let stars = Self::stars(source)?;
        let tail = tokens(source).last() == Some(TAIL_WILDCARD);
        if !crate::is_valid_filter(source)
            || !crate::is_valid_filter(destination)
            || tokens(destination).any(|t| t == SINGLE_WILDCARD)
            || tail != (tokens(destination).last() == Some(TAIL_WILDCARD))
        {
            return Err(TransformError::BadSubject);
        }
        let mut parts = Vec::new();
        let mut placeholders = 0;
        for token in tokens(destination) {
            let function = if stars > 0 || tail {
                placeholder(token)?
            } else {
                None
            };
            if let Some(n) = function.as_ref().and_then(|f| out_of_range(f, stars)) {
                return Err(TransformError::Destination {
                    reason: functions::OUT_OF_RANGE,
                    token: format!("{}: [{n}]", String::from_utf8_lossy(token)),
                });
            }
            parts.push(match function {
                Some(function) => {
                    placeholders += 1;
                    Part::Function(function)
                }
                None if token == TAIL_WILDCARD => Part::Tail,
                None => Part::Literal(token.to_vec()),
            });
        }
        if placeholders < stars {
            return Err(TransformError::Destination {
                reason: "not using all of the token wildcard(s)",
                token: String::from_utf8_lossy(destination).into_owned(),
            });
        }
        Ok(Self {
            source: source.to_vec(),
            parts,
        })
    }

    fn stars(source: &[u8]) -> Result<usize, TransformError> {
        let stars = tokens(source).filter(|t| *t == SINGLE_WILDCARD).count();
        if stars > MAX_WILDCARDS {
            return Err(TransformError::TooManyWildcards);
        }
        Ok(stars)
    }

    /// The source this transform maps from.
    pub fn source(&self) -> &[u8] {
        &self.source
    }

    /// A transform that puts `prefix.` in front of any subject (a stream
    /// import's `prefix`).
    pub fn prefix(prefix: &[u8]) -> Self {
        Self {
            source: TAIL_WILDCARD.to_vec(),
            parts: vec![Part::Literal(prefix.to_vec()), Part::Tail],
        }
    }

    /// Writes the mapped `subject` into `out` (cleared first); false when
    /// `subject` does not match the source.
    pub fn apply(&self, subject: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        let mut captured: [&[u8]; MAX_WILDCARDS] = [&[]; MAX_WILDCARDS];
        let mut star = 0;
        let mut tail: &[u8] = &[];
        let mut offset = 0;
        let mut theirs = tokens(subject);
        let mut ended = false;
        for token in tokens(&self.source) {
            if token == TAIL_WILDCARD {
                if offset >= subject.len() {
                    return false;
                }
                tail = &subject[offset..];
                ended = true;
                break;
            }
            let Some(this) = theirs.next() else {
                return false;
            };
            offset += this.len() + 1;
            if token == SINGLE_WILDCARD {
                if let Some(slot) = captured.get_mut(star) {
                    *slot = this;
                }
                star += 1;
            } else if token != this {
                return false;
            }
        }
        if !ended && theirs.next().is_some() {
            return false;
        }
        let wildcard = |n: usize| captured.get(n.wrapping_sub(1)).copied().unwrap_or_default();
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            match part {
                Part::Literal(text) => out.extend_from_slice(text),
                Part::Wildcard(n) => out.extend_from_slice(wildcard(n + 1)),
                Part::Function(function) => function.write(wildcard, out),
                Part::Tail => out.extend_from_slice(tail),
            }
        }
        true
    }
}

/// `$N` or a `{{...}}` function; `None` for a literal token (`$x`
/// included).
fn placeholder(token: &[u8]) -> Result<Option<Function>, TransformError> {
    match token.strip_prefix(b"$") {
        Some(number) if !number.is_empty() => Ok(std::str::from_utf8(number)
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
            .map(Function::Wildcard)),
        _ => functions::parse(token),
    }
}

/// A wildcard number the function reads that the source lacks.
fn out_of_range(function: &Function, stars: usize) -> Option<usize> {
    function
        .wildcards()
        .into_iter()
        .find(|n| *n == 0 || *n > stars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(source: &str, destination: &str, subject: &str) -> Option<String> {
        let transform = SubjectTransform::new(source.as_bytes(), destination.as_bytes()).unwrap();
        let mut out = Vec::new();
        transform
            .apply(subject.as_bytes(), &mut out)
            .then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn subsets() {
        assert!(is_subset(b"a.b", b"a.>"));
        assert!(is_subset(b"a.*", b"a.>"));
        assert!(is_subset(b"a.>", b"a.>"));
        assert!(is_subset(b"a.*.c", b"a.*.*"));
        assert!(is_subset(b"a.b.c", b"a.*.c"));
        assert!(!is_subset(b"a.>", b"a.*"));
        assert!(!is_subset(b"a.*", b"a.b"));
        assert!(!is_subset(b"a", b"a.>"));
        assert!(!is_subset(b"a.b.c", b"a.b"));
        assert!(!is_subset(b"a.b", b"a.b.c"));
    }

    #[test]
    fn mappings() {
        assert_eq!(map("a.b", "x.y", "a.b").as_deref(), Some("x.y"));
        assert_eq!(map("a.b", "x.y", "a.c"), None);
        assert_eq!(map("a.*.c", "x.*", "a.1.c").as_deref(), Some("x.1"));
        assert_eq!(map("a.*.*", "x.$2.$1", "a.1.2").as_deref(), Some("x.2.1"));
        assert_eq!(
            map("a.*.*", "x.{{wildcard(2)}}", "a.1.2").as_deref(),
            Some("x.2")
        );
        assert_eq!(map("a.>", "x.>", "a.1.2.3").as_deref(), Some("x.1.2.3"));
        assert_eq!(map("a.>", "x.>", "a"), None);
        assert_eq!(map("a.*", "x.*", "a.1.2"), None);
        let prefix = SubjectTransform::prefix(b"p");
        let mut out = Vec::new();
        assert!(prefix.apply(b"a.b", &mut out));
        assert_eq!(out, b"p.a.b");
    }

    #[test]
    fn refusals() {
        assert_eq!(
            SubjectTransform::new(b"a.*", b"x.*.*"),
            Err(TransformError::TooManyWildcards)
        );
        assert_eq!(
            SubjectTransform::new(b"a.*", b"x.$2"),
            Err(TransformError::NoSuchWildcard(2))
        );
        assert_eq!(
            SubjectTransform::new(b"a.*", b"x.>"),
            Err(TransformError::NoTailWildcard)
        );
        let seventeen = vec!["*"; 17].join(".");
        assert_eq!(
            SubjectTransform::new(seventeen.as_bytes(), b"x"),
            Err(TransformError::TooManyWildcards)
        );
        assert!(matches!(
            SubjectTransform::new(b"a.*", b"x.{{bogus(1)}}"),
            Err(TransformError::UnsupportedFunction(_))
        ));
    }
}
