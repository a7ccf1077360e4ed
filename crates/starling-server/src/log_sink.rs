//! Where log lines go — standard error, the log file (rotated, reopened
//! by SIGUSR1) or syslog (local or remote) — held so that a
//! configuration reload can move them, as nats-server's reload of
//! `log_file`, `syslog` and `remote_syslog` does. The binary's log
//! writer asks for one [`LogLine`] per line. Also the files the process
//! leaves for others (`pid_file`, the ports file), which a reload moves
//! too.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::LogOptions;
use crate::log_file::{LogFile, LogFileWriter};
use crate::syslog::{LOCAL_PATHS, Severity, Syslog, SyslogLine, program_tag};

/// One place lines go.
#[derive(Debug, Clone)]
pub enum LogTarget {
    /// Standard error (no `log_file`, no syslog).
    Stderr,
    /// `log_file`.
    File(Arc<LogFile>),
    /// `syslog` or `remote_syslog` (a log file wins over both).
    Syslog(Arc<Syslog>),
}

impl LogTarget {
    /// The target `options` name, opened (the file created, the syslog
    /// daemon reached). Blocking.
    ///
    /// # Errors
    ///
    /// The file cannot be opened, or the daemon cannot be reached.
    pub fn open(options: &LogOptions) -> Result<Self, String> {
        if let Some(path) = &options.logfile {
            let limit = options.logfile_size_limit;
            return LogFile::open(path, limit, options.logtime.unwrap_or(true))
                .map(Self::File)
                .map_err(|e| format!("can't open log file {}: {e}", path.display()));
        }
        let syslog = match (&options.remote_syslog, options.syslog) {
            (Some(url), _) => Syslog::remote(url, &program_tag())?,
            (None, Some(true)) => Syslog::local(&LOCAL_PATHS, &program_tag())?,
            (None, _) => return Ok(Self::Stderr),
        };
        Ok(Self::Syslog(Arc::new(syslog)))
    }
}

/// The current target.
#[derive(Debug)]
pub struct LogSink {
    target: RwLock<LogTarget>,
    /// Syslog lines carry their own stamp, tag and pid: the text alone.
    bare: AtomicBool,
}

impl LogSink {
    /// Lines go to `target`.
    pub fn new(target: LogTarget) -> Self {
        let sink = Self {
            target: RwLock::new(LogTarget::Stderr),
            bare: AtomicBool::new(false),
        };
        sink.replace(target);
        sink
    }

    /// Lines go to `target` from now on.
    pub fn replace(&self, target: LogTarget) {
        self.bare
            .store(matches!(target, LogTarget::Syslog(_)), Ordering::Relaxed);
        *self.target.write().unwrap_or_else(PoisonError::into_inner) = target;
    }

    /// Whether lines are written without pid, stamp and level (syslog).
    pub fn is_bare(&self) -> bool {
        self.bare.load(Ordering::Relaxed)
    }

    /// The log file, when lines go to one (SIGUSR1 reopens it).
    pub fn file(&self) -> Option<Arc<LogFile>> {
        match &*self.target.read().unwrap_or_else(PoisonError::into_inner) {
            LogTarget::File(file) => Some(Arc::clone(file)),
            _ => None,
        }
    }

    /// Lets lines still on their way reach the target (at exit; at most
    /// `limit` for a syslog daemon that does not take them).
    pub fn flush(&self, limit: std::time::Duration) {
        match &*self.target.read().unwrap_or_else(PoisonError::into_inner) {
            LogTarget::Stderr => {
                let _ = std::io::stderr().flush();
            }
            LogTarget::File(file) => {
                let _ = file.writer().flush();
            }
            LogTarget::Syslog(syslog) => syslog.drain(limit),
        }
    }

    /// A writer for one line of `severity`.
    pub fn line(&self, severity: Severity) -> LogLine {
        match &*self.target.read().unwrap_or_else(PoisonError::into_inner) {
            LogTarget::Stderr => LogLine::Stderr(std::io::stderr()),
            LogTarget::File(file) => LogLine::File(file.writer()),
            LogTarget::Syslog(syslog) => LogLine::Syslog(syslog.line(severity)),
        }
    }
}

/// One line on its way to the target it was made for.
#[derive(Debug)]
pub enum LogLine {
    /// To standard error.
    Stderr(std::io::Stderr),
    /// To the log file.
    File(LogFileWriter),
    /// To syslog, sent when dropped.
    Syslog(SyslogLine),
}

impl Write for LogLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Stderr(out) => out.write(bytes),
            Self::File(out) => out.write(bytes),
            Self::Syslog(out) => out.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Stderr(out) => out.flush(),
            Self::File(out) => out.flush(),
            Self::Syslog(out) => out.flush(),
        }
    }
}

