//! Comparing JSON answers by shape (keys and JSON types, not values), for
//! the differential tests against nats-server.

use serde_json::Value;

/// Keys whose values are floats in nats-server (Go prints whole ones
/// without a fraction, so either JSON number form is the same type).
const FLOATS: &[&str] = &[
    "cpu",
    "auth_timeout",
    "tls_timeout",
    "cache_hit_rate",
    "avg_fanout",
];

/// A value's shape: object keys with their shapes, an array's first
/// element, and the JSON type of everything else.
pub fn shape(key: &str, value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(k, v))).collect())
        }
        // Rows come in no defined order: every row's keys, merged.
        Value::Array(items) => {
            let mut merged: Option<Value> = None;
            for item in items {
                let item = shape(key, item);
                merged = Some(match (merged, item) {
                    (Some(Value::Object(mut all)), Value::Object(more)) => {
                        for (k, v) in more {
                            all.entry(k).or_insert(v);
                        }
                        Value::Object(all)
                    }
                    (Some(first), _) => first,
                    (None, item) => item,
                });
            }
            Value::Array(merged.into_iter().collect())
        }
        Value::Number(_) if FLOATS.contains(&key) => "number".into(),
        Value::Number(n) if n.is_f64() => "float".into(),
        Value::Number(_) => "integer".into(),
        Value::String(_) => "string".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => "null".into(),
    }
}

/// Where the two shapes differ, as `path: ours / theirs`.
pub fn differences(at: &str, ours: &Value, theirs: &Value, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a
                .keys()
                .chain(b.keys())
                .collect::<std::collections::BTreeSet<_>>()
            {
                let here = format!("{at}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => differences(&here, x, y, out),
                    (Some(_), None) => out.push(format!("{here}: only Starling has it")),
                    (None, _) => out.push(format!("{here}: only nats-server has it")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if !a.is_empty() && !b.is_empty() => {
            differences(&format!("{at}[0]"), &a[0], &b[0], out);
        }
        (a, b) if a != b => out.push(format!("{at}: {a} / {b}")),
        _ => {}
    }
}
