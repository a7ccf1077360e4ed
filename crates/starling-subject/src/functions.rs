//! The mapping functions a transform's destination token may be:
//! `{{wildcard(N)}}`, `{{partition(buckets, N...)}}`,
//! `{{SplitFromLeft(N, pos)}}`, `{{SplitFromRight(N, pos)}}`,
//! `{{SliceFromLeft(N, size)}}`, `{{SliceFromRight(N, size)}}` and
//! `{{split(N, delimiter)}}`, read and applied as nats-server's (function
//! names in either case for their words' first letters, blanks allowed
//! around the name and arguments). N counts the source's `*` from 1.

use crate::transform::TransformError;

/// A destination token that computes its text from the source's wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Function {
    /// The wildcard itself (`$N`, `{{wildcard(N)}}`).
    Wildcard(usize),
    /// FNV-1a of the wildcards' texts, modulo the bucket count.
    Partition(u32, Vec<usize>),
    SplitFromLeft(usize, usize),
    SplitFromRight(usize, usize),
    SliceFromLeft(usize, usize),
    SliceFromRight(usize, usize),
    Split(usize, Vec<u8>),
}

/// Reads `{{name(args)}}`; `Ok(None)` when the token is not one.
pub(crate) fn parse(token: &[u8]) -> Result<Option<Function>, TransformError> {
    let Ok(text) = std::str::from_utf8(token) else {
        return Ok(None);
    };
    if text.len() <= 4 || !text.starts_with("{{") || !text.ends_with("}}") {
        return Ok(None);
    }
    let bad = |reason| TransformError::Destination {
        reason,
        token: text.to_owned(),
    };
    let inner = text[2..text.len() - 2].trim_start();
    let open = inner.find('(').ok_or_else(|| bad(UNKNOWN))?;
    let name = inner[..open].trim_end();
    let rest = inner[open + 1..].trim_end();
    let args_text = rest.strip_suffix(')').ok_or_else(|| bad(UNKNOWN))?;
    // Go's `,\s*` split: blanks after a comma go, others stay (and are
    // trimmed from numbers, not from a delimiter).
    let args: Vec<&str> = args_text
        .split(',')
        .enumerate()
        .map(|(i, a)| if i == 0 { a } else { a.trim_start() })
        .collect();
    let number = |arg: &str| arg.trim().parse::<i64>().map_err(|_| bad(INVALID));
    let index = |arg: &str| -> Result<usize, TransformError> {
        let n = number(arg)?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| TransformError::Destination {
                reason: OUT_OF_RANGE,
                token: format!("{text}: [{n}]"),
            })
    };
    let two = |args: &[&str]| match args.len() {
        0 | 1 => Err(bad(NOT_ENOUGH)),
        2 => Ok((index(args[0])?, number(args[1])?)),
        _ => Err(bad(TOO_MANY)),
    };
    let size = |n: i64| usize::try_from(n).unwrap_or(0);
    let function = match canonical(name).as_deref() {
        Some("wildcard") => match args.as_slice() {
            [""] => return Err(bad(NOT_ENOUGH)),
            [one] => Function::Wildcard(index(one)?),
            _ => return Err(bad(TOO_MANY)),
        },
        Some("partition") => {
            if args.len() < 2 {
                return Err(bad(NOT_ENOUGH));
            }
            let buckets = u32::try_from(number(args[0])?)
                .ok()
                .filter(|b| *b > 0)
                .ok_or_else(|| bad(INVALID))?;
            let indexes = args[1..]
                .iter()
                .map(|a| index(a))
                .collect::<Result<_, _>>()?;
            Function::Partition(buckets, indexes)
        }
        Some("splitfromleft") => two(&args).map(|(i, n)| Function::SplitFromLeft(i, size(n)))?,
        Some("splitfromright") => two(&args).map(|(i, n)| Function::SplitFromRight(i, size(n)))?,
        Some("slicefromleft") => two(&args).map(|(i, n)| Function::SliceFromLeft(i, size(n)))?,
        Some("slicefromright") => two(&args).map(|(i, n)| Function::SliceFromRight(i, size(n)))?,
        Some("split") => match args.as_slice() {
            [] | [_] => return Err(bad(NOT_ENOUGH)),
            [i, delimiter] => {
                if delimiter.contains(' ') || delimiter.contains('.') {
                    return Err(bad(INVALID));
                }
                Function::Split(index(i)?, delimiter.as_bytes().to_vec())
            }
            _ => return Err(bad(TOO_MANY)),
        },
        _ => return Err(bad(UNKNOWN)),
    };
    Ok(Some(function))
}

