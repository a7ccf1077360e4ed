//! The `$SYS` requests the system client answers: their subjects, the JSON
//! options each takes (put in the terms of the HTTP endpoint that answers
//! it, so both answer alike), the server filters, and the answer bodies.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::filter::filtered_out;
use crate::monitor::{Monitor, Query};

/// The monitoring requests every server answers, on
/// `$SYS.REQ.SERVER.PING.<Z>` and `$SYS.REQ.SERVER.<id>.<Z>`, and the
/// endpoint that answers each (STATSZ has its own shape).
const SERVER: &[(&str, &str)] = &[
    ("STATSZ", ""),
    ("VARZ", "/varz"),
    ("SUBSZ", "/subsz"),
    ("CONNZ", "/connz"),
    ("ROUTEZ", "/routez"),
    ("GATEWAYZ", "/gatewayz"),
    ("LEAFZ", "/leafz"),
    ("ACCOUNTZ", "/accountz"),
    ("JSZ", "/jsz"),
    ("HEALTHZ", "/healthz"),
];

/// The requests about one account, on `$SYS.REQ.ACCOUNT.<account>.<Z>`.
const ACCOUNT: &[&str] = &["SUBSZ", "CONNZ", "LEAFZ", "JSZ", "INFO", "STATZ", "CONNS"];

/// What a subscription of the system client answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `$SYS.REQ.SERVER.PING` and the STATSZ requests.
    Statsz,
    /// A monitoring endpoint's answer (`/varz`...).
    Server(&'static str),
    /// `$SYS.REQ.ACCOUNT.<account>.<Z>`.
    Account(&'static str),
    /// `$SYS.REQ.ACCOUNT.PING.STATZ`: every account's statistics.
    AccountsStatz,
    /// A directory resolver's claim updates, lookups and list.
    Claims(super::claims::ClaimsOp),
    /// `$SYS.LATENCY.M2.<hash>`: another server's half of a service
    /// latency measurement (not a request: nothing answers it).
    RemoteLatency,
}

/// The subjects the system client subscribes to, in sid order (sid 1 first).
pub(super) fn subscriptions(server_id: &str, claims: bool, hash: &str) -> Vec<(String, Kind)> {
    let mut table = vec![("$SYS.REQ.SERVER.PING".to_owned(), Kind::Statsz)];
    table.push((format!("$SYS.LATENCY.M2.{hash}"), Kind::RemoteLatency));
    if claims {
        for (subject, op) in super::claims::SUBJECTS {
            table.push(((*subject).to_owned(), Kind::Claims(*op)));
        }
    }
    for &(name, path) in SERVER {
        let kind = if path.is_empty() {
            Kind::Statsz
        } else {
            Kind::Server(path)
        };
        table.push((format!("$SYS.REQ.SERVER.{server_id}.{name}"), kind));
        table.push((format!("$SYS.REQ.SERVER.PING.{name}"), kind));
    }
    for name in ACCOUNT {
        table.push((format!("$SYS.REQ.ACCOUNT.*.{name}"), Kind::Account(name)));
    }
    table.push((
        "$SYS.REQ.ACCOUNT.PING.STATZ".to_owned(),
        Kind::AccountsStatz,
    ));
    table
}

/// What answers a request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    /// `{"server": ..., "statsz": ...}`.
    Statsz(Value),
    /// `{"server": ..., "data": ...}`.
    Data(Value),
    /// `{"server": ..., "error": {"code", "description"}}`.
    Error(u16, String),
    /// An account's connection counts (a `CONNS` request): the event's shape.
    Conns(String),
    /// The payload as it is (a claims lookup answers with the JWT).
    Raw(String),
    /// `{"server": ..., "error": {"account", "code": 500, "description"}}`.
    ClaimsError(String, String),
    /// A pack request's answer: these messages, then an empty one.
    Pack(Vec<Vec<u8>>),
}

/// How an option's JSON value becomes a query parameter.
#[derive(Debug, Clone, Copy)]
enum Opt {
    Bool,
    /// `true` sets the parameter to `detail`.
    Detail,
    Int,
    Str,
    /// nats-server's `ConnState` number: 0 open, 1 closed, 2 all.
    State,
}

