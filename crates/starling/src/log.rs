//! Log lines in nats-server's shape: `[pid] 2006/01/02 15:04:05.000000 [INF] text`,
//! to standard error, the log file or syslog; the level and `logtime`
//! change on a configuration reload.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

use starling_server::LogOptions;
use starling_server::log_file::{LogFile, timestamp};
use starling_server::syslog::{LOCAL_PATHS, Severity, Syslog, SyslogLine, program_tag};

/// The installed subscriber's handles.
pub(crate) struct Logging {
    /// The log file, when there is one (SIGUSR1 reopens it).
    pub(crate) file: Option<Arc<LogFile>>,
    levels: reload::Handle<LevelFilter, Registry>,
    logtime: Arc<AtomicBool>,
    /// The options it was set up with (a reload may not change where
    /// lines go).
    options: LogOptions,
}

fn level(options: &LogOptions) -> LevelFilter {
    LevelFilter::from_level(options.max_level())
}

/// Installs the global subscriber.
pub(crate) fn init(options: &LogOptions) -> Result<Logging, String> {
    // Syslog lines carry their own stamp, tag and pid.
    let syslog = match (&options.logfile, &options.remote_syslog, options.syslog) {
        (Some(_), _, _) => None,
        (None, Some(url), _) => Some(Syslog::remote(url, &program_tag())?),
        (None, None, Some(true)) => Some(Syslog::local(&LOCAL_PATHS, &program_tag())?),
        (None, None, _) => None,
    };
    let logtime = Arc::new(AtomicBool::new(options.logtime.unwrap_or(true)));
    let format = NatsFormat {
        pid: std::process::id(),
        logtime: Arc::clone(&logtime),
        bare: syslog.is_some(),
    };
    let mut file = None;
    let writer = match (syslog, &options.logfile) {
        (Some(syslog), _) => BoxMakeWriter::new(SyslogWriter(Arc::new(syslog))),
        (None, Some(path)) => {
            let limit = options.logfile_size_limit;
            let opened = LogFile::open(path, limit, options.logtime.unwrap_or(true))
                .map_err(|e| format!("can't open log file {}: {e}", path.display()))?;
            let shared = Arc::clone(&opened);
            file = Some(opened);
            BoxMakeWriter::new(move || shared.writer())
        }
        (None, None) => BoxMakeWriter::new(std::io::stderr),
    };
    let (filter, levels) = reload::Layer::new(level(options));
    let layer = tracing_subscriber::fmt::layer()
        .event_format(format)
        .with_writer(writer);
    tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init()
        .map_err(|e| format!("can't set up logging: {e}"))?;
    let options = options.clone();
    Ok(Logging {
        file,
        levels,
        logtime,
        options,
    })
}

impl Logging {
    /// Whether a reload's logging options can be applied: the level and
    /// `logtime` change; a new log file or syslog target is refused (the
    /// lines keep going where they go).
    pub(crate) fn check(&self, options: &LogOptions) -> Result<(), String> {
        let (old, new) = (self.options.target(), options.target());
        if old == new {
            return Ok(());
        }
        Err(format!(
            "config reload not supported for logfile/syslog/remote_syslog: old={old:?}, new={new:?}"
        ))
    }

    /// Applies a checked reload's level and `logtime`.
    pub(crate) fn reload(&self, options: &LogOptions) -> Result<(), String> {
        self.levels
            .modify(|filter| *filter = level(options))
            .map_err(|e| e.to_string())?;
        self.logtime
            .store(options.logtime.unwrap_or(true), Ordering::Relaxed);
        Ok(())
    }
}

struct NatsFormat {
    pid: u32,
    logtime: Arc<AtomicBool>,
    /// The text alone (syslog).
    bare: bool,
}

struct SyslogWriter(Arc<Syslog>);

impl<'a> MakeWriter<'a> for SyslogWriter {
    type Writer = SyslogLine;

    fn make_writer(&'a self) -> SyslogLine {
        self.0.line(Severity::Notice)
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> SyslogLine {
        self.0.line(Severity::of(*meta.level()))
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
        if !self.bare {
            write!(writer, "[{}] ", self.pid)?;
            if self.logtime.load(Ordering::Relaxed) {
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
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
