//! Log lines in nats-server's shape: `[pid] 2006/01/02 15:04:05.000000 [INF] text`.

use std::fmt;
use std::sync::Arc;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use starling_server::LogOptions;
use starling_server::log_file::{LogFile, timestamp};

/// Installs the global subscriber: info by default, debug with `-D`, and
/// everything with `-V` (trace includes debug here). The log file, when
/// there is one, is returned to be reopened.
pub(crate) fn init(options: &LogOptions) -> Result<Option<Arc<LogFile>>, String> {
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
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| format!("can't set up logging: {e}");
    match &options.logfile {
        Some(path) => {
            let limit = options.logfile_size_limit;
            let file = LogFile::open(path, limit, options.logtime.unwrap_or(true))
                .map_err(|e| format!("can't open log file {}: {e}", path.display()))?;
            let writer = Arc::clone(&file);
            builder
                .with_writer(move || writer.writer())
                .try_init()
                .map_err(failed)?;
            Ok(Some(file))
        }
        None => {
            builder
                .with_writer(std::io::stderr)
                .try_init()
                .map_err(failed)?;
            Ok(None)
        }
    }
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
            write!(writer, "{}", timestamp())?;
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