/// Each endpoint's JSON options: JSON name, query parameter, kind.
fn options_of(path: &str) -> &'static [(&'static str, &'static str, Opt)] {
    match path {
        "/connz" => &[
            ("sort", "sort", Opt::Str),
            ("auth", "auth", Opt::Bool),
            ("subscriptions", "subs", Opt::Bool),
            ("subscriptions_detail", "subs", Opt::Detail),
            ("offset", "offset", Opt::Int),
            ("limit", "limit", Opt::Int),
            ("cid", "cid", Opt::Int),
            ("state", "state", Opt::State),
            ("user", "user", Opt::Str),
            ("acc", "acc", Opt::Str),
        ],
        "/subsz" => &[
            ("offset", "offset", Opt::Int),
            ("limit", "limit", Opt::Int),
            ("subscriptions", "subs", Opt::Bool),
            ("account", "acc", Opt::Str),
            ("test", "test", Opt::Str),
        ],
        "/routez" => &[
            ("subscriptions", "subs", Opt::Bool),
            ("subscriptions_detail", "subs", Opt::Detail),
        ],
        "/gatewayz" => &[("accounts", "accs", Opt::Bool)],
        "/leafz" => &[
            ("subscriptions", "subs", Opt::Bool),
            ("account", "acc", Opt::Str),
        ],
        "/accountz" => &[("account", "acc", Opt::Str)],
        "/accstatz" => &[("include_unused", "unused", Opt::Bool)],
        "/jsz" => &[
            ("account", "acc", Opt::Str),
            ("accounts", "accounts", Opt::Bool),
            ("streams", "streams", Opt::Bool),
            ("consumer", "consumers", Opt::Bool),
            ("config", "config", Opt::Bool),
            ("leader_only", "leader-only", Opt::Bool),
            ("offset", "offset", Opt::Int),
            ("limit", "limit", Opt::Int),
        ],
        "/healthz" => &[
            ("js-enabled-only", "js-enabled-only", Opt::Bool),
            ("js-server-only", "js-server-only", Opt::Bool),
        ],
        _ => &[],
    }
}

/// Go's name for a JSON value's type, as `encoding/json` reports it.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// nats-server's Go type for a request's options (its errors name it).
fn options_type(kind: Kind, path: &str) -> &'static str {
    match (kind, path) {
        (Kind::Statsz, _) => "StatszEventOptions",
        (Kind::AccountsStatz, _) | (Kind::Account("STATZ"), _) => "AccountStatzEventOptions",
        (Kind::Account("INFO"), _) => "AccInfoEventOptions",
        (_, "/varz") => "VarzEventOptions",
        (_, "/connz") => "ConnzEventOptions",
        (_, "/subsz") => "SubszEventOptions",
        (_, "/routez") => "RoutezEventOptions",
        (_, "/gatewayz") => "GatewayzEventOptions",
        (_, "/leafz") => "LeafzEventOptions",
        (_, "/accountz") => "AccountzEventOptions",
        (_, "/jsz") => "JszEventOptions",
        (_, "/healthz") => "HealthzEventOptions",
        _ => "EventFilterOptions",
    }
}

/// The endpoint a request's options are read for.
fn path_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Statsz | Kind::Claims(_) | Kind::RemoteLatency => "",
        Kind::Server(path) => path,
        Kind::AccountsStatz => "/accstatz",
        Kind::Account(name) => match name {
            "SUBSZ" => "/subsz",
            "CONNZ" => "/connz",
            "LEAFZ" => "/leafz",
            "JSZ" => "/jsz",
            "INFO" => "/accountz",
            "STATZ" => "/accstatz",
            _ => "",
        },
    }
}

pub(super) fn mismatch(owner: &str, name: &str, value: &Value, want: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field {owner}.{name} of type {want}",
        json_type(value)
    )
}

/// A request's options: the parsed JSON object (`None`: no body), or the
/// 400 reason.
fn parse_body(payload: &[u8], owner: &str) -> Result<Option<Map<String, Value>>, String> {
    if payload.is_empty() {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(Value::Null) => Ok(None),
        Ok(other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type server.{owner}",
            json_type(&other)
        )),
        Err(error) => Err(error.to_string()),
    }
}

