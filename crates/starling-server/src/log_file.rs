//! The log file as nats-server keeps it: appended to, reopened on SIGUSR1
//! (after an outside rotation), and rotated by size with
//! `logfile_size_limit`: past the limit the file is renamed to
//! `<file>.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn` (UTC here) and a new one begins
//! with `Rotated log, backup saved as "<backup>"`. The binary's
//! subscriber writes through it (its own lines go through `tracing`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// A log file shared by every log line.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    /// `logfile_size_limit` (0: none).
    limit: u64,
    /// Timestamps on lines this writes itself (`logtime`).
    logtime: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    file: File,
    written: u64,
}

impl LogFile {
    /// Opens (appends to) `path`; `limit` bytes (0: none) before rotating.
    ///
    /// # Errors
    ///
    /// The file cannot be opened.
    pub fn open(path: &Path, limit: u64, logtime: bool) -> std::io::Result<Arc<Self>> {
        let file = append(path)?;
        let written = file.metadata().map_or(0, |m| m.len());
        Ok(Arc::new(Self {
            path: path.to_path_buf(),
            limit,
            logtime,
            state: Mutex::new(State { file, written }),
        }))
    }

    /// Opens the path again (nats-server's `reopen`); the old file closes.
    ///
    /// # Errors
    ///
    /// The file cannot be opened; the old one stays in use.
    pub fn reopen(&self) -> std::io::Result<()> {
        let file = append(&self.path)?;
        let written = file.metadata().map_or(0, |m| m.len());
        *self.lock() = State { file, written };
        Ok(())
    }

    /// nats-server's `ReOpenLogFile`, with its lines (SIGUSR1).
    pub fn reopen_logged(file: Option<&Self>) {
        match file {
            None => tracing::info!("File log re-open ignored, not a file logger"),
            Some(file) => match file.reopen() {
                Ok(()) => tracing::info!("File log re-opened"),
                Err(error) => tracing::error!("Failed to re-open the log file: {error}"),
            },
        }
    }

    /// A writer for one log line (what the subscriber asks for).
    pub fn writer(self: &Arc<Self>) -> LogFileWriter {
        LogFileWriter(Arc::clone(self))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, buf: &[u8]) -> std::io::Result<usize> {
        let mut state = self.lock();
        let n = state.file.write(buf)?;
        state.written += n as u64;
        if self.limit > 0 && state.written > self.limit {
            self.rotate(&mut state);
        }
        Ok(n)
    }

    /// Renames the full file aside and starts a new one, which says so.
    fn rotate(&self, state: &mut State) {
        let backup = format!("{}.{}", self.path.display(), stamp(['.', '.', '.'], 9));
        let Ok(file) = std::fs::rename(&self.path, &backup).and_then(|()| append(&self.path))
        else {
            // Keep writing where we are; try again at twice the size.
            state.written = 0;
            return;
        };
        let line = log_line(
            self.logtime,
            "[INF]",
            &format!("Rotated log, backup saved as {backup:?}"),
        );
        *state = State {
            file,
            written: line.len() as u64,
        };
        let _ = state.file.write_all(line.as_bytes());
    }
}

fn append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// One line in nats-server's shape:
/// `[pid] 2006/01/02 15:04:05.000000 [INF] text\n` (UTC).
pub fn log_line(logtime: bool, label: &str, text: &str) -> String {
    let mut line = format!("[{}] ", std::process::id());
    if logtime {
        line.push_str(&timestamp());
    }
    line.push_str(label);
    line.push(' ');
    line.push_str(text);
    line.push('\n');
    line
}

/// `2006/01/02 15:04:05.000000 ` in UTC (no time-zone database needed).
pub fn timestamp() -> String {
    format!("{} ", stamp(['/', ' ', ':'], 6))
}

/// The time now in UTC: date parts joined by `sep[0]`, `sep[1]` before
/// the time, time parts joined by `sep[2]`, then a fraction of a second
/// of `digits` digits (6: microseconds, 9: nanoseconds).
fn stamp([date, between, time]: [char; 3], digits: usize) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let t = starling_conf::UtcTime::from_unix(now.as_secs());
    let fraction = if digits == 9 {
        now.subsec_nanos()
    } else {
        now.subsec_micros()
    };
    format!(
        "{:04}{date}{:02}{date}{:02}{between}{:02}{time}{:02}{time}{:02}.{fraction:0digits$}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// Writes one log line into the shared file.
#[derive(Debug)]
pub struct LogFileWriter(Arc<LogFile>);

impl Write for LogFileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_the_file_is_rotated_and_says_so() {
        let dir = std::env::temp_dir().join(format!("starling-rotate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("server.log");
        let log = LogFile::open(&path, 150, false).expect("opens");
        let mut writer = log.writer();
        writer.write_all(&[b'a'; 100]).expect("write");
        writer.write_all(&[b'b'; 100]).expect("write");
        writer.write_all(b"after\n").expect("write");
        let fresh = std::fs::read_to_string(&path).expect("the new file");
        assert!(
            fresh.contains("[INF] Rotated log, backup saved as"),
            "{fresh}"
        );
        assert!(fresh.ends_with("after\n"), "{fresh}");
        let backups: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("server.log."))
            .collect();
        assert_eq!(backups.len(), 1);
        let old = std::fs::read_to_string(backups[0].path()).expect("the backup");
        assert_eq!(old.len(), 200);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
