//! Log lines in nats-server's shape: `[pid] 2006/01/02 15:04:05.000000 [INF] text`.

use std::fmt;
use std::fs::OpenOptions;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use starling_server::LogOptions;

/// Installs the global subscriber: info by default, debug with `-D`, and
/// everything with `-V` (trace includes debug here).
pub(crate) fn init(options: &LogOptions) -> Result<(), String> {
    let level = match (
        options.debug.unwrap_or(false),
        options.trace.unwrap_or(false),
    ) {
        (_, true) => Level::TRACE,
        (true, false) => Level::DEBUG,
        (false, false) => Level::INFO,
    };
    let format = NatsFormat {
        pid: std::process::id(),
        logtime: options.logtime.unwrap_or(true),
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .event_format(format);
    let result = match &options.logfile {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("can't open log file {}: {e}", path.display()))?;
            builder.with_writer(Mutex::new(file)).try_init()
        }
        None => builder.with_writer(std::io::stderr).try_init(),
    };
    result.map_err(|e| format!("can't set up logging: {e}"))
}

struct NatsFormat {
    pid: u32,
    logtime: bool,
}

impl<S, N> FormatEvent<S, N> for NatsFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "[{}] ", self.pid)?;
        if self.logtime {
            write_utc_now(&mut writer)?;
        }
        let label = match *event.metadata().level() {
            Level::ERROR => "[ERR]",
            Level::WARN => "[WRN]",
            Level::INFO => "[INF]",
            Level::DEBUG => "[DBG]",
            Level::TRACE => "[TRC]",
        };
        write!(writer, "{label} ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// `2006/01/02 15:04:05.000000 ` in UTC (no time-zone database needed).
fn write_utc_now(writer: &mut Writer<'_>) -> fmt::Result {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    write!(
        writer,
        "{year:04}/{month:02}/{day:02} {:02}:{:02}:{:02}.{:06} ",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        now.subsec_micros()
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_416), (2025, 11, 24));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
