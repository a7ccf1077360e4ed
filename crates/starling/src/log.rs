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
    let t = starling_conf::UtcTime::from_unix(now.as_secs());
    write!(
        writer,
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06} ",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        now.subsec_micros()
    )
}