/// The pid file and the ports file this process wrote, removed at exit;
/// a reload that names others writes those (nats-server writes the new
/// pid file and moves the ports file, leaving the old pid file).
#[derive(Debug, Default)]
pub struct ProcessFiles {
    written: Mutex<Written>,
}

#[derive(Debug, Default)]
struct Written {
    pid: Option<PathBuf>,
    ports_dir: Option<PathBuf>,
    ports: Option<PathBuf>,
}

impl ProcessFiles {
    fn written(&self) -> std::sync::MutexGuard<'_, Written> {
        self.written.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the pid file `options` names, unless it is the one written
    /// already. Blocking.
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn write_pid(&self, options: &LogOptions) -> Result<(), String> {
        let mut written = self.written();
        let Some(path) = &options.pid_file else {
            return Ok(());
        };
        if written.pid.as_ref() == Some(path) {
            return Ok(());
        }
        std::fs::write(path, std::process::id().to_string())
            .map_err(|e| format!("can't write the pid file {}: {e}", path.display()))?;
        written.pid = Some(path.clone());
        Ok(())
    }

    /// Writes the ports file into the directory `options` names, unless
    /// it is there already (one written elsewhere is removed). Blocking.
    pub fn write_ports(&self, options: &LogOptions, ports: &crate::Ports) {
        let mut written = self.written();
        if written.ports_dir == options.ports_file_dir {
            return;
        }
        if let Some(old) = written.ports.take() {
            crate::Ports::remove_file(&old);
        }
        written.ports_dir.clone_from(&options.ports_file_dir);
        written.ports = options
            .ports_file_dir
            .as_deref()
            .and_then(|dir| ports.write_file(dir));
    }

    /// Removes both (at exit).
    pub fn remove(&self) {
        let mut written = self.written();
        if let Some(pid) = written.pid.take() {
            let _ = std::fs::remove_file(pid);
        }
        if let Some(ports) = written.ports.take() {
            crate::Ports::remove_file(&ports);
        }
    }
}

/// What a reload changed in the logging options, in nats-server's words
/// (`Reloaded: debug = true`...).
pub fn reload_notices(old: &LogOptions, new: &LogOptions) -> Vec<String> {
    let mut notices = Vec::new();
    let mut note = |name: &str, changed: bool, value: String| {
        if changed {
            notices.push(format!("Reloaded: {name} = {value}"));
        }
    };
    let flag = |value: Option<bool>| value.unwrap_or(false).to_string();
    let path = |value: &Option<PathBuf>| {
        value
            .as_deref()
            .map(Path::display)
            .map(|p| p.to_string())
            .unwrap_or_default()
    };
    note("trace", old.trace != new.trace, flag(new.trace));
    note("debug", old.debug != new.debug, flag(new.debug));
    note(
        "logtime",
        old.logtime != new.logtime,
        new.logtime.unwrap_or(true).to_string(),
    );
    note("log_file", old.logfile != new.logfile, path(&new.logfile));
    note("syslog", old.syslog != new.syslog, flag(new.syslog));
    let remote = new.remote_syslog.clone().unwrap_or_default();
    note(
        "remote_syslog",
        old.remote_syslog != new.remote_syslog,
        remote,
    );
    note(
        "pid_file",
        old.pid_file != new.pid_file,
        path(&new.pid_file),
    );
    note(
        "ports_file_dir",
        old.ports_file_dir != new.ports_file_dir,
        path(&new.ports_file_dir),
    );
    notices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_moves_the_lines_and_the_files() {
        let dir = std::env::temp_dir().join(format!("starling-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let sink = LogSink::new(LogTarget::Stderr);
        assert!(sink.file().is_none());
        let options = LogOptions {
            logfile: Some(dir.join("a.log")),
            pid_file: Some(dir.join("a.pid")),
            ..LogOptions::default()
        };
        sink.replace(LogTarget::open(&options).expect("opens"));
        sink.line(Severity::Notice)
            .write_all(b"one\n")
            .expect("written");
        assert_eq!(
            std::fs::read_to_string(dir.join("a.log")).expect("log"),
            "one\n"
        );
        assert!(!sink.is_bare());
        let files = ProcessFiles::default();
        files.write_pid(&options).expect("pid");
        let moved = LogOptions {
            pid_file: Some(dir.join("b.pid")),
            ..options.clone()
        };
        files.write_pid(&moved).expect("pid");
        assert!(dir.join("b.pid").exists() && dir.join("a.pid").exists());
        files.remove();
        assert!(!dir.join("b.pid").exists());
        assert_eq!(
            reload_notices(&options, &moved),
            [format!(
                "Reloaded: pid_file = {}",
                dir.join("b.pid").display()
            )]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