/// The function's name as nats-server's patterns allow it (`[sS]plit[fF]rom
/// [lL]eft`: each word's first letter in either case, the rest lower case).
fn canonical(name: &str) -> Option<String> {
    const NAMES: [&str; 7] = [
        "wildcard",
        "partition",
        "splitfromleft",
        "splitfromright",
        "slicefromleft",
        "slicefromright",
        "split",
    ];
    const WORD_STARTS: [&[usize]; 7] = [
        &[0],
        &[0],
        &[0, 5, 9],
        &[0, 5, 9],
        &[0, 5, 9],
        &[0, 5, 9],
        &[0],
    ];
    NAMES.iter().zip(WORD_STARTS).find_map(|(canon, starts)| {
        let fits = name.len() == canon.len()
            && name
                .bytes()
                .zip(canon.bytes())
                .enumerate()
                .all(|(i, (got, want))| {
                    got == want || (starts.contains(&i) && got.to_ascii_lowercase() == want)
                });
        fits.then(|| (*canon).to_owned())
    })
}

pub(crate) const UNKNOWN: &str = "unknown function";
pub(crate) const INVALID: &str = "function argument is invalid or in the wrong format";
pub(crate) const NOT_ENOUGH: &str = "not enough arguments passed to the function";
pub(crate) const TOO_MANY: &str = "too many arguments passed to the function";
pub(crate) const OUT_OF_RANGE: &str = "wildcard index out of range";

impl Function {
    /// The wildcards (numbered from 1) the function reads.
    pub(crate) fn wildcards(&self) -> Vec<usize> {
        match self {
            Self::Partition(_, indexes) => indexes.clone(),
            Self::Wildcard(i)
            | Self::SplitFromLeft(i, _)
            | Self::SplitFromRight(i, _)
            | Self::SliceFromLeft(i, _)
            | Self::SliceFromRight(i, _)
            | Self::Split(i, _) => vec![*i],
        }
    }

    /// Writes the function's text; `wildcard(n)` is the text of the
    /// source's wildcard number `n` (from 1).
    pub(crate) fn write<'a>(&self, wildcard: impl Fn(usize) -> &'a [u8], out: &mut Vec<u8>) {
        match self {
            Self::Wildcard(i) => out.extend_from_slice(wildcard(*i)),
            Self::Partition(buckets, indexes) => {
                let mut hash: u32 = 0x811c_9dc5;
                for byte in indexes.iter().flat_map(|i| wildcard(*i)) {
                    hash ^= u32::from(*byte);
                    hash = hash.wrapping_mul(0x0100_0193);
                }
                out.extend_from_slice((hash % buckets).to_string().as_bytes());
            }
            Self::SplitFromLeft(i, at) => split_at(wildcard(*i), *at, out),
            Self::SplitFromRight(i, at) => {
                let token = wildcard(*i);
                split_at(token, token.len().wrapping_sub(*at), out);
            }
            Self::SliceFromLeft(i, size) => {
                let token = wildcard(*i);
                if *size == 0 || *size >= token.len() {
                    return out.extend_from_slice(token);
                }
                join(token.chunks(*size), out);
            }
            Self::SliceFromRight(i, size) => {
                let token = wildcard(*i);
                if *size == 0 || *size >= token.len() {
                    return out.extend_from_slice(token);
                }
                let (head, rest) = token.split_at(token.len() % size);
                let head = (!head.is_empty()).then_some(head);
                join(head.into_iter().chain(rest.chunks(*size)), out);
            }
            Self::Split(i, delimiter) => {
                let token = wildcard(*i);
                join(split(token, delimiter).filter(|part| !part.is_empty()), out);
            }
        }
    }
}

