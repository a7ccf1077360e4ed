//! Account exports and imports: the only ways a message crosses from one
//! account's subject space into another's.
//!
//! An account *exports* a stream (messages published there may be copied
//! to importers) or a service (importers may send requests to it and get
//! the replies back), to every account or to the listed ones. An account
//! *imports* one of them, naming the exporter and the subject, and may give
//! it another subject locally (`to`, or a stream's `prefix`). Reading and
//! checking them lives here, beside the accounts they join, with
//! nats-server's error texts; moving the messages is the server's job.

use std::time::Duration;

use starling_conf::{ConfError, Span, Value};
use starling_subject::{SubjectTransform, is_subset, is_valid_filter};

use crate::latency::{self, ServiceLatency};

/// The default time a service's requester may wait for its responses.
pub const DEFAULT_RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// How many responses a service sends per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    /// One response (the default).
    #[default]
    Singleton,
    /// Any number, until the threshold passes.
    Stream,
    /// Any number, until the threshold passes (chunks of one answer).
    Chunked,
}

/// What an export offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportKind {
    /// Messages published on the subject.
    Stream,
    /// Requests to the subject, and their responses.
    Service {
        /// How many responses a request gets.
        response: ResponseType,
        /// How long responses are routed back.
        threshold: Duration,
        /// Latency tracking, if asked for.
        latency: Option<ServiceLatency>,
    },
}

/// `exports: [ { stream: ... } | { service: ... } ]` of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// The exporting account.
    pub account: String,
    /// The subject (may hold wildcards).
    pub subject: String,
    /// Stream or service.
    pub kind: ExportKind,
    /// The accounts allowed to import it; empty means every account.
    pub accounts: Vec<String>,
    /// `account_token_position`: an importer may take only the subjects
    /// whose token at this place (from 1, a `*` of the export's) is its
    /// own account's name; `accounts` is not consulted then.
    pub token_position: Option<usize>,
    /// Where it is written.
    pub span: Span,
}

/// What an import takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportKind {
    /// A stream, delivered locally on `to` (a mapping of the subject), with
    /// `prefix.` in front, or on the subject itself.
    Stream {
        /// `to`.
        to: Option<String>,
        /// `prefix`.
        prefix: Option<String>,
    },
    /// A service, requested locally on `to` (the subject when not given).
    Service {
        /// `to`.
        to: String,
    },
}

/// `imports: [ { stream: { account, subject } } | { service: ... } ]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The importing account.
    pub account: String,
    /// The exporting account.
    pub from: String,
    /// The subject in the exporting account.
    pub subject: String,
    /// Stream or service, and the local subject.
    pub kind: ImportKind,
    /// `share`: a service's latency measurements describe the requester
    /// in full (else only its account and round-trip time).
    pub share: bool,
    /// Where it is written.
    pub span: Span,
}

impl Import {
    /// The mapping from the exporter's subject to the local one (streams),
    /// or from the local subject to the exporter's (services).
    pub fn transform(&self) -> Result<Option<SubjectTransform>, String> {
        let built = match &self.kind {
            ImportKind::Stream {
                prefix: Some(prefix),
                ..
            } => Some(SubjectTransform::prefix(prefix.as_bytes())),
            ImportKind::Stream { to: Some(to), .. } if *to != self.subject => Some(
                SubjectTransform::new(self.subject.as_bytes(), to.as_bytes())
                    .map_err(|e| e.to_string())?,
            ),
            ImportKind::Service { to } if *to != self.subject => Some(
                SubjectTransform::new(to.as_bytes(), self.subject.as_bytes())
                    .map_err(|e| e.to_string())?,
            ),
            _ => None,
        };
        Ok(built)
    }
}

fn subject(value: &Value, what: &str) -> Result<String, ConfError> {
    let text = value.as_str(what)?;
    if is_valid_filter(text.as_bytes()) {
        Ok(text.to_owned())
    } else {
        Err(value.error(format!("invalid subject {text:?} for {what}")))
    }
}

