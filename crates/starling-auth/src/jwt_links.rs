//! Exports and imports written in account JWTs (operator mode), read into
//! the same [`Export`]s and [`Import`]s the `accounts` block gives, as
//! nats-server reads them: an import's `local_subject` is its local
//! subject (else a stream's `to` is a prefix, a service's `to` the
//! exporter's subject); a `token_req` export is open only to the importers
//! whose activation token its account (or one of its signing keys) signed
//! for them. An import nats-server would not add (no such exporter or
//! export, a bad or expired token) is left out, as nats-server leaves it
//! out and runs on.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use starling_conf::Span;

use crate::jwt::decode_and_verify;
use crate::latency::{Sampling, ServiceLatency};
use crate::links::{Export, ExportKind, Import, ImportKind, ResponseType};

/// An export as an account JWT writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct JwtExport {
    /// Its subject.
    pub subject: String,
    /// `stream` or `service`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Importers need an activation token.
    pub token_req: bool,
    /// `Singleton`, `Stream` or `Chunked`.
    pub response_type: String,
    /// How long responses are routed back, in nanoseconds.
    pub response_threshold: u64,
    /// The importer's account name must be this token (from 1).
    pub account_token_position: usize,
    /// Latency tracking: `{ "sampling": 1..100 | "headers", "results": SUBJECT }`.
    pub latency: Option<JwtLatency>,
}

/// An export's `latency` as a JWT writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct JwtLatency {
    /// A percentage, or `"headers"`.
    pub sampling: serde_json::Value,
    /// Where the measurements go.
    pub results: String,
}

impl JwtLatency {
    /// The tracking it asks for; nats-server leaves out (with a debug
    /// line) a sampling rate or a results subject it cannot use.
    fn tracking(&self) -> Option<ServiceLatency> {
        let sampling = match &self.sampling {
            serde_json::Value::String(text) if text.eq_ignore_ascii_case("headers") => {
                Sampling::Headers
            }
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(0) => Sampling::Headers,
                Some(p @ 1..=100) => Sampling::Percent(u8::try_from(p).ok()?),
                _ => return None,
            },
            _ => return None,
        };
        Some(ServiceLatency {
            subject: self.results.clone(),
            sampling,
        })
    }
}

/// An import as an account JWT writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct JwtImport {
    /// The exporter's subject (the local one for a service without
    /// `local_subject`).
    pub subject: String,
    /// The exporting account.
    pub account: String,
    /// The activation token, for a `token_req` export.
    pub token: String,
    /// Deprecated: a stream's prefix, a service's remote subject.
    pub to: String,
    /// The local subject.
    pub local_subject: String,
    /// `stream` or `service`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Latency measurements describe the requester in full.
    pub share: bool,
}

/// One account's links as its JWT gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwtLinks {
    /// Its exports.
    pub exports: Vec<JwtExport>,
    /// Its imports.
    pub imports: Vec<JwtImport>,
    /// Keys that may sign for it.
    pub signing_keys: Vec<String>,
}

/// The exports and imports of every account (by key), at `now` (Unix
/// seconds, for activation tokens' expiry).
pub(crate) fn build(accounts: &HashMap<String, JwtLinks>, now: i64) -> (Vec<Export>, Vec<Import>) {
    let mut exports: Vec<(Export, bool)> = Vec::new();
    for (key, links) in accounts {
        for export in &links.exports {
            let kind = if export.kind.eq_ignore_ascii_case("service") {
                ExportKind::Service {
                    response: match export.response_type.to_ascii_lowercase().as_str() {
                        "stream" => ResponseType::Stream,
                        "chunked" => ResponseType::Chunked,
                        _ => ResponseType::Singleton,
                    },
                    threshold: match export.response_threshold {
                        0 => Duration::from_secs(2),
                        ns => Duration::from_nanos(ns),
                    },
                    latency: export.latency.as_ref().and_then(JwtLatency::tracking),
                }
            } else {
                ExportKind::Stream
            };
            let entry = Export {
                account: key.clone(),
                subject: export.subject.clone(),
                kind,
                accounts: Vec::new(),
                token_position: Some(export.account_token_position).filter(|p| *p > 0),
                span: Span::default(),
            };
            exports.push((entry, export.token_req));
        }
    }
    // Tracking nats-server would not add is left off the export.
    let all: Vec<Export> = exports.iter().map(|(e, _)| e.clone()).collect();
    for (export, _) in &mut exports {
        if crate::latency::check(export, &all).is_err()
            && let ExportKind::Service { latency, .. } = &mut export.kind
        {
            *latency = None;
        }
    }
    let mut imports = Vec::new();
    for (importer, links) in accounts {
        for import in &links.imports {
            let Some(entry) = import_of(importer, import) else {
                continue;
            };
            let covering = exports.iter_mut().find(|(export, _)| {
                export.account == import.account
                    && same_kind(&export.kind, &entry.kind)
                    && starling_subject::is_subset(
                        entry.subject.as_bytes(),
                        export.subject.as_bytes(),
                    )
            });
            let Some((export, token_req)) = covering else {
                continue;
            };
            if *token_req {
                let signers = accounts
                    .get(&import.account)
                    .map_or(&[][..], |l| &l.signing_keys);
                if !activated(import, importer, signers, now) {
                    continue;
                }
                // Open to this importer only (the empty name, no account's
                // key, keeps the list from meaning "everyone").
                if export.accounts.is_empty() {
                    export.accounts.push(String::new());
                }
                export.accounts.push(importer.clone());
            }
            imports.push(entry);
        }
    }
    for (export, token_req) in &mut exports {
        if *token_req && export.accounts.is_empty() {
            export.accounts.push(String::new());
        }
    }
    (exports.into_iter().map(|(e, _)| e).collect(), imports)
}

