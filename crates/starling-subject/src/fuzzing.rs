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
    let builds = [
        SubjectTransform::new(source, destination),
        SubjectTransform::for_mapping(source, destination),
    ];
    for transform in builds.into_iter().flatten() {
        let mut out = Vec::new();
        let applied = transform.apply(subject, &mut out);
        assert_eq!(
            applied, matched,
            "{source:?} -> {destination:?} on {subject:?}"
        );
    }
    // A mapping (the functions included) maps every subject its source
    // matches, whatever the roll.
    let (Ok(source), Ok(destination)) = (
        std::str::from_utf8(source),
        std::str::from_utf8(destination),
    ) else {
        return;
    };
    let only = crate::MapDestination {
        subject: destination.to_owned(),
        weight: 100,
        cluster: None,
    };
    if let Ok(mapping) = crate::Mapping::new(source, &[only]) {
        assert_eq!(mapping.matches(subject), matched);
        let mut out = Vec::new();
        if matched {
            assert!(
                mapping.select(None, 99, subject, &mut out),
                "{source:?} -> {destination:?}"
            );
        }
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
            b"a.*\0b.{{partition(3,1)}}.{{SliceFromRight(1,2)}}\0a.xyz",
            b"a.*.*\0{{split(2,-)}}.{{SplitFromLeft(1,1)}}.$2\0a.xy.-b-",
            b"a\0\0a",
            b"",
        ] {
            super::check_transform(data);
        }
    }
}
