//! Log lines in nats-server's shape: `[pid] 2006/01/02 15:04:05.000000 [INF] text`.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use starling_server::LogOptions;

/// The log file, which SIGUSR1 reopens (nats-server's `reopen`, for
/// log rotation: the old file renamed, a new one opened at the path).
pub(crate) struct LogFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl LogFile {
    fn open(path: &Path) -> std::io::Result<File> {
        OpenOptions::new().create(true).append(true).open(path)
    }

    /// Opens the path again; the old file is closed.
    pub(crate) fn reopen(&self) -> std::io::Result<()> {
        let file = Self::open(&self.path)?;
        *self.file.lock().unwrap_or_else(PoisonError::into_inner) = file;
        Ok(())
    }
}

/// One log line's writer: the current file, locked while written.
struct LogFileWriter(Arc<LogFile>);

impl Write for LogFileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut file = self.0.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut file = self.0.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.flush()
    }
}

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
            let file = LogFile::open(path)
                .map_err(|e| format!("can't open log file {}: {e}", path.display()))?;
            let file = Arc::new(LogFile {
                path: path.clone(),
                file: Mutex::new(file),
            });
            let writer = Arc::clone(&file);
            builder
                .with_writer(move || LogFileWriter(Arc::clone(&writer)))
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
