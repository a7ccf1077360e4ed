//! Service latency tracking as an export asks for it: `latency` on a
//! service export names the subject its measurements go to (in the
//! exporting account) and how often a request is measured, a percentage
//! or `headers` (only requests whose tracing headers ask to be sampled).
//! Read with nats-server's texts; measuring is the server's job.

use starling_conf::{ConfError, Value};

use crate::links::{Export, ExportKind, ResponseType};

/// nats-server's `DEFAULT_SERVICE_LATENCY_SAMPLING`.
pub const DEFAULT_SAMPLING: u8 = 100;

/// How often a request to the service is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// This percentage of requests (1 to 100), drawn at random.
    Percent(u8),
    /// Requests whose tracing headers (B3, W3C `traceparent`, Uber) say
    /// to sample.
    Headers,
}

/// `latency: { sampling, subject }` of a service export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLatency {
    /// Where the measurements are published, in the exporting account.
    pub subject: String,
    /// How often.
    pub sampling: Sampling,
}

/// Reads `latency`: a subject alone (every request measured), or a map of
/// `sampling` and `subject` (nats-server's `parseServiceLatency`).
pub(crate) fn read(value: &Value) -> Result<ServiceLatency, ConfError> {
    if let Ok(subject) = value.as_str("latency") {
        return Ok(ServiceLatency {
            subject: subject.to_owned(),
            sampling: Sampling::Percent(DEFAULT_SAMPLING),
        });
    }
    let map = value.as_map("latency").map_err(|_| {
        value.error(format!(
            "Expected latency entry to be a map/struct or string, got {}",
            value.kind_name()
        ))
    })?;
    let mut sampling = Sampling::Percent(DEFAULT_SAMPLING);
    let mut subject = None;
    for (key, entry) in map.options() {
        match key.name.as_str() {
            "sampling" => sampling = read_sampling(entry)?,
            "subject" => {
                subject = Some(entry.as_str("latency subject").map_err(|_| {
                    entry.error(format!(
                        "Expected latency subject to be a string, got {}",
                        entry.kind_name()
                    ))
                })?);
            }
            // nats-server reads the two keys it knows and no others.
            _ => {}
        }
    }
    let Some(subject) = subject else {
        return Err(value.error("Latency subject required, but missing"));
    };
    Ok(ServiceLatency {
        subject: subject.to_owned(),
        sampling,
    })
}

fn read_sampling(value: &Value) -> Result<Sampling, ConfError> {
    let percent = if let Ok(number) = value.as_integer("sampling") {
        number
    } else if let Ok(text) = value.as_str("sampling") {
        if text.trim().eq_ignore_ascii_case("headers") {
            return Ok(Sampling::Headers);
        }
        let digits = text.strip_suffix('%').unwrap_or(text);
        digits.parse::<i64>().map_err(|_| {
            value.error(format!(
                "Failed to parse latency sample: strconv.Atoi: parsing {digits:?}: invalid syntax"
            ))
        })?
    } else {
        return Err(value.error(format!(
            "Expected latency sample to be a string or map/struct, got {}",
            value.kind_name()
        )));
    };
    match u8::try_from(percent) {
        Ok(percent @ 1..=100) => Ok(Sampling::Percent(percent)),
        _ => Err(value.error("bad sampling percentage, should be 1-100")),
    }
}

/// The start-up checks nats-server's `TrackServiceExportWithSampling`
/// makes once the account's exports are known: a singleton service, and a
/// results subject that is a valid publish subject and not one of the
/// account's own services. `Err` holds nats-server's text. (That there is
/// a system account to send them is the server's check.)
pub(crate) fn check(export: &Export, exports: &[Export]) -> Result<(), String> {
    let ExportKind::Service {
        response,
        latency: Some(latency),
        ..
    } = &export.kind
    else {
        return Ok(());
    };
    let reason = if *response != ResponseType::Singleton {
        Some("bad service response type")
    } else if !starling_subject::is_valid_literal(latency.subject.as_bytes())
        || exports.iter().any(|e| {
            e.account == export.account
                && matches!(e.kind, ExportKind::Service { .. })
                && starling_subject::matches(e.subject.as_bytes(), latency.subject.as_bytes())
        })
    {
        Some("invalid publish subject")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(format!(
            "Error adding service latency sampling for {:?} on subject {:?}: {reason}",
            export.subject, latency.subject
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(text: &str) -> Result<ServiceLatency, String> {
        let value =
            starling_conf::parse_str(&format!("latency: {text}")).map_err(|e| e.to_string())?;
        let entry = value.as_map("root").map_err(|e| e.to_string())?;
        let (_, entry) = entry.options().next().ok_or("empty")?;
        read(entry).map_err(|e| e.to_string())
    }

    #[test]
    fn forms_nats_server_reads() {
        assert_eq!(
            latency("lat").unwrap(),
            ServiceLatency {
                subject: "lat".into(),
                sampling: Sampling::Percent(100)
            }
        );
        assert_eq!(
            latency("{ sampling: \"50%\", subject: lat }")
                .unwrap()
                .sampling,
            Sampling::Percent(50)
        );
        assert_eq!(
            latency("{ sampling: 7, subject: lat }").unwrap().sampling,
            Sampling::Percent(7)
        );
        assert_eq!(
            latency("{ sampling: headers, subject: lat }")
                .unwrap()
                .sampling,
            Sampling::Headers
        );
        let bad = latency("{ sampling: 0, subject: lat }").unwrap_err();
        assert!(
            bad.contains("bad sampling percentage, should be 1-100"),
            "{bad}"
        );
        let bad = latency("{ sampling: 101, subject: lat }").unwrap_err();
        assert!(bad.contains("bad sampling percentage"), "{bad}");
        let bad = latency("{ sampling: \"x%\", subject: lat }").unwrap_err();
        assert!(bad.contains("Failed to parse latency sample"), "{bad}");
        let bad = latency("{ sampling: 50 }").unwrap_err();
        assert!(
            bad.contains("Latency subject required, but missing"),
            "{bad}"
        );
        let bad = latency("[1]").unwrap_err();
        assert!(
            bad.contains("Expected latency entry to be a map/struct or string"),
            "{bad}"
        );
    }
}
