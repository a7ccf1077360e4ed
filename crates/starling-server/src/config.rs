//! The server's own configuration keys: reads the top level of a
//! configuration tree into [`ServerOptions`] and [`LogOptions`].
//!
//! Keys are matched case-insensitively with nats-server's aliases. A key
//! nats-server knows but Starling does not support yet is refused with a
//! message that says so; a key nats-server does not know is an error, as
//! it is for nats-server. Every problem in the file is reported, each with
//! its file, line and column.

use std::path::PathBuf;

use starling_conf::{ConfError, Key, Value, ValueKind};

use crate::{ServerError, ServerOptions};

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
const NOT_YET: &[(&[&str], &str)] = &[
    (
        &["authorization", "accounts", "no_auth_user"],
        "authentication and accounts (issue #5)",
    ),
    (
        &[
            "account_resolver",
            "accounts_resolver",
            "resolver_tls",
            "resolver_pinned_accounts",
        ],
        "this resolver setting (only resolver: MEMORY with resolver_preload)",
    ),
    (
        &[
            "no_system_account",
            "no_system",
            "no_sys_acc",
            "trusted",
            "trusted_keys",
        ],
        "operator mode (issue #6)",
    ),
    (&["allow_non_tls", "ocsp"], "optional TLS and OCSP stapling"),
    (
        &[
            "http",
            "https",
            "http_port",
            "monitor_port",
            "https_port",
            "http_base_path",
        ],
        "monitoring endpoints",
    ),
    (
        &["cluster", "gateway", "leaf", "leafnodes"],
        "clustering, gateways and leaf nodes",
    ),
    (
        &["jetstream", "store_dir", "storedir", "default_js_domain"],
        "JetStream",
    ),
    (&["mqtt"], "MQTT"),
    (&["mappings", "maps"], "subject mappings"),
    (&["client_advertise"], "client_advertise"),
    (
        &["lame_duck_duration", "lame_duck_grace_period"],
        "lame-duck mode",
    ),
    (
        &[
            "syslog",
            "remote_syslog",
            "logfile_size_limit",
            "log_size_limit",
        ],
        "syslog and log rotation",
    ),
    (
        &["ports_file_dir", "prof_port", "server_tags"],
        "ports files, profiling and server tags",
    ),
    (
        &["max_traced_msg_len", "trace_verbose"],
        "trace length limits",
    ),
    (
        &["max_sub_tokens", "max_subscription_tokens"],
        "max_sub_tokens",
    ),
    (&["no_header_support"], "turning header support off"),
    (
        &["disable_sublist_cache", "no_sublist_cache"],
        "turning the match cache off",
    ),
    (
        &["connect_error_reports", "reconnect_error_reports"],
        "error report intervals",
    ),
];

/// Reads the top level of a configuration file over the defaults.
pub fn options_from_config(root: &Value) -> Result<ConfigOptions, Vec<ConfError>> {
    let mut options = ConfigOptions::default();
    let mut errors = Vec::new();
    let map = match root.as_map("configuration") {
        Ok(map) => map,
        Err(error) => return Err(vec![error]),
    };
    for (key, value) in map.iter().filter(|(key, _)| !key.used_as_variable) {
        if let Err(error) = apply(&mut options, key, value, &mut errors) {
            errors.push(error);
        }
    }
    // Operator JWTs may be given as files, relative to the current
    // directory as in nats-server.
    let load = |path: &str| std::fs::read_to_string(path);
    match starling_auth::AuthConfig::from_config_with(root, &load) {
        Ok(auth) => options.server.auth = auth,
        Err(auth_errors) => errors.extend(auth_errors),
    }
    if errors.is_empty()
        && let Err(error) = options.server.validate()
    {
        errors.push(ConfError::at(option_span(root, &error), error.to_string()));
    }
    if errors.is_empty() {
        Ok(options)
    } else {
        Err(errors)
    }
}

/// Applies one top-level key. A block with several problems adds them to
/// `errors`; a single problem is returned.
/// Where a start-up check's complaint belongs: the option its message
/// starts with (`websocket tls: ...` is the websocket block's `tls`), else
/// the top of the file.
fn option_span<'a>(root: &'a Value, error: &ServerError) -> &'a starling_conf::Span {
    let text = match error {
        ServerError::InvalidOption(text) => text.as_str(),
        _ => "",
    };
    let mut words = text.split([' ', ':', '(']).filter(|w| !w.is_empty());
    let mut path: Vec<&str> = words.next().into_iter().collect();
    if path == ["websocket"] {
        path.extend(words.next());
    }
    let mut span = &root.span;
    let mut value = root;
    for name in path {
        let Some((key, next)) = value
            .as_map(name)
            .ok()
            .and_then(|map| map.get_ignore_case(name))
        else {
            break;
        };
        span = &key.span;
        value = next;
    }
    span
}

