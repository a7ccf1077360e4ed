//! Calendar times in UTC from Unix seconds, with no time-zone database:
//! the one date algorithm the workspace has (log lines, HTTP `Date`
//! headers, and the language's ISO 8601 date-times all need it).

/// A UTC calendar time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// The year (1970 and on for Unix seconds).
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
    /// 0 is Sunday, 6 Saturday.
    pub weekday: u32,
}

impl UtcTime {
    /// The calendar time `unix_seconds` after 1970-01-01T00:00:00Z.
    pub fn from_unix(unix_seconds: u64) -> Self {
        let days = (unix_seconds / 86_400) as i64;
        let rem = (unix_seconds % 86_400) as u32;
        // Days to a civil date (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        Self {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            // 1970-01-01 was a Thursday.
            weekday: ((days + 4).rem_euclid(7)) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let date = |secs: u64| {
            let t = UtcTime::from_unix(secs);
            (t.year, t.month, t.day, t.weekday)
        };
        assert_eq!(date(0), (1970, 1, 1, 4));
        assert_eq!(date(20_416 * 86_400), (2025, 11, 24, 1));
        assert_eq!(date(11_016 * 86_400), (2000, 2, 29, 2));
        let t = UtcTime::from_unix(1_795_519_792);
        assert_eq!(
            (
                t.year, t.month, t.day, t.hour, t.minute, t.second, t.weekday
            ),
            (2026, 11, 24, 11, 29, 52, 2)
        );
    }
}
