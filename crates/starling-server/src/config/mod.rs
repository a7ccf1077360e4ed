//! The server's own configuration keys: reads the top level of a
//! configuration tree into [`ServerOptions`] and [`LogOptions`].
//!
//! Keys are matched case-insensitively with nats-server's aliases. A key
//! nats-server knows but Starling does not support yet is refused with a
//! message that says so; a key nats-server does not know is an error, as
//! it is for nats-server. Every problem in the file is reported, each with
//! its file, line and column.

mod client_flags;
mod cluster;
mod cluster_flags;
pub mod flags;
mod leaf;
mod ocsp;
pub mod signal;
mod top;

pub use client_flags::ClientFlags;
pub use cluster_flags::ClusterFlags;

use std::path::PathBuf;

use starling_conf::{ConfError, Value};

use crate::{ServerError, ServerOptions};
use top::apply;

/// Logging and process options from the configuration file (the binary
/// applies them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// `debug`: debug log lines.
    pub debug: Option<bool>,
    /// `trace`: protocol trace lines.
    pub trace: Option<bool>,
    /// `logtime`: timestamps on log lines.
    pub logtime: Option<bool>,
    /// `logfile` / `log_file`: write the log to this file.
    pub logfile: Option<PathBuf>,
    /// `pidfile` / `pid_file`: write the process id to this file.
    pub pid_file: Option<PathBuf>,
    /// `logfile_size_limit` (`log_size_limit`): rotate the log file past
    /// this many bytes (0: never).
    pub logfile_size_limit: u64,
    /// `ports_file_dir`: write `<executable>_<pid>.ports` there (the
    /// listeners' URLs as JSON), removed at exit.
    pub ports_file_dir: Option<PathBuf>,
    /// `syslog`: log to the local syslog daemon instead of stderr.
    pub syslog: Option<bool>,
    /// `remote_syslog`: log to this daemon (`udp://host:514`, `tcp://...`,
    /// `unix:///path`); a log file, when given, wins over both.
    pub remote_syslog: Option<String>,
}

impl LogOptions {
    /// The most detailed level logged: info by default, debug with `-D`,
    /// everything with `-V` (trace includes debug here, as in nats-server).
    pub fn max_level(&self) -> tracing::Level {
        match (self.debug.unwrap_or(false), self.trace.unwrap_or(false)) {
            (_, true) => tracing::Level::TRACE,
            (true, false) => tracing::Level::DEBUG,
            (false, false) => tracing::Level::INFO,
        }
    }

    /// Where the lines go: the log file, the remote syslog, the local one.
    pub fn target(&self) -> (Option<&PathBuf>, Option<&str>, Option<bool>) {
        (
            self.logfile.as_ref(),
            self.remote_syslog.as_deref(),
            self.syslog,
        )
    }
}

/// Everything the top level of a configuration file sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigOptions {
    /// Listener and limits.
    pub server: ServerOptions,
    /// Logging and the pid file.
    pub log: LogOptions,
    /// What nats-server accepts with a warning (for example a duration
    /// given as a number of seconds); the binary logs these at start-up.
    pub warnings: Vec<ConfError>,
}

/// Options nats-server has that Starling does not support yet, with the
/// issue that brings them. Refused at start-up.
pub(super) const NOT_YET: &[(&[&str], &str)] = &[
    (&["gateway"], "gateways"),
    (
        &["jetstream", "store_dir", "storedir", "default_js_domain"],
        "JetStream",
    ),
    (&["mqtt"], "MQTT"),
];

/// A block's `listen` (`"host:port"` or a port): the host, if given, and
/// the port (-1 for any free one).
pub(super) fn block_listen(value: &Value, name: &str) -> Result<(Option<String>, i64), ConfError> {
    let text = match &value.kind {
        starling_conf::ValueKind::Integer(port) => format!(":{port}"),
        _ => value.as_str(name)?.to_owned(),
    };
    let (host, port) = text
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<i64>().ok()?)))
        .ok_or_else(|| value.error(format!("could not parse address string {text:?}")))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((
        (!host.is_empty()).then(|| host.to_owned()),
        block_port(value, port)?,
    ))
}

