//! The top-level keys one by one: listener, limits, durations, logging,
//! and the blocks other crates read (`tls`, `websocket`).

use starling_conf::{ConfError, Key, Value, ValueKind};

use super::{ConfigOptions, NOT_YET};

/// Applies one top-level key. A block with several problems adds them to
/// `errors`; a single problem is returned.
pub(super) fn apply(
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
        "host" | "net" => server.host = value.read(&name)?,
        // nats-server reads these as duration strings only.
        "lame_duck_duration" => {
            let duration = lame_duck(value, &name)?;
            if duration < std::time::Duration::from_secs(30) {
                return Err(value.error(format!(
                    "invalid lame_duck_duration of {}, minimum is 30 seconds",
                    crate::options::go_duration(duration)
                )));
            }
            server.lame_duck_duration = duration;
        }
        "lame_duck_grace_period" => server.lame_duck_grace_period = lame_duck(value, &name)?,
        "no_header_support" => server.no_header_support = value.as_bool(&name)?,
        "allow_non_tls" => server.allow_non_tls = value.as_bool(&name)?,
        "ocsp" => server.ocsp = super::ocsp::ocsp(value)?,
        "server_tags" => {
            let tags: Vec<&Value> = match &value.kind {
                ValueKind::Array(items) => items.iter().collect(),
                _ => vec![value],
            };
            for tag in tags {
                let ValueKind::String(text) = &tag.kind else {
                    return Err(
                        tag.error("error parsing tags: unsupported type, a string is expected")
                    );
                };
                let text = text.trim().to_lowercase();
                if !text.is_empty() && !server.server_tags.contains(&text) {
                    server.server_tags.push(text);
                }
            }
        }
        "disable_sublist_cache" | "no_sublist_cache" => {
            server.disable_sublist_cache = value.as_bool(&name)?;
        }
        "max_sub_tokens" | "max_subscription_tokens" => {
            let n = value.as_integer(&name)?;
            server.max_sub_tokens = match u8::try_from(n) {
                Ok(0) | Err(_) if n <= 0 => {
                    return Err(value.error(format!("{name} value can not be negative")));
                }
                Ok(n) => n,
                Err(_) => return Err(value.error(format!("{name} value is too big"))),
            };
        }
        "connect_error_reports" => {
            server.connect_error_reports = report_every(value, &name, 3600)?;
        }
        "reconnect_error_reports" => {
            server.reconnect_error_reports = report_every(value, &name, 1)?;
        }
        "client_advertise" => {
            let text = value.as_str(&name)?;
            crate::options::advertised(text, 4222).map_err(|err| {
                value.error(format!(
                    "Invalid ClientAdvertise value of {text}, err={err}"
                ))
            })?;
            server.client_advertise = Some(text.to_owned());
        }
        "server_name" => {
            let text = value.as_str(&name)?;
            if text.contains(' ') {
                // nats-server 2.9.10 starts with it; later releases refuse it.
                options.warnings.push(value.error(
                    "server_name contains spaces: accepted as nats-server 2.9.10 does, \
                     refused by later releases",
                ));
            }
            server.server_name = Some(text.to_owned());
        }
        // For these nats-server reads 0 as "the default".
        "max_payload" => set_size(&mut server.max_payload, value, &name)?,
        "max_control_line" => set_size(&mut server.max_control_line, value, &name)?,
        "max_pending" => set_size(&mut server.max_pending, value, &name)?,
        "max_connections" | "max_conn" => {
            if value.as_integer(&name)? < 0 {
                // nats-server: no limit at all.
                options.warnings.push(value.error(format!(
                    "{name} is negative: no limit on connections, as in nats-server"
                )));
                server.max_connections = usize::MAX;
            } else {
                set_size(&mut server.max_connections, value, &name)?;
            }
        }
        "max_traced_msg_len" => {
            // nats-server: 0 or less traces whole messages.
            server.max_traced_msg_len = usize::try_from(value.as_integer(&name)?).unwrap_or(0);
        }
        "trace_verbose" => {
            let on = value.as_bool(&name)?;
            (server.trace_verbose, log.trace) = (on, Some(on));
        }
        "syslog" => log.syslog = Some(value.as_bool(&name)?),
        "remote_syslog" => log.remote_syslog = Some(value.read(&name)?),
        // starling-auth reads it.
        "resolver" => {}
        "prof_port" => {
            value.as_integer(&name)?;
            options.warnings.push(value.error(
                "prof_port is ignored: it serves Go's profiler (pprof), which Starling, \
                 not a Go program, does not have; no port is opened",
            ));
        }
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
        // Starling's own: see ServerOptions::stall_timeout.
        "stall_timeout" => set_duration(
            &mut server.stall_timeout,
            value,
            &name,
            &mut options.warnings,
        )?,
        "http_port" | "monitor_port" => server.monitor.http_port = monitor_port(value, &name)?,
        "https_port" => server.monitor.https_port = monitor_port(value, &name)?,
        "http" | "https" => {
            let (host, port) = monitor_listen(value, &name)?;
            if host.is_some() {
                server.monitor.host = host;
            }
            if name == "http" {
                server.monitor.http_port = port;
            } else {
                server.monitor.https_port = port;
            }
        }
        "http_base_path" => server.monitor.base_path = value.read(&name)?,
        "tls" => match starling_ws::TlsOptions::from_value(value) {
            Ok(tls) => server.tls = Some(tls),
            Err(block_errors) => errors.extend(block_errors),
        },
        "leafnodes" | "leaf" => server.leaf = super::leaf::leaf_block(value, errors),
        "cluster" => {
            server.cluster = super::cluster::cluster_block(value, (errors, &mut options.warnings));
        }
        "websocket" | "ws" => match starling_ws::WebsocketOptions::from_value(value) {
            Ok(websocket) => server.websocket = websocket,
            Err(block_errors) => errors.extend(block_errors),
        },
        // Read as a whole by starling-auth (see options_from_config).
        "authorization"
        | "no_auth_user"
        | "accounts"
        | "operator"
        | "operators"
        | "root"
        | "roots"
        | "root_operators"
        | "root_operator"
        | "resolver_preload"
        | "mappings"
        | "maps"
        | "trusted"
        | "trusted_keys"
        | "account_resolver"
        | "accounts_resolver"
        | "resolver_tls"
        | "resolver_pinned_accounts" => {}
        // In operator mode starling-auth reads the key; otherwise it names
        // one of the `accounts`.
        "system_account" | "system" => server.system_account = Some(value.read(&name)?),
        "no_system_account" | "no_system" | "no_sys_acc" => {
            server.no_system_account = value.read(&name)?
        }
        "debug" => log.debug = Some(value.read(&name)?),
        "trace" => log.trace = Some(value.read(&name)?),
        "logtime" => log.logtime = Some(value.read(&name)?),
        "logfile" | "log_file" => log.logfile = Some(value.read(&name)?),
        "pidfile" | "pid_file" => log.pid_file = Some(value.read(&name)?),
        "ports_file_dir" => log.ports_file_dir = Some(value.read(&name)?),
        "logfile_size_limit" | "log_size_limit" => {
            let mut limit = 0usize;
            set_size(&mut limit, value, &name)?;
            log.logfile_size_limit = limit as u64;
        }
        other => {
            return Err(
                match NOT_YET.iter().find(|(names, _)| names.contains(&other)) {
                    Some((_, what)) => ConfError::not_supported_yet(key, what),
                    None => ConfError::unknown_field(key),
                },
            );
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

/// A monitoring port as configured: 0 off, -1 any free port.
fn monitor_port(value: &Value, option: &str) -> Result<i64, ConfError> {
    let number = value.as_integer(option)?;
    if number < -1 || number > i64::from(u16::MAX) {
        return Err(value.error(format!(
            "{option}: {number} is not a port (0-65535, or -1 for any)"
        )));
    }
    Ok(number)
}

/// `http`/`https`: a port, or `"host:port"` (nats-server's `parseListen`).
fn monitor_listen(value: &Value, option: &str) -> Result<(Option<String>, i64), ConfError> {
    match &value.kind {
        ValueKind::Integer(_) => Ok((None, monitor_port(value, option)?)),
        ValueKind::String(text) => {
            let parsed = text.rsplit_once(':').and_then(|(host, port)| {
                let port = port
                    .parse::<i64>()
                    .ok()
                    .filter(|p| (-1..=65535).contains(p))?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                Some(((!host.is_empty()).then(|| host.to_owned()), port))
            });
            parsed.ok_or_else(|| value.error(format!("could not parse address string {text:?}")))
        }
        _ => Err(value.error(format!(
            "{option}: expected a port or \"host:port\", got {}",
            value.kind_name()
        ))),
    }
}

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
/// An error report interval: a count of attempts, 0 for the default.
fn report_every(value: &Value, option: &str, default: u32) -> Result<u32, ConfError> {
    let n = value.as_integer(option)?;
    match u32::try_from(n) {
        Ok(0) => Ok(default),
        Ok(n) => Ok(n),
        Err(_) => Err(value.error(format!("{option}: expected a number of attempts, not {n}"))),
    }
}

/// A lame-duck setting: a duration string (`"30s"`, `"2m"`).
fn lame_duck(value: &Value, option: &str) -> Result<std::time::Duration, ConfError> {
    if !matches!(value.kind, ValueKind::String(_)) {
        return Err(value.error(format!(
            "error parsing {option}: expected a duration string such as \"30s\""
        )));
    }
    value
        .as_duration(option)
        .map_err(|e| value.error(format!("error parsing {option}: {e}")))
}

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