/// Reads `exports` of `account`.
pub(crate) fn read_exports(
    account: &str,
    value: &Value,
    errors: &mut Vec<ConfError>,
) -> Vec<Export> {
    let Ok(items) = value.as_array("exports") else {
        errors.push(value.error(format!(
            "Exports should be an array, got {}",
            value.kind_name()
        )));
        return Vec::new();
    };
    let mut exports = Vec::new();
    for item in items {
        match read_export(account, item) {
            Ok(export) => exports.push(export),
            Err(error) => errors.push(error),
        }
    }
    exports
}

fn read_export(account: &str, item: &Value) -> Result<Export, ConfError> {
    let map = item.as_map("export").map_err(|_| {
        item.error(format!(
            "Export Items should be a map with type entry, got {}",
            item.kind_name()
        ))
    })?;
    let (mut stream, mut service) = (None, None);
    let mut accounts = Vec::new();
    let mut response = None;
    let mut threshold = None;
    let mut token_position = None;
    let mut tracking = None;
    for (key, value) in map.options() {
        match key.name.to_ascii_lowercase().as_str() {
            "stream" => stream = Some((subject(value, "stream")?, key)),
            "service" => service = Some((subject(value, "service")?, key)),
            "accounts" => {
                for name in value.as_array("accounts")? {
                    accounts.push(name.as_str("accounts")?.to_owned());
                }
            }
            "response" | "response_type" => {
                if response.is_some() {
                    return Err(ConfError::at(
                        &key.span,
                        "Duplicate response type definition",
                    ));
                }
                let text = value.as_str("response type")?;
                response = Some((
                    match text.to_ascii_lowercase().as_str() {
                        "single" | "singleton" => ResponseType::Singleton,
                        "stream" => ResponseType::Stream,
                        "chunk" | "chunked" => ResponseType::Chunked,
                        _ => return Err(value.error(format!("Unknown response type: {text:?}"))),
                    },
                    key,
                ));
            }
            "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                if threshold.is_some() {
                    return Err(ConfError::at(
                        &key.span,
                        "Duplicate response threshold detected",
                    ));
                }
                let text = value.as_str("response threshold").map_err(|_| {
                    value.error(format!(
                        "Expected response threshold to be a parseable time duration, got {}",
                        value.kind_name()
                    ))
                })?;
                let parsed = value.as_duration("response threshold").map_err(|_| {
                    value.error(format!(
                        "Expected response threshold to be a parseable time duration, got {text:?}"
                    ))
                })?;
                threshold = Some((parsed, key));
            }
            "account_token_position" => {
                let position = value.as_integer("account_token_position")?;
                token_position = usize::try_from(position).ok().filter(|p| *p > 0);
            }
            "latency" => tracking = Some((latency::read(value)?, key)),
            _ => return Err(ConfError::unknown_field(key)),
        }
    }
    let kind = match (stream, service) {
        (Some(_), Some((name, key))) => {
            return Err(ConfError::at(
                &key.span,
                format!("Detected service {name:?} but already saw a stream"),
            ));
        }
        (Some((name, _)), None) => {
            if let Some((_, key)) =
                response.or_else(|| threshold.map(|(_, k)| (ResponseType::Singleton, k)))
            {
                return Err(ConfError::at(
                    &key.span,
                    "Detected response directive on non-service",
                ));
            }
            if let Some((_, key)) = tracking {
                return Err(ConfError::at(
                    &key.span,
                    "Detected latency directive on non-service",
                ));
            }
            check_token_position(&name, token_position, "stream", item)?;
            return Ok(Export {
                account: account.to_owned(),
                subject: name,
                kind: ExportKind::Stream,
                accounts,
                token_position,
                span: item.span.clone(),
            });
        }
        (None, Some((name, _))) => (
            name,
            ExportKind::Service {
                response: response.map(|(r, _)| r).unwrap_or_default(),
                threshold: threshold.map_or(DEFAULT_RESPONSE_THRESHOLD, |(t, _)| t),
                latency: tracking.map(|(l, _)| l),
            },
        ),
        (None, None) => return Err(item.error("an export needs a stream or a service subject")),
    };
    check_token_position(&kind.0, token_position, "service", item)?;
    Ok(Export {
        account: account.to_owned(),
        subject: kind.0,
        kind: kind.1,
        accounts,
        token_position,
        span: item.span.clone(),
    })
}