/// A block's port: 0 to 65535, or -1 for any free one.
pub(super) fn block_port(value: &Value, port: i64) -> Result<i64, ConfError> {
    if (-1..=i64::from(u16::MAX)).contains(&port) {
        Ok(port)
    } else {
        Err(value.error(format!("{port} is not a port (0-65535, or -1 for any)")))
    }
}

/// Reads the top level of a configuration file over the defaults.
pub fn options_from_config(root: &Value) -> Result<ConfigOptions, Vec<ConfError>> {
    let mut options = ConfigOptions::default();
    let mut errors = Vec::new();
    let map = match root.as_map("configuration") {
        Ok(map) => map,
        Err(error) => return Err(vec![error]),
    };
    for (key, value) in map.options() {
        if let Err(error) = apply(&mut options, key, value, &mut errors) {
            errors.push(error);
        }
    }
    // Operator JWTs may be given as files, relative to the current
    // directory as in nats-server.
    let load = |path: &str| std::fs::read_to_string(path);
    match starling_auth::AuthConfig::from_config_with(root, &load) {
        Ok(mut auth) => {
            if let Err(error) = crate::resolver::load_directory(&mut auth) {
                errors.push(root.error(error));
            }
            options.server.auth = auth;
        }
        Err(auth_errors) => errors.extend(auth_errors),
    }
    if errors.is_empty()
        && let Err(error) = options.server.validate()
    {
        errors.push(locate(root, &error));
    }
    if errors.is_empty() {
        Ok(options)
    } else {
        Err(errors)
    }
}

/// Reads a configuration file into options, with its tree (to place
/// later complaints in it); every problem found, as text.
pub fn read_config_file(path: &std::path::Path) -> Result<(ConfigOptions, Value), Vec<String>> {
    let root = starling_conf::parse_file(path).map_err(|e| vec![e.to_string()])?;
    let options = options_from_config(&root)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    Ok((options, root))
}

/// A start-up error as text, placed at its option in the configuration
/// file when there is one.
pub fn describe(error: &ServerError, root: Option<&Value>) -> String {
    match root {
        Some(root) if error.option().is_some() => locate(root, error).to_string(),
        _ => error.to_string(),
    }
}