fn same_kind(export: &ExportKind, import: &ImportKind) -> bool {
    matches!(
        (export, import),
        (ExportKind::Stream, ImportKind::Stream { .. })
            | (ExportKind::Service { .. }, ImportKind::Service { .. })
    )
}

/// nats-server's reading of an import's subjects.
fn import_of(importer: &str, import: &JwtImport) -> Option<Import> {
    let service = import.kind.eq_ignore_ascii_case("service");
    let (subject, kind) = if service {
        let (local, remote) = if import.local_subject.is_empty() {
            let remote = if import.to.is_empty() {
                &import.subject
            } else {
                &import.to
            };
            (import.subject.clone(), remote.clone())
        } else {
            (import.local_subject.clone(), import.subject.clone())
        };
        (remote, ImportKind::Service { to: local })
    } else {
        let kind = if import.local_subject.is_empty() {
            ImportKind::Stream {
                to: None,
                prefix: (!import.to.is_empty()).then(|| import.to.clone()),
            }
        } else {
            ImportKind::Stream {
                to: Some(import.local_subject.clone()),
                prefix: None,
            }
        };
        (import.subject.clone(), kind)
    };
    let entry = Import {
        account: importer.to_owned(),
        from: import.account.clone(),
        subject,
        kind,
        share: import.share,
        span: Span::default(),
    };
    // A subject or mapping nats-server would refuse leaves the import out.
    entry.transform().ok().map(|_| entry)
}

/// Whether the import's activation token was issued by the exporter (or
/// one of its signing keys) to `importer`, for the subject, unexpired.
fn activated(import: &JwtImport, importer: &str, signers: &[String], now: i64) -> bool {
    let Ok(claims) = decode_and_verify(&import.token) else {
        return false;
    };
    let issuer_ok = claims.iss == import.account
        || (signers.contains(&claims.iss)
            && (claims.nats.issuer_account.is_empty()
                || claims.nats.issuer_account == import.account));
    issuer_ok
        && claims.nats.kind == "activation"
        && claims.sub == importer
        && (claims.exp == 0 || claims.exp > now)
        && (claims.nats.subject.is_empty()
            || starling_subject::is_subset(
                import.subject.as_bytes(),
                claims.nats.subject.as_bytes(),
            ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(subject: &str, latency: serde_json::Value, response: &str) -> JwtExport {
        serde_json::from_value(serde_json::json!({
            "subject": subject, "type": "service", "response_type": response,
            "latency": latency,
        }))
        .unwrap()
    }

    fn tracking(export: JwtExport) -> Option<ServiceLatency> {
        let links = JwtLinks {
            exports: vec![export],
            ..JwtLinks::default()
        };
        let accounts = HashMap::from([("A".to_owned(), links)]);
        let (exports, _) = build(&accounts, 0);
        match &exports[0].kind {
            ExportKind::Service { latency, .. } => latency.clone(),
            ExportKind::Stream => None,
        }
    }

    #[test]
    fn latency_as_nats_server_takes_it_from_a_jwt() {
        let headers = serde_json::json!({"sampling": "headers", "results": "lat"});
        assert_eq!(
            tracking(service("svc", headers.clone(), "Singleton")),
            Some(ServiceLatency {
                subject: "lat".into(),
                sampling: Sampling::Headers
            })
        );
        let half = serde_json::json!({"sampling": 50, "results": "lat"});
        assert_eq!(
            tracking(service("svc", half, "")).map(|l| l.sampling),
            Some(Sampling::Percent(50))
        );
        // What nats-server leaves off (with a debug line): a streamed
        // service, a results subject with a wildcard or one of its own
        // services, a rate past 100.
        assert_eq!(tracking(service("svc", headers, "Stream")), None);
        let wild = serde_json::json!({"sampling": 10, "results": "lat.*"});
        assert_eq!(tracking(service("svc", wild, "")), None);
        let own = serde_json::json!({"sampling": 10, "results": "svc"});
        assert_eq!(tracking(service("svc", own, "")), None);
        let past = serde_json::json!({"sampling": 101, "results": "lat"});
        assert_eq!(tracking(service("svc", past, "")), None);
    }
}