/// `token` cut in two at `at` (nothing cut unless 0 < at < len).
fn split_at(token: &[u8], at: usize, out: &mut Vec<u8>) {
    if at > 0 && at < token.len() {
        out.extend_from_slice(&token[..at]);
        out.push(b'.');
        out.extend_from_slice(&token[at..]);
    } else {
        out.extend_from_slice(token);
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    for (n, part) in parts.enumerate() {
        if n > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(part);
    }
}

/// Go's `strings.Split` (an empty delimiter splits between every byte).
fn split<'a>(token: &'a [u8], delimiter: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = Some(token);
    std::iter::from_fn(move || {
        let text = rest?;
        if delimiter.is_empty() {
            if text.len() <= 1 {
                rest = None;
                return Some(text);
            }
            rest = Some(&text[1..]);
            return Some(&text[..1]);
        }
        match text.windows(delimiter.len()).position(|w| w == delimiter) {
            Some(at) => {
                rest = Some(&text[at + delimiter.len()..]);
                Some(&text[..at])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(function: &str, wildcards: &[&str]) -> String {
        let function = parse(function.as_bytes()).unwrap().unwrap();
        let mut out = Vec::new();
        function.write(|i| wildcards[i - 1].as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn functions_compute_as_nats_server_does() {
        assert_eq!(apply("{{wildcard(2)}}", &["a", "b"]), "b");
        assert_eq!(apply("{{ Wildcard( 1 ) }}", &["a"]), "a");
        assert_eq!(apply("{{SplitFromLeft(1,3)}}", &["12345"]), "123.45");
        assert_eq!(apply("{{splitFromRight(1,3)}}", &["12345"]), "12.345");
        assert_eq!(apply("{{SplitFromLeft(1,9)}}", &["12345"]), "12345");
        assert_eq!(apply("{{SliceFromLeft(1,2)}}", &["12345"]), "12.34.5");
        assert_eq!(apply("{{SliceFromRight(1,2)}}", &["12345"]), "1.23.45");
        assert_eq!(apply("{{SliceFromRight(1,2)}}", &["1234"]), "12.34");
        assert_eq!(apply("{{split(1,-)}}", &["-a--b-"]), "a.b");
        assert_eq!(apply("{{split(1,ab)}}", &["xabyab"]), "x.y");
        // FNV-1a 32: "foo" hashes to 0xa9f37ed7.
        assert_eq!(
            apply("{{partition(10,1)}}", &["foo"]),
            (0xa9f3_7ed7_u32 % 10).to_string()
        );
        assert_eq!(
            apply("{{partition(7,1,2)}}", &["fo", "o"]),
            (0xa9f3_7ed7_u32 % 7).to_string()
        );
    }

    #[test]
    fn refusals_name_nats_server_reasons() {
        let reason = |token: &str| match parse(token.as_bytes()) {
            Err(TransformError::Destination { reason, .. }) => reason,
            other => panic!("{token}: {other:?}"),
        };
        assert_eq!(reason("{{foo(1)}}"), UNKNOWN);
        assert_eq!(reason("{{SPLIT(1,-)}}"), UNKNOWN);
        assert_eq!(reason("{{wildcard()}}"), NOT_ENOUGH);
        assert_eq!(reason("{{wildcard(1,2)}}"), TOO_MANY);
        assert_eq!(reason("{{partition(3)}}"), NOT_ENOUGH);
        assert_eq!(reason("{{partition(x,1)}}"), INVALID);
        assert_eq!(reason("{{split(1,a b)}}"), INVALID);
        assert_eq!(reason("{{SliceFromLeft(1)}}"), NOT_ENOUGH);
        assert_eq!(reason("{{wildcard(0)}}"), OUT_OF_RANGE);
        assert_eq!(parse(b"$1").unwrap(), None);
        assert_eq!(parse(b"{{}}").unwrap(), None);
    }
}
