//! Log lines in nats-server's shape: `[pid] 2006/01/02 15:04:05.000000 [INF] text`.

use std::fmt;
use std::sync::Arc;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use starling_server::LogOptions;
use starling_server::log_file::{LogFile, timestamp};
use starling_server::syslog::{LOCAL_PATHS, Severity, Syslog, program_tag};

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
    // Syslog lines carry their own stamp, tag and pid.
    let syslog = match (&options.logfile, &options.remote_syslog, options.syslog) {
        (Some(_), _, _) => None,
        (None, Some(url), _) => Some(Syslog::remote(url, &program_tag())?),
        (None, None, Some(true)) => Some(Syslog::local(&LOCAL_PATHS, &program_tag())?),
        (None, None, _) => None,
    };
    let format = NatsFormat {
        pid: std::process::id(),
        logtime: options.logtime.unwrap_or(true),
        bare: syslog.is_some(),
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .event_format(format);
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| format!("can't set up logging: {e}");
    if let Some(syslog) = syslog {
        builder
            .with_writer(SyslogWriter(Arc::new(syslog)))
            .try_init()
            .map_err(failed)?;
        return Ok(None);
    }
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
    /// The text alone (syslog).
    bare: bool,
}

struct SyslogWriter(Arc<Syslog>);

impl<'a> MakeWriter<'a> for SyslogWriter {
    type Writer = SyslogLine;

    fn make_writer(&'a self) -> SyslogLine {
        self.line(Severity::Notice)
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> SyslogLine {
        self.line(match *meta.level() {
            Level::ERROR => Severity::Error,
            Level::WARN => Severity::Warning,
            Level::DEBUG => Severity::Debug,
            Level::INFO | Level::TRACE => Severity::Notice,
        })
    }
}

impl SyslogWriter {
    fn line(&self, severity: Severity) -> SyslogLine {
        let sink = Arc::clone(&self.0);
        SyslogLine {
            sink,
            severity,
            line: Vec::new(),
        }
    }
}

/// One log line on its way to syslog, sent whole when the subscriber is
/// done with it.
struct SyslogLine {
    sink: Arc<Syslog>,
    severity: Severity,
    line: Vec<u8>,
}

impl std::io::Write for SyslogLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            self.sink
                .send(self.severity, &String::from_utf8_lossy(&self.line));
        }
    }
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
        if self.bare {
            ctx.field_format().format_fields(writer.by_ref(), event)?;
            return writeln!(writer);
        }
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
