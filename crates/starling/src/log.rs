//! Log lines in nats-server's shape: `[pid] 2006/01/02 15:04:05.000000 [INF] text`,
//! to standard error, the log file or syslog; a configuration reload
//! changes the level, `logtime` and where the lines go.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

use starling_server::LogOptions;
use starling_server::log_file::timestamp;
use starling_server::log_sink::{LogLine, LogSink, LogTarget, ProcessFiles, reload_notices};
use starling_server::syslog::Severity;

/// The installed subscriber's handles.
pub(crate) struct Logging {
    /// Where lines go (SIGUSR1 reopens its log file; a reload moves it).
    pub(crate) sink: Arc<LogSink>,
    /// The pid file and the ports file.
    pub(crate) files: ProcessFiles,
    levels: reload::Handle<LevelFilter, Registry>,
    logtime: Arc<AtomicBool>,
    /// The options running now.
    options: Mutex<LogOptions>,
}

fn level(options: &LogOptions) -> LevelFilter {
    LevelFilter::from_level(options.max_level())
}

/// Installs the global subscriber.
pub(crate) fn init(options: &LogOptions) -> Result<Logging, String> {
    let sink = Arc::new(LogSink::new(LogTarget::open(options)?));
    let logtime = Arc::new(AtomicBool::new(options.logtime.unwrap_or(true)));
    let format = NatsFormat {
        pid: std::process::id(),
        logtime: Arc::clone(&logtime),
        sink: Arc::clone(&sink),
    };
    let (filter, levels) = reload::Layer::new(level(options));
    let layer = tracing_subscriber::fmt::layer()
        .event_format(format)
        .with_writer(SinkWriter(Arc::clone(&sink)));
    tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init()
        .map_err(|e| format!("can't set up logging: {e}"))?;
    Ok(Logging {
        sink,
        files: ProcessFiles::default(),
        levels,
        logtime,
        options: Mutex::new(options.clone()),
    })
}

impl Logging {
    /// Opens where a reload's `options` send the lines, when that moved
    /// (away from the async workers): `None` when it did not.
    pub(crate) async fn open_target(
        &self,
        options: &LogOptions,
    ) -> Result<Option<LogTarget>, String> {
        let moved = self
            .options
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .target()
            != options.target();
        if !moved {
            return Ok(None);
        }
        let options = options.clone();
        let opened = tokio::task::spawn_blocking(move || LogTarget::open(&options)).await;
        opened.map_err(|e| e.to_string())?.map(Some)
    }

    /// Applies a reload's logging options (the target opened already),
    /// telling what changed as nats-server does.
    pub(crate) fn reload(
        &self,
        options: &LogOptions,
        target: Option<LogTarget>,
    ) -> Result<(), String> {
        self.levels
            .modify(|filter| *filter = level(options))
            .map_err(|e| e.to_string())?;
        self.logtime
            .store(options.logtime.unwrap_or(true), Ordering::Relaxed);
        if let Some(target) = target {
            self.sink.replace(target);
        }
        let mut running = self.options.lock().unwrap_or_else(PoisonError::into_inner);
        for notice in reload_notices(&running, options) {
            tracing::info!("{notice}");
        }
        *running = options.clone();
        Ok(())
    }
}

struct NatsFormat {
    pid: u32,
    logtime: Arc<AtomicBool>,
    /// Syslog lines are the text alone.
    sink: Arc<LogSink>,
}

struct SinkWriter(Arc<LogSink>);

impl<'a> MakeWriter<'a> for SinkWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        self.0.line(Severity::Notice)
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> LogLine {
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
        if !self.sink.is_bare() {
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