/// nats-server's `setExportAuth`: the token at `position` must be a `*`.
fn check_token_position(
    subject: &str,
    position: Option<usize>,
    what: &str,
    item: &Value,
) -> Result<(), ConfError> {
    match position {
        Some(at) if subject.split('.').nth(at - 1) != Some("*") => Err(item.error(format!(
            "Error adding {what} export {subject:?}: sublist: invalid subject"
        ))),
        _ => Ok(()),
    }
}

/// Whether `importer` may take `subject` of `export`: by its name at the
/// export's `account_token_position`, else by the export's `accounts`.
pub fn export_allows(export: &Export, importer: &str, subject: &str) -> bool {
    match export.token_position {
        Some(at) => subject.split('.').nth(at - 1) == Some(importer),
        None => export.accounts.is_empty() || export.accounts.iter().any(|a| a == importer),
    }
}

/// Reads `imports` of `account`.
pub(crate) fn read_imports(
    account: &str,
    value: &Value,
    errors: &mut Vec<ConfError>,
) -> Vec<Import> {
    let Ok(items) = value.as_array("imports") else {
        errors.push(value.error(format!(
            "Imports should be an array, got {}",
            value.kind_name()
        )));
        return Vec::new();
    };
    let mut imports: Vec<Import> = Vec::new();
    for item in items {
        match read_import(account, item) {
            Ok(import) => {
                if let ImportKind::Service { to } = &import.kind
                    && let Some(dup) = imports
                        .iter()
                        .find(|i| matches!(&i.kind, ImportKind::Service { to: t } if t == to))
                {
                    errors.push(item.error(format!(
                        "Duplicate service import subject {to:?}, previously used in import for account {:?}, subject {:?}",
                        dup.from, dup.subject
                    )));
                    continue;
                }
                imports.push(import);
            }
            Err(error) => errors.push(error),
        }
    }
    imports
}

fn read_import(account: &str, item: &Value) -> Result<Import, ConfError> {
    let map = item.as_map("import").map_err(|_| {
        item.error(format!(
            "Import Items should be a map with type entry, got {}",
            item.kind_name()
        ))
    })?;
    let (mut stream, mut service) = (None, None);
    let (mut to, mut prefix) = (None, None);
    let mut share = false;
    for (key, value) in map.options() {
        match key.name.to_ascii_lowercase().as_str() {
            "stream" => stream = Some(source(value, "Stream")?),
            "service" => service = Some((source(value, "Service")?, key)),
            "to" => to = Some((subject(value, "to")?, key)),
            "prefix" => prefix = Some(subject(value, "prefix")?),
            // Only a service's requesters are measured; a stream's share
            // is read and means nothing (as in nats-server).
            "share" => share = value.as_bool("share")?,
            _ => return Err(ConfError::unknown_field(key)),
        }
    }
    match (stream, service) {
        (Some(_), Some((_, key))) => Err(ConfError::at(
            &key.span,
            "Detected service but already saw a stream",
        )),
        (Some((from, subject)), None) => {
            if let (Some(_), Some((_, key))) = (&prefix, &to) {
                return Err(ConfError::at(
                    &key.span,
                    "Stream import can not have a 'prefix' and a 'to' property",
                ));
            }
            Ok(Import {
                account: account.to_owned(),
                from,
                subject,
                kind: ImportKind::Stream {
                    to: to.map(|(t, _)| t),
                    prefix,
                },
                share: false,
                span: item.span.clone(),
            })
        }
        (None, Some(((from, subject), _))) => Ok(Import {
            account: account.to_owned(),
            from,
            kind: ImportKind::Service {
                to: to.map_or_else(|| subject.clone(), |(t, _)| t),
            },
            subject,
            share,
            span: item.span.clone(),
        }),
        (None, None) => Err(item.error("an import needs a stream or a service")),
    }
}

