//! `mappings` (alias `maps`), at the top level (the global account's) or
//! in an account: `source: destination`, `source: { destination, weight }`
//! or `source: [ { destination, weight, cluster }, ... ]`, read as
//! nats-server reads them (weights as `50%`, `"50"` or `50`).

use starling_conf::{ConfError, Value, ValueKind};
use starling_subject::{MapDestination, Mapping};

/// Reads one `mappings` block; every problem goes to `errors`.
pub(crate) fn read_mappings(value: &Value, errors: &mut Vec<ConfError>) -> Vec<Mapping> {
    let map = match value.as_map("mappings") {
        Ok(map) => map,
        Err(error) => {
            errors.push(error);
            return Vec::new();
        }
    };
    let mut mappings = Vec::new();
    for (key, destination) in map.options() {
        let source = key.name.as_str();
        let valid = starling_subject::is_valid_filter(source.as_bytes())
            && !source.contains([' ', '\t', '\r', '\n']);
        if !valid {
            errors.push(ConfError::at(
                &key.span,
                format!("Subject {source:?} is not a valid subject"),
            ));
            continue;
        }
        let destinations = match &destination.kind {
            ValueKind::String(subject) => Ok(vec![MapDestination {
                subject: subject.clone(),
                weight: 100,
                cluster: None,
            }]),
            ValueKind::Array(items) => items.iter().map(read_destination).collect(),
            ValueKind::Map(_) => read_destination(destination).map(|d| vec![d]),
            _ => Err(destination.error(format!(
                "Unknown type {} for mapping destination",
                destination.kind_name()
            ))),
        };
        let destinations = match destinations {
            Ok(destinations) => destinations,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        match Mapping::new(source, &destinations) {
            Ok(mapping) => mappings.push(mapping),
            Err(error) => {
                let to: Vec<&str> = destinations.iter().map(|d| d.subject.as_str()).collect();
                errors.push(destination.error(format!(
                    "Error adding mapping for {source:?} to {:?} : {error}",
                    to.join(", ")
                )));
            }
        }
    }
    mappings
}

/// `{ destination (dest), weight, cluster }`; the weight is required.
fn read_destination(value: &Value) -> Result<MapDestination, ConfError> {
    let ValueKind::Map(map) = &value.kind else {
        return Err(value.error("Expected an entry for the mapping destination"));
    };
    let mut subject = String::new();
    let mut weight = None;
    let mut cluster = None;
    for (key, field) in map.options() {
        match key.name.to_ascii_lowercase().as_str() {
            "dest" | "destination" => subject = field.as_str("destination")?.to_owned(),
            "weight" => {
                let number = match &field.kind {
                    ValueKind::String(text) => {
                        let digits = text.strip_suffix('%').unwrap_or(text);
                        digits.parse::<i64>().map_err(|_| {
                            field
                                .error(format!("Invalid weight {digits:?} for mapping destination"))
                        })?
                    }
                    ValueKind::Integer(n) => *n,
                    _ => {
                        return Err(field.error(format!(
                            "Unknown entry type for weight of {}",
                            field.kind_name()
                        )));
                    }
                };
                let weight_u8 = u8::try_from(number).ok().filter(|w| *w <= 100);
                weight = Some(weight_u8.ok_or_else(|| {
                    field.error(format!("Invalid weight {number} for mapping destination"))
                })?);
            }
            "cluster" => cluster = Some(field.as_str("cluster")?.to_owned()),
            other => {
                return Err(ConfError::at(
                    &key.span,
                    format!("Unknown field {other:?} for mapping destination"),
                ));
            }
        }
    }
    let weight = weight.ok_or_else(|| {
        value.error(format!(
            "Missing weight for mapping destination {subject:?}"
        ))
    })?;
    Ok(MapDestination {
        subject,
        weight,
        cluster,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Mapping>, Vec<String>> {
        let root = starling_conf::parse_str(text).unwrap();
        let value = root
            .as_map("root")
            .unwrap()
            .get("mappings")
            .unwrap()
            .clone();
        let mut errors = Vec::new();
        let mappings = read_mappings(&value, &mut errors);
        if errors.is_empty() {
            Ok(mappings)
        } else {
            Err(errors.iter().map(|e| e.message.clone()).collect())
        }
    }

    #[test]
    fn every_form_is_read() {
        let mappings = read(
            "mappings { a: b, \"c.*\": { dest: \"d.$1\", weight: 40% }, \
             e: [ {destination: f, weight: \"30\"}, {destination: g, weight: 70, cluster: C} ] }",
        )
        .unwrap();
        assert_eq!(mappings.len(), 3);
        assert_eq!(mappings[1].source(), b"c.*");
    }

    #[test]
    fn mistakes_are_named() {
        let first = |text: &str| read(text).unwrap_err().remove(0);
        assert_eq!(
            first("mappings { \"a..b\": c }"),
            "Subject \"a..b\" is not a valid subject"
        );
        assert_eq!(
            first("mappings { a: { dest: b } }"),
            "Missing weight for mapping destination \"b\""
        );
        assert_eq!(
            first("mappings { a: { dest: b, weight: 101 } }"),
            "Invalid weight 101 for mapping destination"
        );
        assert_eq!(
            first("mappings { a: { dest: b, weight: 1, x: 1 } }"),
            "Unknown field \"x\" for mapping destination"
        );
        assert_eq!(
            first("mappings { a: [ {dest: b, weight: 60}, {dest: c, weight: 60} ] }"),
            "Error adding mapping for \"a\" to \"b, c\" : total weight needs to be <= 100"
        );
    }
}
