//! nats-server's encodings in monitoring answers: RFC 3339 times, Go
//! durations for `rtt`, its own `1d2h3m4s` form for `uptime` and `idle`,
//! and Go's readings of query parameters.

use std::time::Duration;

use starling_conf::UtcTime;

/// Unix nanoseconds as Go prints a `time.Time` in JSON (UTC, up to nine
/// fraction digits without trailing zeros).
pub(crate) fn rfc3339(unix_nanos: u64) -> String {
    let t = UtcTime::from_unix(unix_nanos / 1_000_000_000);
    let nanos = unix_nanos % 1_000_000_000;
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// nats-server's `myUptime`: `[Ny][Nd][Nh][Nm]Ns`, leading zero units
/// dropped, inner ones kept.
pub(crate) fn uptime(d: Duration) -> String {
    let mut secs = d.as_secs();
    let years = secs / (365 * 86_400);
    secs %= 365 * 86_400;
    let days = secs / 86_400;
    secs %= 86_400;
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    if years > 0 {
        format!("{years}y{days}d{hours}h{minutes}m{seconds}s")
    } else if days > 0 {
        format!("{days}d{hours}h{minutes}m{seconds}s")
    } else if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// Go's `Duration.String()` for a round trip, truncated to microseconds
/// between 1 µs and 1 ms as nats-server does.
pub(crate) fn rtt(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return go_fraction(nanos / 1_000, 0, "µs");
    }
    if nanos < 1_000_000_000 {
        return go_fraction(nanos, 6, "ms");
    }
    go_fraction(nanos, 9, "s")
}

/// `value` / 10^`digits`, without trailing zeros, then `unit`.
fn go_fraction(value: u128, digits: u32, unit: &str) -> String {
    let scale = 10u128.pow(digits);
    let (whole, fraction) = (value / scale, value % scale);
    if fraction == 0 {
        return format!("{whole}{unit}");
    }
    let fraction = format!("{fraction:0width$}", width = digits as usize);
    format!("{whole}.{}{unit}", fraction.trim_end_matches('0'))
}

/// A float as Go's JSON prints it: whole values without a fraction.
pub(crate) fn go_float(value: f64) -> serde_json::Value {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 9.0e15 {
        serde_json::Value::from(value as i64)
    } else {
        serde_json::Value::from(value)
    }
}

/// Go's `strconv.ParseBool` (an empty value is false), with nats-server's
/// error text.
pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        other => Err(format!(
            "Error decoding boolean for '{name}': strconv.ParseBool: parsing {other:?}: invalid syntax"
        )),
    }
}

/// Go's `strconv.Atoi`, with nats-server's error text.
pub(crate) fn parse_int(name: &str, value: &str) -> Result<i64, String> {
    value.parse::<i64>().map_err(|_| {
        format!(
            "Error decoding int for '{name}': strconv.Atoi: parsing {value:?}: {}",
            go_number_error(value.strip_prefix(['+', '-']).unwrap_or(value))
        )
    })
}

/// Go's `strconv.ParseUint(value, 10, 64)`, with nats-server's error text.
pub(crate) fn parse_uint(name: &str, value: &str) -> Result<u64, String> {
    value.parse::<u64>().map_err(|_| {
        format!(
            "Error decoding uint64 for '{name}': strconv.ParseUint: parsing {value:?}: {}",
            go_number_error(value)
        )
    })
}

/// Why Go refused a number: digits that do not fit, or not digits.
fn go_number_error(digits: &str) -> &'static str {
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        "value out of range"
    } else {
        "invalid syntax"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_as_go_prints_them() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_764_317_422_770_490_000),
            "2025-11-28T08:10:22.77049Z"
        );
        assert_eq!(uptime(Duration::from_secs(0)), "0s");
        assert_eq!(uptime(Duration::from_secs(65)), "1m5s");
        assert_eq!(uptime(Duration::from_secs(7203)), "2h0m3s");
        assert_eq!(uptime(Duration::from_secs(3 * 86_400 + 1)), "3d0h0m1s");
        assert_eq!(rtt(Duration::ZERO), "0s");
        assert_eq!(rtt(Duration::from_nanos(498_123)), "498µs");
        assert_eq!(rtt(Duration::from_nanos(4_301_414)), "4.301414ms");
        assert_eq!(rtt(Duration::from_millis(1200)), "1.2s");
        assert_eq!(parse_bool("subs", "1"), Ok(true));
        assert!(parse_bool("subs", "2").is_err());
        assert_eq!(
            parse_int("limit", "abc").unwrap_err(),
            "Error decoding int for 'limit': strconv.Atoi: parsing \"abc\": invalid syntax"
        );
        assert!(
            parse_int("limit", "-99999999999999999999")
                .unwrap_err()
                .ends_with("value out of range")
        );
        assert_eq!(parse_uint("cid", "7"), Ok(7));
        assert!(
            parse_uint("cid", "-1")
                .unwrap_err()
                .ends_with("invalid syntax")
        );
    }
}