/// `{ account: NAME, subject: SUBJECT }`.
fn source(value: &Value, what: &str) -> Result<(String, String), ConfError> {
    let map = value.as_map(what).map_err(|_| {
        value.error(format!(
            "{what} entry should be an account map, got {}",
            value.kind_name()
        ))
    })?;
    let (mut account, mut subject_name) = (String::new(), String::new());
    for (key, value) in map.options() {
        match key.name.to_ascii_lowercase().as_str() {
            "account" => value.as_str("account")?.clone_into(&mut account),
            "subject" => subject_name = subject(value, "subject")?,
            _ => return Err(ConfError::unknown_field(key)),
        }
    }
    if account.is_empty() || subject_name.is_empty() {
        return Err(value.error("Expect an account name and a subject"));
    }
    Ok((account, subject_name))
}

/// The export that covers `import` and allows its account: same exporter,
/// same kind, a subject that includes the import's, and the importer
/// listed (or nobody listed). The start-up check and the server's routing
/// both ask this.
pub fn export_for<'a>(exports: &'a [Export], import: &Import) -> Option<&'a Export> {
    let service = matches!(import.kind, ImportKind::Service { .. });
    exports.iter().find(|export| {
        export.account == import.from
            && matches!(export.kind, ExportKind::Service { .. }) == service
            && is_subset(import.subject.as_bytes(), export.subject.as_bytes())
            && export_allows(export, &import.account, &import.subject)
    })
}

