//! `/connz`: the connections, open and recently closed, with paging, every
//! sort key and filter of nats-server 2.9.10.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::format::{parse_bool, parse_int, parse_uint, rfc3339, rtt, uptime};
use super::{Monitor, Query};
use crate::broker::stats::{ConnSnapshot, SubSnapshot};

/// Rows per page unless `limit` says otherwise.
const DEFAULT_LIMIT: i64 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subs {
    None,
    List,
    Detail,
}

/// The parameters of one request (nats-server's `ConnzOptions`).
struct Options {
    sort: String,
    subs: Subs,
    auth: bool,
    offset: usize,
    limit: usize,
    cid: Option<u64>,
    state: State,
    user: Option<String>,
    account: Option<String>,
}

/// The parameters, read in nats-server's order (so a request with several
/// bad ones gets the same complaint).
fn options(query: &Query) -> Result<Options, String> {
    let auth = query
        .get("auth")
        .map_or(Ok(false), |v| parse_bool("auth", v))?;
    let subs = match query.get("subs") {
        Some(value) if value.eq_ignore_ascii_case("detail") => Subs::Detail,
        Some(value) if parse_bool("subs", value)? => Subs::List,
        _ => Subs::None,
    };
    let offset = query
        .get("offset")
        .map_or(Ok(0), |v| parse_int("offset", v))?;
    let mut limit = query
        .get("limit")
        .map_or(Ok(DEFAULT_LIMIT), |v| parse_int("limit", v))?;
    if limit <= 0 {
        limit = DEFAULT_LIMIT;
    }
    // 0 is no filter.
    let cid = match query.get("cid") {
        Some(v) => Some(parse_uint("cid", v)?).filter(|cid| *cid > 0),
        None => None,
    };
    let sort = query.get("sort").unwrap_or("cid").to_owned();
    let state = match query.get("state").map(str::to_ascii_lowercase).as_deref() {
        None | Some("open") => State::Open,
        Some("closed") => State::Closed,
        Some("all" | "any") => State::All,
        Some(_) => {
            return Err(format!(
                "Error decoding state for {}",
                query.get("state").unwrap_or_default()
            ));
        }
    };
    Ok(Options {
        sort,
        subs,
        auth,
        offset: usize::try_from(offset.max(0)).unwrap_or(0),
        limit: usize::try_from(limit).unwrap_or(1024),
        cid,
        state,
        user: query.get("user").map(str::to_owned),
        account: query.get("acc").map(str::to_owned),
    })
}

impl Options {
    /// nats-server's checks of the sort key (after counting the request).
    fn check_sort(&self) -> Result<(), String> {
        match self.sort.as_str() {
            "cid" | "start" | "subs" | "pending" | "msgs_to" | "msgs_from" | "bytes_to"
            | "bytes_from" | "last" | "idle" | "uptime" => Ok(()),
            "stop" | "reason" if self.state != State::Closed => Err(format!(
                "sort by {} only valid on closed connections",
                self.sort
            )),
            "stop" | "reason" => Ok(()),
            other => Err(format!("invalid sorting option: {other}")),
        }
    }
}

/// The `/connz` answer, or a 400 reason.
pub(super) fn connz(monitor: &Monitor, query: &Query, now: u64) -> Result<Value, String> {
    let mut options = options(query)?;
    let broker = &monitor.broker;
    // nats-server counts a request once its parameters were read, before
    // the checks that combine them.
    if query.http {
        broker.stats.count_request("/connz");
    }
    options.check_sort()?;
    let mut rows: Vec<ConnSnapshot> = Vec::new();
    if options.state != State::Closed {
        rows.extend(
            broker
                .connections()
                .iter()
                .map(|c| broker.stats.snapshot(c)),
        );
    }
    if options.state != State::Open {
        rows.extend(broker.stats.closed_connections());
    }
    if let Some(cid) = options.cid {
        rows.retain(|r| r.cid == cid);
        options.limit = 1;
    }
    if let Some(account) = &options.account {
        rows.retain(|r| r.meta.account.as_deref() == Some(account.as_str()));
    }
    // nats-server's quirk: `total` counts before the user filter.
    let total = rows.len();
    if let Some(user) = &options.user {
        rows.retain(|r| r.meta.user.as_deref() == Some(user.as_str()));
    }
    sort(&mut rows, &options.sort, now);
    let page: Vec<Value> = rows
        .iter()
        .skip(options.offset)
        .take(options.limit)
        .map(|r| conn_info(r, &options, now))
        .collect();
    Ok(json!({
        "server_id": broker.info.server_id,
        "now": rfc3339(now),
        "num_connections": page.len(),
        "total": total,
        "offset": options.offset,
        "limit": options.limit,
        "connections": page,
    }))
}

