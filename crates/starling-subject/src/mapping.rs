//! Subject mappings (`mappings { "orders.*": "shop.$1" }`): a published
//! subject matching a mapping's source is replaced by one of its
//! destinations, picked by weight, as nats-server's account mappings do.
//!
//! Weights are percentages. When the listed ones do not add up to 100 and
//! the source is not listed itself, the source is added with what is left,
//! so the rest of the messages keep their subject; when the source is
//! listed, what is left is lost (nats-server's way of dropping a share of
//! the messages). Destinations may be scoped to a cluster: a server in that
//! cluster uses them instead of the others.

use crate::transform::{SubjectTransform, TransformError};
use crate::{SINGLE_WILDCARD, tokens};

/// One destination as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDestination {
    /// The destination subject, with `$N` and the mapping functions.
    pub subject: String,
    /// Its share of the messages, 0 to 100.
    pub weight: u8,
    /// Only for servers in this cluster.
    pub cluster: Option<String>,
}

/// Why a mapping was refused (nats-server's texts).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MappingError {
    /// The same destination twice.
    Duplicate(String),
    /// One weight above 100.
    WeightAbove100,
    /// The weights (of one cluster, or the unscoped ones) above 100.
    TotalAbove100,
    /// The source or a destination cannot be a transform.
    Transform(TransformError),
}

impl std::fmt::Display for MappingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Duplicate(subject) => write!(f, "duplicate entry for {subject:?}"),
            Self::WeightAbove100 => f.write_str("individual weights need to be <= 100"),
            Self::TotalAbove100 => f.write_str("total weight needs to be <= 100"),
            Self::Transform(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for MappingError {}

/// Destinations with their cumulative weights, lightest first.
type Weighted = Vec<(SubjectTransform, u8)>;

/// A source subject and its weighted destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    source: Vec<u8>,
    destinations: Weighted,
    by_cluster: Vec<(String, Weighted)>,
}

impl Mapping {
    /// Builds a mapping of `source` (a subject, wildcards allowed).
    ///
    /// # Errors
    ///
    /// What nats-server refuses: an invalid source or destination,
    /// duplicates, weights above 100.
    pub fn new(source: &str, destinations: &[MapDestination]) -> Result<Self, MappingError> {
        if !crate::is_valid_filter(source.as_bytes()) || source.contains(BLANKS) {
            return Err(MappingError::Transform(TransformError::BadSubject));
        }
        let mut seen = Vec::new();
        let mut plain = Vec::new();
        let mut by_cluster: Vec<(String, Weighted)> = Vec::new();
        let mut total: u32 = 0;
        for destination in destinations {
            if seen.contains(&&destination.subject) {
                return Err(MappingError::Duplicate(destination.subject.clone()));
            }
            seen.push(&destination.subject);
            if destination.weight > 100 {
                return Err(MappingError::WeightAbove100);
            }
            total += u32::from(destination.weight);
            validate(&destination.subject).map_err(MappingError::Transform)?;
            if total > 100 {
                return Err(MappingError::TotalAbove100);
            }
            let transform =
                SubjectTransform::for_mapping(source.as_bytes(), destination.subject.as_bytes())
                    .map_err(MappingError::Transform)?;
            let entry = (transform, destination.weight);
            match &destination.cluster {
                None => plain.push(entry),
                Some(cluster) => match by_cluster.iter_mut().find(|(c, _)| c == cluster) {
                    Some((_, list)) => list.push(entry),
                    None => by_cluster.push((cluster.clone(), vec![entry])),
                },
            }
        }
        let listed = seen.iter().any(|s| s.as_str() == source);
        let fill =
            |list: Weighted| -> Result<Weighted, MappingError> { cumulative(list, source, listed) };
        Ok(Self {
            source: source.as_bytes().to_vec(),
            destinations: fill(plain)?,
            by_cluster: by_cluster
                .into_iter()
                .map(|(cluster, list)| Ok((cluster, fill(list)?)))
                .collect::<Result<_, MappingError>>()?,
        })
    }

    /// The source subject.
    pub fn source(&self) -> &[u8] {
        &self.source
    }

    /// True when some destinations are for one cluster only.
    pub fn is_cluster_scoped(&self) -> bool {
        !self.by_cluster.is_empty()
    }

    /// True when `subject` (a literal) is mapped by this mapping.
    pub fn matches(&self, subject: &[u8]) -> bool {
        self.source == subject || crate::matches(&self.source, subject)
    }

    /// Maps `subject` into `out` with the destination `roll` (0 to 99)
    /// picks, the ones for `cluster` when it has its own; false when the
    /// roll falls on the lost share (the message goes nowhere).
    pub fn select(
        &self,
        cluster: Option<&str>,
        roll: u8,
        subject: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let list = cluster
            .and_then(|name| self.by_cluster.iter().find(|(c, _)| c == name))
            .map_or(&self.destinations, |(_, list)| list);
        match list.iter().find(|(_, weight)| roll < *weight) {
            Some((transform, _)) => transform.apply(subject, out),
            None => false,
        }
    }
}

const BLANKS: &[char] = &[' ', '\t', '\n', '\r', '\x0c'];

