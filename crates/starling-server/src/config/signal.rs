//! `-sl`/`--signal <command>[=<pid or pid file>]`: sends a running server
//! a signal, as nats-server's `ProcessSignal` does: `stop` (SIGKILL),
//! `quit` (SIGINT), `term` (SIGTERM), `reopen` (SIGUSR1, the log file),
//! `reload` (SIGHUP), `ldm` (SIGUSR2, lame-duck mode). Without a pid, the
//! one process running this executable (by name) is signalled.

use rustix::process::{Pid, Signal, kill_process};

/// Sends `command` (with an optional `=<pid>` or `=<pid file>`) to the
/// server's process.
///
/// # Errors
///
/// nats-server's texts: an unknown command, a bad pid, no process or
/// several, or what the system said.
pub fn send(signal: &str) -> Result<(), String> {
    let mut parts = signal.split('=');
    let command = parts.next().unwrap_or_default();
    let pid = parts.next();
    let rest: Vec<&str> = parts.collect();
    if !rest.is_empty() {
        return Err(format!("invalid signal parameters: {rest:?}"));
    }
    let signal = match command {
        "stop" => Signal::KILL,
        "quit" => Signal::INT,
        "term" => Signal::TERM,
        "reopen" => Signal::USR1,
        "reload" => Signal::HUP,
        "ldm" => Signal::USR2,
        other => return Err(format!("unknown signal {other:?}")),
    };
    let pid = match pid {
        // A pid file's contents, else the text itself.
        Some(text) => {
            let text = std::fs::read_to_string(text).unwrap_or_else(|_| text.to_owned());
            text.trim()
                .parse::<i32>()
                .ok()
                .and_then(Pid::from_raw)
                .ok_or_else(|| format!("invalid pid: {text}"))?
        }
        None => running()?,
    };
    kill_process(pid, signal).map_err(|e| e.to_string())
}

/// The one other process running this executable (by the name the
/// kernel keeps, as `pgrep` finds it).
fn running() -> Result<Pid, String> {
    let name = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "starling".to_owned());
    // The kernel keeps the first 15 bytes of the name.
    let comm: String = name.chars().take(15).collect();
    let me = std::process::id();
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .map_err(|_| "unable to resolve pid, try providing one".to_owned())?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|text| text.trim_end() == comm)
        })
        .collect();
    pids.sort_unstable();
    match pids.as_slice() {
        [] => Err(format!("no {name} processes running")),
        [pid] => i32::try_from(*pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(|| format!("invalid pid: {pid}")),
        many => {
            let list: Vec<String> = many.iter().map(u32::to_string).collect();
            Err(format!(
                "multiple {name} processes running:\n{}",
                list.join("\n")
            ))
        }
    }
}