/// nats-server's start-up checks: accounts exist, every import is covered
/// by an export that allows the importer, mappings are well formed.
pub(crate) fn check(accounts: &[String], exports: &[Export], imports: &[Import]) -> Vec<ConfError> {
    let mut errors = Vec::new();
    let known = |name: &str| accounts.iter().any(|a| a == name);
    for export in exports {
        let what = match export.kind {
            ExportKind::Stream => "stream",
            ExportKind::Service { .. } => "service",
        };
        for name in export.accounts.iter().filter(|n| !known(n)) {
            errors.push(ConfError::at(
                &export.span,
                format!("{name:?} account not defined for {what} export"),
            ));
        }
        if let Err(reason) = latency::check(export, exports) {
            errors.push(ConfError::at(&export.span, reason));
        }
    }
    for import in imports {
        let what = match import.kind {
            ImportKind::Stream { .. } => "stream",
            ImportKind::Service { .. } => "service",
        };
        if !known(&import.from) {
            errors.push(ConfError::at(
                &import.span,
                format!("{:?} account not defined for {what} import", import.from),
            ));
            continue;
        }
        if export_for(exports, import).is_none() {
            errors.push(ConfError::at(
                &import.span,
                format!(
                    "Error adding {what} import {:?}: {what} import not authorized",
                    import.subject
                ),
            ));
            continue;
        }
        if let Err(reason) = import.transform() {
            errors.push(ConfError::at(
                &import.span,
                format!("Error adding {what} import {:?}: {reason}", import.subject),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use crate::AuthConfig;

    fn errors(text: &str) -> Vec<String> {
        let root = starling_conf::parse_str(text).unwrap();
        AuthConfig::from_config(&root)
            .err()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn ok(text: &str) -> AuthConfig {
        let root = starling_conf::parse_str(text).unwrap();
        AuthConfig::from_config(&root).unwrap()
    }

    #[test]
    fn reads_exports_and_imports() {
        let config = ok(r#"
            accounts {
              A: {
                exports: [
                  { stream: "a.>" }
                  { service: "svc.*", accounts: [B], response: stream, threshold: "5s" }
                ]
              }
              B: {
                imports: [
                  { stream: { account: A, subject: "a.>" }, prefix: "from_a" }
                  { service: { account: A, subject: "svc.echo" }, to: "echo" }
                ]
              }
            }
        "#);
        assert_eq!(config.exports.len(), 2);
        assert_eq!(config.imports.len(), 2);
        assert_eq!(
            config.exports[1].kind,
            super::ExportKind::Service {
                response: super::ResponseType::Stream,
                threshold: std::time::Duration::from_secs(5),
                latency: None,
            }
        );
        assert_eq!(
            config.imports[1].kind,
            super::ImportKind::Service { to: "echo".into() }
        );
    }

    #[test]
    fn refuses_as_nats_server_does() {
        let cases: &[(&str, &str)] = &[
            (
                r#"accounts { A: { exports: { stream: "a" } } }"#,
                "Exports should be an array",
            ),
            (
                r#"accounts { A: { exports: [ { stream: "a", service: "b" } ] } }"#,
                "Detected service \"b\" but already saw a stream",
            ),
            (
                r#"accounts { A: { exports: [ { service: "a", response: "lots" } ] } }"#,
                "Unknown response type: \"lots\"",
            ),
            (
                r#"accounts { A: { exports: [ { stream: "a", response: "single" } ] } }"#,
                "Detected response directive on non-service",
            ),
            (
                r#"accounts { A: { exports: [ { stream: "a", accounts: [Z] } ] } }"#,
                "\"Z\" account not defined for stream export",
            ),
            (
                r#"accounts { A: {}, B: { imports: [ { stream: { account: Z, subject: "a" } } ] } }"#,
                "\"Z\" account not defined for stream import",
            ),
            (
                r#"accounts { A: { exports: [ { stream: "a.b" } ] }, B: { imports: [ { stream: { account: A, subject: "a.>" } } ] } }"#,
                "Error adding stream import \"a.>\": stream import not authorized",
            ),
            (
                r#"accounts { A: { exports: [ { stream: "a.>", accounts: [A] } ] }, B: { imports: [ { stream: { account: A, subject: "a.b" } } ] } }"#,
                "stream import not authorized",
            ),
            (
                r#"accounts { A: { exports: [ { stream: "a.>" } ] }, B: { imports: [ { service: { account: A, subject: "a.b" } } ] } }"#,
                "Error adding service import \"a.b\": service import not authorized",
            ),
            (
                r#"accounts { A: { exports: [ { stream: "a.>" } ] }, B: { imports: [ { stream: { account: A, subject: "a.>" }, prefix: p, to: "x.>" } ] } }"#,
                "Stream import can not have a 'prefix' and a 'to' property",
            ),
            (
                r#"accounts { A: { exports: [ { service: "a.*" } ] }, B: { imports: [ { service: { account: A, subject: "a.b" }, to: x }, { service: { account: A, subject: "a.c" }, to: x } ] } }"#,
                "Duplicate service import subject \"x\"",
            ),
            (
                r#"accounts { A: { exports: [ { service: "a" } ] }, B: { imports: [ { service: { account: A } } ] } }"#,
                "Expect an account name and a subject",
            ),
            (
                r#"accounts { A: { exports: [ { stream: "a", latency: { subject: lat } } ] } }"#,
                "Detected latency directive on non-service",
            ),
            (
                r#"accounts { A: { exports: [ { service: "a", response: stream, latency: lat } ] } }"#,
                "Error adding service latency sampling for \"a\" on subject \"lat\": bad service response type",
            ),
            (
                r#"accounts { A: { exports: [ { service: "a.*", latency: "a.b" } ] } }"#,
                "on subject \"a.b\": invalid publish subject",
            ),
            (
                r#"accounts { A: { exports: [ { service: "a", latency: "l.*" } ] } }"#,
                "on subject \"l.*\": invalid publish subject",
            ),
            (
                r#"accounts { A: { exports: [ { stream: "a.*" } ] }, B: { imports: [ { stream: { account: A, subject: "a.*" }, to: "x.*.*" } ] } }"#,
                "more wildcards",
            ),
        ];
        for (text, expected) in cases {
            let said = errors(text);
            assert!(
                said.iter().any(|e| e.contains(expected)),
                "{text}\nexpected {expected:?}, got {said:?}"
            );
        }
    }
}