/// nats-server's `ValidateMappingDestination`: no empty token, nothing
/// after `>`, only known functions, no blanks outside a function.
fn validate(destination: &str) -> Result<(), TransformError> {
    let mut after_tail = false;
    for token in destination.split('.') {
        if token.is_empty() || after_tail {
            return Err(TransformError::Destination {
                reason: "invalid subject",
                token: token.to_owned(),
            });
        }
        match crate::functions::parse(token.as_bytes()) {
            Err(TransformError::Destination {
                reason: crate::functions::UNKNOWN,
                token,
            }) => {
                return Err(TransformError::Destination {
                    reason: crate::functions::UNKNOWN,
                    token,
                });
            }
            Ok(Some(_)) | Err(_) => continue,
            Ok(None) => {}
        }
        if token == ">" {
            after_tail = true;
        } else if token.contains(BLANKS) {
            return Err(TransformError::BadSubject);
        }
    }
    Ok(())
}

/// Adds the source with what is left (unless it is listed), sorts
/// lightest first and makes the weights cumulative.
fn cumulative(mut list: Weighted, source: &str, listed: bool) -> Result<Weighted, MappingError> {
    let sum: u8 = list.iter().map(|(_, w)| *w).sum();
    if sum != 100 && !listed {
        let rest = if list.is_empty() { 100 } else { 100 - sum };
        let transform = SubjectTransform::for_mapping(source.as_bytes(), &numbered(source))
            .map_err(MappingError::Transform)?;
        list.push((transform, rest));
    }
    list.sort_by_key(|(_, weight)| *weight);
    let mut running = 0u8;
    for (_, weight) in &mut list {
        running = running.saturating_add(*weight);
        *weight = running;
    }
    Ok(list)
}

/// The source with its `*` written `$1`, `$2`... (nats-server's
/// `transformTokenize`).
fn numbered(source: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(source.len() + 8);
    let mut n = 0;
    for (i, token) in tokens(source.as_bytes()).enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        if token == SINGLE_WILDCARD {
            n += 1;
            out.extend_from_slice(format!("${n}").as_bytes());
        } else {
            out.extend_from_slice(token);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(subject: &str, weight: u8) -> MapDestination {
        MapDestination {
            subject: subject.into(),
            weight,
            cluster: None,
        }
    }

    fn pick(mapping: &Mapping, roll: u8, subject: &str) -> Option<String> {
        let mut out = Vec::new();
        mapping
            .select(None, roll, subject.as_bytes(), &mut out)
            .then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn weights_split_the_rolls() {
        let m = Mapping::new("a.*", &[dest("x.$1", 20), dest("y.$1", 50)]).unwrap();
        assert!(m.matches(b"a.1") && !m.matches(b"a.1.2"));
        // Lightest first: x 0..20, the source's 30 next, then y.
        assert_eq!(pick(&m, 0, "a.1").as_deref(), Some("x.1"));
        assert_eq!(pick(&m, 19, "a.1").as_deref(), Some("x.1"));
        assert_eq!(pick(&m, 20, "a.1").as_deref(), Some("a.1"));
        assert_eq!(pick(&m, 49, "a.1").as_deref(), Some("a.1"));
        assert_eq!(pick(&m, 50, "a.1").as_deref(), Some("y.1"));
        assert_eq!(pick(&m, 99, "a.1").as_deref(), Some("y.1"));
        // The source listed: the rest is lost.
        let lossy = Mapping::new("a", &[dest("a", 60)]).unwrap();
        assert_eq!(pick(&lossy, 59, "a").as_deref(), Some("a"));
        assert_eq!(pick(&lossy, 60, "a"), None);
    }

    #[test]
    fn cluster_destinations_win_in_their_cluster() {
        // As in nats-server, every weight counts toward the 100.
        let mut scoped = dest("east", 50);
        scoped.cluster = Some("E".into());
        let m = Mapping::new("a", &[dest("anywhere", 50), scoped]).unwrap();
        let mut out = Vec::new();
        assert!(m.select(Some("E"), 5, b"a", &mut out));
        assert_eq!(out, b"east");
        assert!(m.select(Some("W"), 5, b"a", &mut out));
        assert_eq!(out, b"anywhere");
    }

    #[test]
    fn refusals_are_nats_servers() {
        let text = |source: &str, dests: &[MapDestination]| {
            Mapping::new(source, dests).unwrap_err().to_string()
        };
        assert_eq!(
            text("a", &[dest("b", 60), dest("c", 50)]),
            "total weight needs to be <= 100"
        );
        assert_eq!(
            text("a", &[dest("b", 10), dest("b", 10)]),
            "duplicate entry for \"b\""
        );
        assert_eq!(
            text("a", &[dest("b", 101)]),
            "individual weights need to be <= 100"
        );
        assert_eq!(text("a.*", &[dest("b.*", 100)]), "invalid subject");
        assert_eq!(text("a.*", &[dest("b.>", 100)]), "invalid subject");
        assert_eq!(
            text("a.*.*", &[dest("b.$1", 100)]),
            "invalid mapping destination: not using all of the token wildcard(s) in b.$1"
        );
        assert_eq!(
            text("a.*", &[dest("b.$2", 100)]),
            "invalid mapping destination: wildcard index out of range in $2: [2]"
        );
        assert_eq!(
            text("a.*", &[dest("b.{{nope(1)}}", 100)]),
            "invalid mapping destination: unknown function in {{nope(1)}}"
        );
        // Without wildcards in the source the destination is taken as written.
        let literal = Mapping::new("a", &[dest("b.$1", 100)]).unwrap();
        assert_eq!(pick(&literal, 0, "a").as_deref(), Some("b.$1"));
    }
}
