//! A directory resolver's requests to the system account, as
//! nats-server answers them: claim updates (checked, written to the
//! directory, applied), a lookup of one account's JWT, the list of the
//! accounts held.

use serde_json::json;

use super::Body;
use crate::broker::Broker;
use crate::resolver::directory;

/// What a claims subject asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClaimsOp {
    /// A new or changed account JWT.
    Update,
    /// One account's JWT.
    Lookup,
    /// The accounts held.
    List,
    /// Accounts to delete (a generic JWT the operator signed).
    Delete,
    /// Another full resolver asks for the JWTs it lacks (its hash).
    Pack,
    /// A full resolver's answer to this one's pack request.
    Merge,
}

/// The subjects a directory resolver answers (nats-server's).
pub(super) const SUBJECTS: &[(&str, ClaimsOp)] = &[
    ("$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE", ClaimsOp::Update),
    ("$SYS.ACCOUNT.*.CLAIMS.UPDATE", ClaimsOp::Update),
    ("$SYS.REQ.CLAIMS.UPDATE", ClaimsOp::Update),
    ("$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP", ClaimsOp::Lookup),
    ("$SYS.REQ.CLAIMS.LIST", ClaimsOp::List),
    ("$SYS.REQ.CLAIMS.DELETE", ClaimsOp::Delete),
];

/// Answers a claims request (on the blocking pool: it reads and writes
/// the directory).
pub(super) fn answer(broker: &Broker, op: ClaimsOp, subject: &str, payload: &[u8]) -> Option<Body> {
    let auth = broker.auth();
    let dir = directory(auth.config())?.to_path_buf();
    let tokens: Vec<&str> = subject.split('.').collect();
    // `$SYS.REQ.ACCOUNT.<key>...` or `$SYS.ACCOUNT.<key>...`.
    let named = match tokens.as_slice() {
        ["$SYS", "REQ", "ACCOUNT", key, ..] | ["$SYS", "ACCOUNT", key, ..] => Some(*key),
        _ => None,
    };
    match op {
        ClaimsOp::Lookup => {
            let key = named?;
            let valid =
                starling_auth::jwt::role_of(key) == Some(starling_auth::nkey::NkeyRole::Account);
            let text =
                valid.then(|| std::fs::read_to_string(dir.join(format!("{key}.jwt"))).ok())??;
            Some(Body::Raw(text.trim().to_owned()))
        }
        ClaimsOp::List => {
            let mut keys: Vec<String> = std::fs::read_dir(&dir)
                .ok()?
                .filter_map(Result::ok)
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".jwt")
                        .map(str::to_owned)
                })
                .collect();
            keys.sort();
            Some(Body::Data(json!(keys)))
        }
        ClaimsOp::Delete => Some(delete(broker, &auth, &dir, payload)),
        ClaimsOp::Pack => Some(Body::Pack(super::pack::pack(&dir, payload))),
        ClaimsOp::Merge => {
            super::pack::merge(broker, &dir, payload);
            None
        }
        ClaimsOp::Update => {
            let jwt = String::from_utf8_lossy(payload).trim().to_owned();
            let failed = |account: &str, what: &str, error: String| {
                tracing::error!("{what} - {account} - {error}");
                Some(Body::ClaimsError(
                    account.to_owned(),
                    format!("{what} - {error}"),
                ))
            };
            let operator = auth.config().operator.as_ref()?;
            let account = match operator.account_jwt(None, &jwt) {
                Ok(account) => account,
                Err(error) => return failed("n/a", "jwt update resulted in error", error),
            };
            if named.is_some_and(|key| key != account.key) {
                let error = "subject does not match jwt content".to_owned();
                return failed(&account.key, "jwt update resulted in error", error);
            }
            let file = dir.join(format!("{}.jwt", account.key));
            if let Err(error) = std::fs::write(&file, &jwt) {
                return failed(
                    &account.key,
                    "jwt update resulted in error",
                    error.to_string(),
                );
            }
            match broker.update_account_claims(&jwt) {
                Ok(key) => {
                    tracing::debug!("jwt updated - {key}");
                    Some(Body::Data(
                        json!({"account": key, "code": 200, "message": "jwt updated"}),
                    ))
                }
                Err(error) => failed(&account.key, "jwt update resulted in error", error),
            }
        }
    }
}

/// `$SYS.REQ.CLAIMS.DELETE` (nats-server's `handleDeleteRequest`): a
/// JWT self-signed by a trusted operator key listing `accounts`; each
/// account's file is renamed `.deleted` (or removed), its clients closed
/// with `Account Authentication Expired`, its users refused from then on.
fn delete(
    broker: &Broker,
    auth: &starling_auth::Authenticator,
    dir: &std::path::Path,
    payload: &[u8],
) -> Body {
    use starling_auth::{DeleteMode, Resolver};
    let config = auth.config();
    let mode = match config.operator.as_ref().map(|o| &o.resolver) {
        Some(Resolver::Directory {
            full: true, delete, ..
        }) => *delete,
        // A cache resolver deletes for good, as nats-server's.
        _ => Some(DeleteMode::Remove),
    };
    let text = String::from_utf8_lossy(payload);
    let claims = starling_auth::jwt::decode_and_verify(text.trim());
    let subject = claims.as_ref().map(|c| c.sub.clone()).unwrap_or_default();
    let system = broker.options.system_account_name();
    let checked = claims.map_err(|e| e.to_string()).and_then(|claims| {
        let trusted = config
            .operator
            .as_ref()
            .is_some_and(|o| o.trusted_keys.contains(&claims.iss));
        let malformed = || "malformed request".to_owned();
        if mode.is_none() {
            return Err("delete must be enabled in server config".to_owned());
        }
        if claims.sub != claims.iss {
            return Err("not self signed".to_owned());
        }
        if !trusted {
            return Err("not trusted".to_owned());
        }
        let list = claims
            .nats
            .accounts
            .as_ref()
            .and_then(|a| a.as_array())
            .ok_or_else(malformed)?;
        let mut keys = Vec::new();
        for entry in list {
            let key = entry.as_str().filter(|k| {
                starling_auth::jwt::role_of(k) == Some(starling_auth::nkey::NkeyRole::Account)
            });
            match key {
                Some(key) if Some(key) == system => {
                    return Err("not allowed to delete system account".to_owned());
                }
                Some(key) => keys.push(key.to_owned()),
                None => return Err(malformed()),
            }
        }
        Ok(keys)
    });
    let keys = match checked {
        Ok(keys) => keys,
        Err(error) => {
            let what = format!("delete accounts request by {subject} failed");
            tracing::error!("{what} - {error}");
            return Body::ClaimsError(String::new(), format!("{what} - {error}"));
        }
    };
    let mut failures = Vec::new();
    for key in &keys {
        let file = dir.join(format!("{key}.jwt"));
        let done = match mode {
            Some(DeleteMode::Rename) => {
                std::fs::rename(&file, dir.join(format!("{key}.jwt.deleted")))
            }
            _ => std::fs::remove_file(&file),
        };
        match done {
            Ok(()) => broker.delete_account(key),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => failures.push(error.to_string()),
        }
    }
    let passed = keys.len() - failures.len();
    if failures.is_empty() {
        tracing::debug!("deleted {passed} accounts");
        Body::Data(json!({"code": 200, "message": format!("deleted {passed} accounts")}))
    } else {
        let what = format!("deleted {passed} accounts, failed for {}", failures.len());
        tracing::error!("{what} - {}", failures.join("\n"));
        Body::ClaimsError(String::new(), format!("{what} - {}", failures.join("\n")))
    }
}