fn apply(
    options: &mut ConfigOptions,
    key: &Key,
    value: &Value,
    errors: &mut Vec<ConfError>,
) -> Result<(), ConfError> {
    let name = key.name.to_ascii_lowercase();
    let server = &mut options.server;
    let log = &mut options.log;
    match name.as_str() {
        "listen" => {
            let (host, port) = listen(value)?;
            if let Some(host) = host {
                server.host = host;
            }
            server.port = port;
        }
        "port" => {
            if let Some(port) = port(value, "port")? {
                server.port = port;
            }
        }
        "host" | "net" => server.host = value.as_str(&name)?.to_owned(),
        "server_name" => {
            let text = value.as_str(&name)?;
            if text.contains(' ') {
                return Err(value.error("server_name: server names can not contain spaces"));
            }
            server.server_name = Some(text.to_owned());
        }
        // For these nats-server reads 0 as "the default".
        "max_payload" => set_size(&mut server.max_payload, value, &name)?,
        "max_control_line" => set_size(&mut server.max_control_line, value, &name)?,
        "max_pending" => set_size(&mut server.max_pending, value, &name)?,
        "max_connections" | "max_conn" => set_size(&mut server.max_connections, value, &name)?,
        "max_subscriptions" | "max_subs" => set_size(&mut server.max_subscriptions, value, &name)?,
        "ping_interval" => set_duration(
            &mut server.ping_interval,
            value,
            &name,
            &mut options.warnings,
        )?,
        "ping_max" => {
            let count = u32::try_from(value.as_integer(&name)?)
                .map_err(|_| value.error("ping_max: expected a number from 0 to 4294967295"))?;
            if count > 0 {
                server.ping_max = count;
            }
        }
        "write_deadline" => set_duration(
            &mut server.write_deadline,
            value,
            &name,
            &mut options.warnings,
        )?,
        "tls" => match starling_ws::TlsOptions::from_value(value) {
            Ok(tls) => server.tls = Some(tls),
            Err(block_errors) => errors.extend(block_errors),
        },
        "websocket" | "ws" => match starling_ws::WebsocketOptions::from_value(value) {
            Ok(websocket) => server.websocket = websocket,
            Err(block_errors) => errors.extend(block_errors),
        },
        // Read as a whole by starling-auth (see options_from_config).
        "authorization" | "no_auth_user" | "accounts" | "operator" | "operators" | "root"
        | "roots" | "root_operators" | "root_operator" | "system_account" | "system"
        | "resolver" | "resolver_preload" => {}
        "debug" => log.debug = Some(value.as_bool(&name)?),
        "trace" => log.trace = Some(value.as_bool(&name)?),
        "logtime" => log.logtime = Some(value.as_bool(&name)?),
        "logfile" | "log_file" => log.logfile = Some(PathBuf::from(value.as_str(&name)?)),
        "pidfile" | "pid_file" => log.pid_file = Some(PathBuf::from(value.as_str(&name)?)),
        other => {
            if let Some((_, what)) = NOT_YET.iter().find(|(names, _)| names.contains(&other)) {
                return Err(ConfError::at(
                    &key.span,
                    format!("{:?} is not supported yet ({what})", key.name),
                ));
            }
            return Err(ConfError::at(
                &key.span,
                format!("unknown field {:?}", key.name),
            ));
        }
    }
    Ok(())
}

/// `listen`: a port, or `host:port` (`:port` and `[::1]:port` too).
fn listen(value: &Value) -> Result<(Option<String>, u16), ConfError> {
    match &value.kind {
        ValueKind::Integer(_) => Ok((None, port(value, "listen")?.unwrap_or(DEFAULT_PORT))),
        ValueKind::String(text) => {
            let (host, port_text) = text.rsplit_once(':').ok_or_else(|| {
                value.error(format!("listen: expected \"host:port\", got {text:?}"))
            })?;
            let port = port_text
                .parse::<i64>()
                .ok()
                .and_then(port_number)
                .ok_or_else(|| value.error(format!("listen: invalid port in {text:?}")))?
                .unwrap_or(DEFAULT_PORT);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Ok(((!host.is_empty()).then(|| host.to_owned()), port))
        }
        _ => Err(value.error(format!(
            "listen: expected a port or \"host:port\", got {}",
            value.kind_name()
        ))),
    }
}

const DEFAULT_PORT: u16 = 4222;

/// A port: `None` for 0 (nats-server's "the default"), `Some(0)` for -1
/// (any free port).
fn port(value: &Value, option: &str) -> Result<Option<u16>, ConfError> {
    let number = value.as_integer(option)?;
    port_number(number).ok_or_else(|| {
        value.error(format!(
            "{option}: {number} is not a port (0-65535, or -1 for any)"
        ))
    })
}

fn port_number(number: i64) -> Option<Option<u16>> {
    match number {
        0 => Some(None),
        -1 => Some(Some(0)),
        _ => u16::try_from(number).ok().map(Some),
    }
}

/// A size or count; 0 keeps the default, as in nats-server.
fn set_size(target: &mut usize, value: &Value, option: &str) -> Result<(), ConfError> {
    let number = value.as_integer(option)?;
    if number < 0 {
        return Err(value.error(format!("{option}: must not be negative, got {number}")));
    }
    if number > 0 {
        *target = usize::try_from(number)
            .map_err(|_| value.error(format!("{option}: {number} is too large")))?;
    }
    Ok(())
}

/// A duration; 0 keeps the default. A plain number of seconds is accepted
/// with nats-server's warning.
fn set_duration(
    target: &mut std::time::Duration,
    value: &Value,
    option: &str,
    warnings: &mut Vec<ConfError>,
) -> Result<(), ConfError> {
    if matches!(value.kind, ValueKind::Integer(_) | ValueKind::Float(_)) {
        warnings.push(value.error(format!("{option} should be converted to a duration")));
    }
    let duration = value.as_duration(option)?;
    if !duration.is_zero() {
        *target = duration;
    }
    Ok(())
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
        let errors = load(
            "port: 4222\nwebsocket {\n  port: 8443\n  tls { cert_file: \"/no/cert.pem\", key_file: \"/no/key.pem\" }\n}",
        )
        .unwrap_err();
        assert!(
            errors[0].starts_with("4:3: invalid option: websocket tls"),
            "{errors:?}"
        );
    }
}
