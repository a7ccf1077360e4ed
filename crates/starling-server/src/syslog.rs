//! Log lines to syslog, as nats-server sends them (Go's `log/syslog`):
//! `syslog: true` writes to the local daemon (`/dev/log`, then
//! `/var/run/syslog`, `/var/run/log`; a datagram socket, else a stream),
//! `remote_syslog: "udp://host:514"` (or `tcp://`, `unix:///path`) to a
//! remote one. A line is `<PRI>stamp tag[pid]: text`, with the hostname
//! after the stamp for a remote daemon; PRI is the facility (daemon for the
//! local one, kern for a remote one, as nats-server asks for) plus the
//! line's severity. Lines go to the daemon from a thread of their own
//! through a bounded queue, so a log line never waits on a slow daemon
//! (lines beyond the queue are dropped). No tracing here: the binary's
//! subscriber writes through it.

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the local daemon listens, in the order Go tries them.
pub const LOCAL_PATHS: [&str; 3] = ["/dev/log", "/var/run/syslog", "/var/run/log"];

/// A line's severity (RFC 5424 numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Fatal errors (nats-server's `Fatalf`).
    Critical = 2,
    /// Errors.
    Error = 3,
    /// Warnings.
    Warning = 4,
    /// Notices, and trace lines (as nats-server sends them).
    Notice = 5,
    /// Debug lines.
    Debug = 7,
}

/// A connection to a syslog daemon.
#[derive(Debug)]
pub struct Syslog {
    /// Lines for the writer thread, which owns the connection: a log line
    /// never waits on a slow daemon (past 1024 lines waiting, lines are
    /// dropped, as a datagram would be).
    lines: SyncSender<String>,
    /// Lines queued and lines the writer thread has sent, so that the
    /// process can let the queue drain before it exits.
    progress: Arc<(Mutex<(u64, u64)>, Condvar)>,
    /// Facility bits (daemon: 3 << 3; kern: 0).
    facility: u8,
    /// `None` for the local daemon (no hostname, a short stamp).
    hostname: Option<String>,
    tag: String,
}

#[derive(Debug)]
enum Conn {
    Datagram(UnixDatagram),
    Unix(UnixStream),
    Udp(UdpSocket),
    Tcp(TcpStream),
}

impl Syslog {
    /// The local daemon, found at the first of `paths` that takes a
    /// connection.
    ///
    /// # Errors
    ///
    /// nats-server's text when none does.
    pub fn local(paths: &[&str], tag: &str) -> Result<Self, String> {
        for path in paths {
            let conn = match UnixDatagram::unbound().and_then(|s| s.connect(path).map(|()| s)) {
                Ok(socket) => Conn::Datagram(socket),
                Err(_) => match UnixStream::connect(path) {
                    Ok(stream) => Conn::Unix(stream),
                    Err(_) => continue,
                },
            };
            return Ok(Self::new(conn, 3 << 3, None, tag));
        }
        Err("error connecting to syslog: \"Unix syslog delivery error\"".to_owned())
    }

