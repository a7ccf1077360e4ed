//! Properties the fuzz target checks, kept here so the committed seeds are
//! replayed by `cargo test` on stable as well.

use crate::{SubjectTransform, is_subset, is_valid_filter, is_valid_literal, matches};

/// Reads `data` as three parts separated by NUL bytes: a source filter, a
/// destination (a filter or a transform destination), and a subject. For
/// valid inputs it checks that a transform applies exactly where the source
/// matches, and that `is_subset(source, destination)` never holds while the
/// subject matches the source but not the destination. Panics (the
/// fuzzer's signal) on a violation; never on odd input.
pub fn check_transform(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0);
    let (Some(source), Some(destination), Some(subject)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    if !is_valid_filter(source) || !is_valid_literal(subject) {
        return;
    }
    let matched = matches(source, subject);
    if is_valid_filter(destination) && is_subset(source, destination) && matched {
        assert!(
            matches(destination, subject),
            "subset {source:?} of {destination:?} but {subject:?} matches only the first"
        );
    }
    if let Ok(transform) = SubjectTransform::new(source, destination) {
        let mut out = Vec::new();
        let applied = transform.apply(subject, &mut out);
        assert_eq!(
            applied, matched,
            "{source:?} -> {destination:?} on {subject:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn holds_on_examples() {
        for data in [
            &b"a.*\0x.$1\0a.b"[..],
            b"a.>\0a.*\0a.b.c",
            b"*.*\0{{wildcard(2)}}.{{wildcard(1)}}\0p.q",
            b"a\0\0a",
            b"",
        ] {
            super::check_transform(data);
        }
    }
}
