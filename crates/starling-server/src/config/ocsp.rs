//! The top-level `ocsp` key, read as nats-server reads it.

use starling_conf::{ConfError, Value, ValueKind};

/// `ocsp`: a boolean, or `{ mode, url, urls }` (nats-server's reading;
/// `always` needs stapling, which Starling cannot do: refused).
pub(super) fn ocsp(value: &Value) -> Result<crate::OcspMode, ConfError> {
    use crate::OcspMode;
    let ValueKind::Map(map) = &value.kind else {
        return match value.kind {
            ValueKind::Bool(true) => Ok(OcspMode::Auto),
            ValueKind::Bool(false) => Ok(OcspMode::Never),
            _ => Err(value.error(format!(
                "error parsing ocsp config: unsupported type {}",
                value.kind_name()
            ))),
        };
    };
    let mut mode = OcspMode::Auto;
    for (key, field) in map.options() {
        match key.name.as_str() {
            "mode" => {
                mode = match field.as_str("mode")?.to_ascii_lowercase().as_str() {
                    "auto" => OcspMode::Auto,
                    "never" => OcspMode::Never,
                    "must" => OcspMode::Must,
                    "always" => {
                        return Err(field.error(
                            "ocsp mode always is not supported: it staples an OCSP response \
                             on every handshake, and Starling does not fetch them (use auto, \
                             must or never)",
                        ));
                    }
                    other => {
                        return Err(field.error(format!(
                            "error parsing ocsp config: unsupported ocsp mode {other}"
                        )));
                    }
                };
            }
            // Responder URLs: nothing is fetched, so nothing uses them.
            "url" | "urls" => {}
            other => {
                return Err(ConfError::at(
                    &key.span,
                    format!("error parsing ocsp config: unsupported field {other}"),
                ));
            }
        }
    }
    Ok(mode)
}