/// Where a start-up check's complaint belongs: the option it names (the
/// deepest key of its path found in the file), else the top of the file.
pub fn locate(root: &Value, error: &ServerError) -> ConfError {
    let mut span = &root.span;
    if let Some(path) = error.option() {
        let mut value = root;
        for name in path.split('.') {
            let aliases: &[&str] = match name {
                "websocket" => &["websocket", "ws"],
                other => &[other][..],
            };
            let Some((key, next)) = value
                .as_map(name)
                .ok()
                .and_then(|map| aliases.iter().find_map(|alias| map.get_ignore_case(alias)))
            else {
                break;
            };
            span = &key.span;
            value = next;
        }
    }
    ConfError::at(span, error.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn load(text: &str) -> Result<ConfigOptions, Vec<String>> {
        let root = starling_conf::parse_str(text).map_err(|e| vec![e.to_string()])?;
        options_from_config(&root)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn newer_top_level_options_read_as_nats_server_reads_them() {
        let o = load(
            "server_tags: [\"Edge:1\", \" b \", \"edge:1\"]\nmax_sub_tokens: 4\n\
             lame_duck_duration: \"45s\"\nlame_duck_grace_period: \"5s\"\n\
             connect_error_reports: 10\nno_sublist_cache: true\nports_file_dir: /tmp",
        )
        .unwrap();
        let s = &o.server;
        assert_eq!(s.server_tags, ["edge:1", "b"]);
        assert_eq!((s.max_sub_tokens, s.connect_error_reports), (4, 10));
        assert_eq!(
            (s.lame_duck_duration, s.lame_duck_grace_period),
            (Duration::from_secs(45), Duration::from_secs(5))
        );
        assert!(s.disable_sublist_cache && o.log.ports_file_dir.is_some());
        assert_eq!(
            load("server_tags: one").unwrap().server.server_tags,
            ["one"]
        );
        for (text, says) in [
            ("server_tags: [1]", "error parsing tags"),
            ("max_sub_tokens: 256", "max_sub_tokens value is too big"),
            (
                "max_sub_tokens: -1",
                "max_sub_tokens value can not be negative",
            ),
            (
                "lame_duck_duration: \"10s\"",
                "invalid lame_duck_duration of 10s, minimum is 30 seconds",
            ),
            ("lame_duck_duration: 60", "error parsing lame_duck_duration"),
        ] {
            let errors = load(text).expect_err(text);
            assert!(
                errors.iter().any(|e| e.contains(says)),
                "{text}: {errors:?}"
            );
        }
    }

    #[test]
    fn top_level_options() {
        let o = load(
            "listen: 127.0.0.1:4333\nserver_name: alpha\nMAX_PAYLOAD: 2MB\nmax_conn: 10\nping_interval: \"30s\"\n\
             ping_max: 3\nwrite_deadline: 5\nmax_subs: 7\ndebug: true\nlogtime: false\npid_file: /tmp/s.pid",
        )
        .unwrap();
        let s = &o.server;
        assert_eq!(
            (s.host.as_str(), s.port, s.server_name.as_deref()),
            ("127.0.0.1", 4333, Some("alpha"))
        );
        assert_eq!(
            (s.max_payload, s.max_connections, s.max_subscriptions),
            (2 * 1024 * 1024, 10, 7)
        );
        assert_eq!(
            (s.ping_interval, s.ping_max, s.write_deadline),
            (Duration::from_secs(30), 3, Duration::from_secs(5))
        );
        assert_eq!((o.log.debug, o.log.logtime), (Some(true), Some(false)));
    }

    #[test]
    fn listen_forms() {
        assert_eq!(load("listen: 5222").unwrap().server.port, 5222);
        let o = load("listen: \":6222\"").unwrap();
        assert_eq!((o.server.host.as_str(), o.server.port), ("0.0.0.0", 6222));
        assert_eq!(load("port: -1").unwrap().server.port, 0);
        assert_eq!(
            load("port: 0").unwrap().server.port,
            4222,
            "0 means the default"
        );
        let o = load("max_payload: 0\nping_interval: 0\nping_max: 0").unwrap();
        assert_eq!(o.server, ServerOptions::default());
        let o = load("ping_interval: 30").unwrap();
        assert_eq!(o.server.ping_interval, Duration::from_secs(30));
        assert_eq!(
            o.warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["1:16: ping_interval should be converted to a duration"]
        );
    }

    #[test]
    fn every_error_is_reported_with_its_place() {
        let errors =
            load("port: \"x\"\nfoo: 1\nwebsocket { port: 8080 }\nmax_payload: -1").unwrap_err();
        assert_eq!(
            errors,
            vec![
                "1:7: port: expected an integer, got string \"x\"",
                "2:1: unknown field \"foo\"",
                "3:11: websocket requires TLS configuration",
                "4:14: max_payload: must not be negative, got -1",
            ]
        );
    }

    #[test]
    fn cross_option_checks() {
        let errors = load("max_payload: 10MB\nmax_pending: 1MB").unwrap_err();
        assert_eq!(
            errors,
            vec![
                "1:1: invalid option: max_payload (10485760) cannot be higher than max_pending (1048576)"
            ]
        );
        // The place is the option's, not the file's top.
        let errors = load("max_pending: 1MB\n  max_payload: 10MB").unwrap_err();
        assert!(
            errors[0].starts_with("2:3: invalid option: max_payload"),
            "{errors:?}"
        );
        // TLS files are read by the start-up check (once), and placed too.
        let root = starling_conf::parse_str(
            "port: 4222\nws {\n  port: 8443\n  tls { cert_file: \"/no/cert.pem\", key_file: \"/no/key.pem\" }\n}",
        )
        .unwrap();
        let options = options_from_config(&root).unwrap();
        let error = crate::Server::check(&options.server).unwrap_err();
        let error = locate(&root, &error).to_string();
        assert!(
            error.starts_with(
                "4:3: invalid option: websocket tls: can't read certificates from /no/cert.pem"
            ),
            "{error}"
        );
    }
}
