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
}

/// The subjects a directory resolver answers (nats-server's).
pub(super) const SUBJECTS: &[(&str, ClaimsOp)] = &[
    ("$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE", ClaimsOp::Update),
    ("$SYS.ACCOUNT.*.CLAIMS.UPDATE", ClaimsOp::Update),
    ("$SYS.REQ.CLAIMS.UPDATE", ClaimsOp::Update),
    ("$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP", ClaimsOp::Lookup),
    ("$SYS.REQ.CLAIMS.LIST", ClaimsOp::List),
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