fn sort(rows: &mut [ConnSnapshot], key: &str, now: u64) {
    use std::cmp::Reverse;
    let idle = |r: &ConnSnapshot| now.saturating_sub(r.last_activity_unix_nanos);
    match key {
        "subs" => rows.sort_by_key(|r| Reverse(r.subs.len())),
        "pending" => rows.sort_by_key(|r| Reverse(r.counters.pending)),
        "msgs_to" => rows.sort_by_key(|r| Reverse(r.counters.out_msgs)),
        "msgs_from" => rows.sort_by_key(|r| Reverse(r.counters.in_msgs)),
        "bytes_to" => rows.sort_by_key(|r| Reverse(r.counters.out_bytes)),
        "bytes_from" => rows.sort_by_key(|r| Reverse(r.counters.in_bytes)),
        "last" => rows.sort_by_key(|r| Reverse(r.last_activity_unix_nanos)),
        // The newer servers' meaning: the most idle first.
        "idle" => rows.sort_by_key(|r| Reverse(idle(r))),
        // The youngest first.
        "uptime" => rows.sort_by_key(|r| Reverse(r.meta.start_unix_nanos)),
        "stop" => rows.sort_by_key(|r| Reverse(r.stop_unix_nanos)),
        "reason" => rows.sort_by_key(|r| r.reason.map_or("", |r| r.as_str())),
        _ => rows.sort_by_key(|r| r.cid),
    }
}

/// One row: nats-server's `ConnInfo`, omitted fields left out.
fn conn_info(row: &ConnSnapshot, options: &Options, now: u64) -> Value {
    let meta = &row.meta;
    let end = row.stop_unix_nanos.unwrap_or(now);
    let mut out = Map::new();
    let mut put = |key: &str, value: Value| {
        out.insert(key.to_owned(), value);
    };
    put("cid", json!(row.cid));
    put("kind", json!("Client"));
    put("type", json!(meta.transport));
    put("ip", json!(meta.ip));
    put("port", json!(meta.port));
    put("start", json!(rfc3339(meta.start_unix_nanos)));
    put(
        "last_activity",
        json!(rfc3339(row.last_activity_unix_nanos)),
    );
    if let Some(stop) = row.stop_unix_nanos {
        put("stop", json!(rfc3339(stop)));
    }
    if let Some(reason) = row.reason {
        put("reason", json!(reason.as_str()));
    }
    put("rtt", json!(rtt(meta.rtt.unwrap_or(Duration::ZERO))));
    put(
        "uptime",
        json!(uptime(Duration::from_nanos(
            end.saturating_sub(meta.start_unix_nanos)
        ))),
    );
    put(
        "idle",
        json!(uptime(Duration::from_nanos(
            end.saturating_sub(row.last_activity_unix_nanos)
        ))),
    );
    put("pending_bytes", json!(row.counters.pending));
    put("in_msgs", json!(row.counters.in_msgs));
    put("out_msgs", json!(row.counters.out_msgs));
    put("in_bytes", json!(row.counters.in_bytes));
    put("out_bytes", json!(row.counters.out_bytes));
    put("subscriptions", json!(row.subs.len()));
    for (key, value) in [
        ("name", &meta.name),
        ("lang", &meta.lang),
        ("version", &meta.version),
    ] {
        if !value.is_empty() {
            put(key, json!(value));
        }
    }
    if let Some(version) = &meta.tls_version {
        put("tls_version", json!(version));
    }
    if let Some(cipher) = &meta.tls_cipher {
        put("tls_cipher_suite", json!(cipher));
    }
    if options.auth {
        if let Some(user) = &meta.user {
            put("authorized_user", json!(user));
        }
        if let Some(account) = meta.account.as_deref().filter(|a| *a != "$G") {
            put("account", json!(account));
        }
    }
    match options.subs {
        Subs::List if !row.subs.is_empty() => {
            let subjects: Vec<&str> = row.subs.iter().map(|s| s.subject.as_str()).collect();
            put("subscriptions_list", json!(subjects));
        }
        Subs::Detail if !row.subs.is_empty() => {
            let details: Vec<Value> = row.subs.iter().map(|s| sub_detail(s, false)).collect();
            put("subscriptions_list_detail", json!(details));
        }
        _ => {}
    }
    Value::Object(out)
}

/// nats-server's `SubDetail` (`account` shown only in `/subsz`).
pub(super) fn sub_detail(sub: &SubSnapshot, with_account: bool) -> Value {
    let mut out = Map::new();
    if with_account {
        out.insert("account".into(), json!(sub.account));
    }
    out.insert("subject".into(), json!(sub.subject));
    if let Some(queue) = &sub.queue {
        out.insert("qgroup".into(), json!(queue));
    }
    out.insert("sid".into(), json!(sub.sid));
    out.insert("msgs".into(), json!(sub.msgs));
    if sub.max > 0 {
        out.insert("max".into(), json!(sub.max));
    }
    out.insert("cid".into(), json!(sub.cid));
    Value::Object(out)
}