    /// A remote daemon: `udp://host:port`, `tcp://host:port` or
    /// `unix:///path` (a stream socket, as Go dials it).
    ///
    /// # Errors
    ///
    /// nats-server's texts for a bad scheme or a failed connection.
    pub fn remote(url: &str, tag: &str) -> Result<Self, String> {
        let failed = |e: std::io::Error| format!("error connecting to syslog: {:?}", e.to_string());
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("error invalid network type: {:?}", ""))?;
        let conn = match scheme {
            "udp" => {
                let any = if rest.starts_with('[') {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                };
                let socket = UdpSocket::bind(any).map_err(failed)?;
                socket.connect(host_port(rest)).map_err(failed)?;
                Conn::Udp(socket)
            }
            "tcp" => Conn::Tcp(TcpStream::connect(host_port(rest)).map_err(failed)?),
            "unix" => Conn::Unix(UnixStream::connect(rest).map_err(failed)?),
            other => return Err(format!("error invalid network type: {other:?}")),
        };
        let hostname = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        Ok(Self::new(conn, 0, Some(hostname), tag))
    }

    fn new(conn: Conn, facility: u8, hostname: Option<String>, tag: &str) -> Self {
        let (lines, queued) = sync_channel::<String>(1024);
        let progress = Arc::new((Mutex::new((0, 0)), Condvar::new()));
        let sent = Arc::clone(&progress);
        let mut conn = conn;
        // A daemon that stops reading holds this thread only.
        let _ = std::thread::Builder::new()
            .name("syslog".into())
            .spawn(move || {
                for line in queued {
                    let _ = match &mut conn {
                        Conn::Datagram(socket) => socket.send(line.as_bytes()).map(drop),
                        Conn::Udp(socket) => socket.send(line.as_bytes()).map(drop),
                        Conn::Unix(stream) => stream.write_all(line.as_bytes()),
                        Conn::Tcp(stream) => stream.write_all(line.as_bytes()),
                    };
                    let (counts, changed) = &*sent;
                    counts.lock().unwrap_or_else(PoisonError::into_inner).1 += 1;
                    changed.notify_all();
                }
            });
        Self {
            lines,
            progress,
            facility,
            hostname,
            tag: tag.to_owned(),
        }
    }

    /// Queues one line for the writer thread; a line that cannot be sent
    /// is dropped, as Go's writer drops it after one reconnect.
    pub fn send(&self, severity: Severity, text: &str) {
        let line = self.format(severity, text, SystemTime::now());
        if self.lines.try_send(line).is_ok() {
            let (counts, _) = &*self.progress;
            counts.lock().unwrap_or_else(PoisonError::into_inner).0 += 1;
        }
    }

    /// Waits (at most `limit`) until every line queued so far is sent: at
    /// exit, so that the last lines (the shutdown's) are not lost.
    pub fn drain(&self, limit: std::time::Duration) {
        let (counts, changed) = &*self.progress;
        let guard = counts.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = changed.wait_timeout_while(guard, limit, |(queued, sent)| sent < queued);
    }

    /// One line as Go's `log/syslog` writes it.
    fn format(&self, severity: Severity, text: &str, at: SystemTime) -> String {
        let priority = self.facility | severity as u8;
        let pid = std::process::id();
        let text = text.trim_end_matches('\n');
        let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let t = starling_conf::UtcTime::from_unix(secs);
        let (hour, minute, second) = (t.hour, t.minute, t.second);
        match &self.hostname {
            // time.Stamp: "Jan _2 15:04:05".
            None => {
                let month = MONTHS[(t.month as usize).saturating_sub(1) % 12];
                format!(
                    "<{priority}>{month} {:>2} {hour:02}:{minute:02}:{second:02} {}[{pid}]: {text}\n",
                    t.day, self.tag
                )
            }
            // RFC 3339.
            Some(host) => format!(
                "<{priority}>{:04}-{:02}-{:02}T{hour:02}:{minute:02}:{second:02}Z {host} {}[{pid}]: {text}\n",
                t.year, t.month, t.day, self.tag
            ),
        }
    }
}

impl Severity {
    /// The severity nats-server gives a line of this level (trace lines
    /// go out as notices).
    pub fn of(level: tracing::Level) -> Self {
        match level {
            tracing::Level::ERROR => Self::Error,
            tracing::Level::WARN => Self::Warning,
            tracing::Level::DEBUG => Self::Debug,
            tracing::Level::INFO | tracing::Level::TRACE => Self::Notice,
        }
    }
}

/// One log line on its way to syslog: written in pieces, sent whole when
/// the writer is dropped.
#[derive(Debug)]
pub struct SyslogLine {
    sink: Arc<Syslog>,
    severity: Severity,
    line: Vec<u8>,
}

impl Syslog {
    /// A writer for one line of `severity`.
    pub fn line(self: &Arc<Self>, severity: Severity) -> SyslogLine {
        SyslogLine {
            sink: Arc::clone(self),
            severity,
            line: Vec::new(),
        }
    }
}

impl Write for SyslogLine {
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

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `host:port` of a URL's rest (any path dropped).
fn host_port(rest: &str) -> &str {
    rest.split('/').next().unwrap_or(rest)
}

/// The tag nats-server uses: the program's file name.
pub fn program_tag() -> String {
    std::env::args()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "starling".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lines_are_shaped_as_go_writes_them() {
        let dir = std::env::temp_dir().join(format!("starling-syslog-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let daemon = UnixDatagram::bind(&path).expect("bind");
        let missing = dir.join("missing");
        let paths = [
            missing.to_str().expect("path"),
            path.to_str().expect("path"),
        ];
        let local = Syslog::local(&paths, "nats").expect("local");
        // 2026-12-02T05:04:03Z
        let at = UNIX_EPOCH + Duration::from_secs(1_796_187_843);
        let pid = std::process::id();
        assert_eq!(
            local.format(Severity::Warning, "hello\n", at),
            format!("<28>Dec  2 05:04:03 nats[{pid}]: hello\n")
        );
        local.send(Severity::Notice, "ready");
        let mut buf = [0u8; 256];
        let n = daemon.recv(&mut buf).expect("recv");
        let line = String::from_utf8_lossy(&buf[..n]);
        assert!(line.starts_with("<29>") && line.ends_with(&format!(" nats[{pid}]: ready\n")));

        let remote = Syslog::new(Conn::Datagram(daemon), 0, Some("box".into()), "nats");
        assert_eq!(
            remote.format(Severity::Debug, "x", at),
            format!("<7>2026-12-02T05:04:03Z box nats[{pid}]: x\n")
        );
        assert!(Syslog::local(&[missing.to_str().expect("path")], "nats").is_err());
        assert_eq!(
            Syslog::remote("ftp://h:1", "nats").expect_err("scheme"),
            "error invalid network type: \"ftp\""
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
