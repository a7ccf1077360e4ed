//! A request's parameters: an HTTP query string decoded as Go's
//! `url.Query` decodes it, or the options of a `$SYS` request put in the
//! same terms, so one handler answers both.

use std::collections::HashMap;

/// A request's parameters: an HTTP query (the first value of each), or
/// the options of a `$SYS` request put in the same terms.
pub(crate) struct Query {
    params: HashMap<String, String>,
    /// `$SYS.REQ.ACCOUNT...STATZ`'s list of accounts (no HTTP parameter
    /// sets it).
    pub(crate) accounts: Option<Vec<String>>,
    /// An HTTP request: counted in `/varz`'s `http_req_stats`, and given
    /// `/subsz`'s HTTP shape (`$SYS` requests are neither).
    pub(crate) http: bool,
}

impl Query {
    /// Parameters given directly (for `$SYS` requests).
    pub(crate) fn internal(params: HashMap<String, String>) -> Self {
        Self {
            params,
            accounts: None,
            http: false,
        }
    }

    /// Sets a parameter (for `$SYS` requests about one account).
    pub(crate) fn set(&mut self, name: &str, value: &str) {
        self.params.insert(name.to_owned(), value.to_owned());
    }

    pub(super) fn parse(query: Option<&str>) -> Self {
        let mut params = HashMap::new();
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.entry(decode(key)).or_insert_with(|| decode(value));
        }
        Self {
            params,
            accounts: None,
            http: true,
        }
    }

    /// A parameter's value; an empty one is absent, as for Go's
    /// `Query().Get`, which every nats-server handler reads.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Percent-decoding of a query component (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