/// The endpoint's query for a request's JSON options.
fn query_for(path: &str, owner: &str, body: Option<&Map<String, Value>>) -> Result<Query, String> {
    let mut params = HashMap::new();
    let mut accounts = None;
    let Some(body) = body else {
        return Ok(Query::internal(params));
    };
    for &(name, param, kind) in options_of(path) {
        let Some(value) = body.get(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let text = match (kind, value) {
            (Opt::Bool, Value::Bool(b)) => b.then(|| "true".to_owned()),
            (Opt::Detail, Value::Bool(b)) => b.then(|| "detail".to_owned()),
            (Opt::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            (Opt::Str, Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
            (Opt::State, Value::Number(n)) => match n.as_u64() {
                Some(1) => Some("closed".to_owned()),
                Some(2) => Some("all".to_owned()),
                _ => None,
            },
            (Opt::Bool | Opt::Detail, other) => return Err(mismatch(owner, name, other, "bool")),
            (Opt::Int | Opt::State, other) => return Err(mismatch(owner, name, other, "int")),
            (Opt::Str, other) => return Err(mismatch(owner, name, other, "string")),
        };
        if let Some(text) = text {
            params.insert(param.to_owned(), text);
        }
    }
    if path == "/accstatz" {
        match body.get("accounts") {
            None | Some(Value::Null) => {}
            Some(Value::Array(names)) => {
                let names: Option<Vec<String>> = names
                    .iter()
                    .map(|n| n.as_str().map(str::to_owned))
                    .collect();
                let names =
                    names.ok_or_else(|| "json: cannot unmarshal into []string".to_owned())?;
                accounts = Some(names).filter(|n| !n.is_empty());
            }
            Some(other) => return Err(mismatch(owner, "accounts", other, "[]string")),
        }
    }
    let mut query = Query::internal(params);
    query.accounts = accounts;
    Ok(query)
}

/// The answer to one request on `subject` with `payload`, at `now`;
/// `None` when this server stays silent (filtered out, or nothing to say).
pub(super) fn answer(
    monitor: &Monitor,
    kind: Kind,
    subject: &str,
    payload: &[u8],
    now: u64,
) -> Option<Body> {
    if let Kind::Claims(op) = kind {
        return super::claims::answer(monitor.broker(), op, subject, payload);
    }
    let path = path_of(kind);
    let owner = options_type(kind, path);
    let body = match parse_body(payload, owner) {
        Ok(body) => body,
        Err(reason) => return Some(Body::Error(400, reason)),
    };
    match body.as_ref().map(|b| filtered_out(monitor, b, owner)) {
        Some(Ok(true)) => return None,
        Some(Err(reason)) => return Some(Body::Error(400, reason)),
        _ => {}
    }
    let query = |body: Option<&Map<String, Value>>| query_for(path, owner, body);
    let run = |query: Result<Query, String>| -> Result<Value, Body> {
        let query = query.map_err(|reason| Body::Error(400, reason))?;
        match monitor.data(path, &query, now) {
            Some(Ok(value)) => Ok(value),
            Some(Err(reason)) => Err(Body::Error(500, reason)),
            None => Err(Body::Error(500, format!("no endpoint {path}"))),
        }
    };
    let result = match kind {
        Kind::Statsz => return Some(Body::Statsz(monitor.statsz())),
        Kind::Claims(_) | Kind::RemoteLatency => return None,
        Kind::Server(_) => run(query(body.as_ref())).map(Body::Data),
        Kind::AccountsStatz => accounts_statz(run(query(body.as_ref())))?,
        Kind::Account(name) => {
            let account = account_of(subject)?;
            account_request(name, account, body.as_ref(), query, run)?
        }
    };
    Some(result.unwrap_or_else(|error| error))
}

/// The account named by `$SYS.REQ.ACCOUNT.<account>.<Z>`.
fn account_of(subject: &str) -> Option<&str> {
    let tokens: Vec<&str> = subject.split('.').collect();
    (tokens.len() == 5).then(|| tokens[3])
}

/// An `account_statz` answer, or silence when it lists no account.
fn accounts_statz(result: Result<Value, Body>) -> Option<Result<Body, Body>> {
    match result {
        Ok(value) => {
            let empty = value
                .get("account_statz")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            (!empty).then_some(Ok(Body::Data(value)))
        }
        Err(error) => Some(Err(error)),
    }
}

/// `$SYS.REQ.ACCOUNT.<account>.<name>`.
fn account_request(
    name: &str,
    account: &str,
    body: Option<&Map<String, Value>>,
    query: impl Fn(Option<&Map<String, Value>>) -> Result<Query, String>,
    run: impl Fn(Result<Query, String>) -> Result<Value, Body>,
) -> Option<Result<Body, Body>> {
    let with = |param: &str, extra: Option<(&str, &str)>| {
        query(body).map(|mut query| {
            query.set(param, account);
            if let Some((key, value)) = extra {
                query.set(key, value);
            }
            query
        })
    };
    match name {
        "SUBSZ" => Some(run(with("acc", Some(("subs", "true")))).map(Body::Data)),
        "CONNZ" | "LEAFZ" => Some(run(with("acc", None)).map(Body::Data)),
        // JetStream is off: nats-server's JszAccount says so.
        "JSZ" => Some(Err(Body::Error(500, "jetstream not enabled".to_owned()))),
        "INFO" => Some(
            run(with("acc", None))
                .map(|v| Body::Data(v.get("account_detail").cloned().unwrap_or(Value::Null))),
        ),
        // PING is `$SYS.REQ.ACCOUNT.PING.STATZ`'s own subscription.
        "STATZ" if account == "PING" => None,
        "STATZ" => {
            let query = query(body).map(|mut query| {
                query.accounts = Some(vec![account.to_owned()]);
                query
            });
            let unused = body
                .and_then(|b| b.get("include_unused"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            match run(query) {
                Ok(value) if unused => Some(Ok(Body::Data(value))),
                other => accounts_statz(other),
            }
        }
        "CONNS" => Some(Ok(Body::Conns(account.to_owned()))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subjects_nats_server_subscribes() {
        let table = subscriptions("NID", false, "HASH");
        assert_eq!(table[0], ("$SYS.REQ.SERVER.PING".to_owned(), Kind::Statsz));
        assert!(table.contains(&("$SYS.REQ.SERVER.NID.VARZ".to_owned(), Kind::Server("/varz"))));
        assert!(table.contains(&("$SYS.REQ.SERVER.PING.STATSZ".to_owned(), Kind::Statsz)));
        assert!(table.contains(&(
            "$SYS.REQ.ACCOUNT.*.CONNZ".to_owned(),
            Kind::Account("CONNZ")
        )));
        assert!(table.contains(&("$SYS.LATENCY.M2.HASH".to_owned(), Kind::RemoteLatency)));
        assert_eq!(table.len(), 2 + 2 * SERVER.len() + ACCOUNT.len() + 1);
    }

    #[test]
    fn options_become_the_endpoints_parameters() {
        let body = serde_json::json!({"sort": "bytes_to", "subscriptions": true,
            "subscriptions_detail": true, "state": 1, "limit": 5, "auth": false});
        let query = query_for("/connz", "ConnzEventOptions", body.as_object()).expect("valid");
        assert_eq!(query.get("sort"), Some("bytes_to"));
        assert_eq!(query.get("subs"), Some("detail"));
        assert_eq!(query.get("state"), Some("closed"));
        assert_eq!(query.get("limit"), Some("5"));
        assert_eq!(query.get("auth"), None);
        let bad = serde_json::json!({"limit": "5"});
        let refused = query_for("/connz", "ConnzEventOptions", bad.as_object()).err();
        assert!(refused.is_some_and(|e| e.contains("cannot unmarshal string")));
    }

    #[test]
    fn bodies_are_json_objects_or_nothing() {
        let owner = "ConnzEventOptions";
        assert_eq!(parse_body(b"", owner), Ok(None));
        assert_eq!(parse_body(b"null", owner), Ok(None));
        assert!(parse_body(b"{bad", owner).is_err());
        assert_eq!(
            parse_body(b"[1]", owner),
            Err(
                "json: cannot unmarshal array into Go value of type server.ConnzEventOptions"
                    .into()
            )
        );
        assert_eq!(account_of("$SYS.REQ.ACCOUNT.APP.CONNZ"), Some("APP"));
        assert_eq!(account_of("$SYS.REQ.ACCOUNT.CONNZ"), None);
    }
}
