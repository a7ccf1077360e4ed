//! nats-server's command-line flags, parsed as Go's `flag` package parses
//! them (`-p 4222`, `-p=4222`, `--port 4222` and `-port 4222` are one flag,
//! `-DV` is one flag): what the `starling` binary reads.

use std::path::PathBuf;

use super::{ClientFlags, ClusterFlags};
use crate::ConfigOptions;

/// The `-h` text.
pub const USAGE: &str = "\
Usage: starling [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222; -1 picks a free one)
    -n, --name, --server_name <name> Server name (default: the server id)
        --client_advertise <string>  Client URL to advertise to other servers
    -P, --pid <file>                 File to store the process id
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports)

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification
    -c, --config <file>              Configuration file
    -m, --http_port <port>           Use port for http monitoring
    -ms, --https_port <port>         Use port for https monitoring
    -t                               Test configuration and exit

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries

Logging Options:
    -l, --log <file>                 File to redirect log output
        --log_size_limit <bytes>     Logfile size limit being auto-rotated
    -T, --logtime                    Timestamp log entries (default: true)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace
    -VV                              Verbose trace (traces the system account as well)
    -DVV                             Debug and verbose trace
    -s, --syslog                     Log to syslog
    -r, --remote_syslog <addr>       Syslog server addr (udp://127.0.0.1:514)
        --max_traced_msg_len <len>   Maximum printable length for traced messages (0: unlimited)

JetStream Options:
    -js, --jetstream                 Refused: JetStream is not supported
    -sd, --store_dir <dir>           Refused: JetStream is not supported

Signal Options:
    -sl, --signal <signal>[=<pid>]   Send signal to the server process (ldm, stop, quit, term, reopen, reload);
                                     <pid> can be a process id or a pid file

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Run (or check, with `-t`) with these flags.
    Run(Box<Flags>),
    /// `-h`.
    Help,
    /// `-v`.
    Version,
    /// `-sl`/`--signal`: send a running server a signal (see
    /// [`super::signal::send`]), then exit.
    Signal(String),
}

/// Everything a run needs from the command line. Options left `None` keep
/// the configuration file's value (or the default); set ones override it.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `-c`: the configuration file.
    pub config: Option<PathBuf>,
    /// `-t`: check the configuration and exit.
    pub check: bool,
    /// `-a`.
    pub host: Option<String>,
    /// `-p` (-1 made 0: any free port).
    pub port: Option<u16>,
    /// `-n`.
    pub name: Option<String>,
    /// `--client_advertise`.
    pub client_advertise: Option<String>,
    /// `-m`.
    pub http_port: Option<i64>,
    /// `-ms`.
    pub https_port: Option<i64>,
    /// `-D`.
    pub debug: Option<bool>,
    /// `-V`.
    pub trace: Option<bool>,
    /// `-T`.
    pub logtime: Option<bool>,
    /// `-l`.
    pub log_file: Option<PathBuf>,
    /// `-P` (`--pid`): the pid file.
    pub pid_file: Option<PathBuf>,
    /// `--ports_file_dir`.
    pub ports_file_dir: Option<PathBuf>,
    /// `--log_size_limit`.
    pub log_size_limit: Option<u64>,
    /// `-s` (`--syslog`).
    pub syslog: Option<bool>,
    /// `-r` (`--remote_syslog`).
    pub remote_syslog: Option<String>,
    /// `-VV` (and `-DVV`): trace the system account's client too.
    pub trace_verbose: Option<bool>,
    /// `--max_traced_msg_len`.
    pub max_traced_msg_len: Option<usize>,
    /// The client-port flags (credentials, TLS).
    pub client: ClientFlags,
    /// The cluster flags.
    pub cluster: ClusterFlags,
}

impl Flags {
    /// The configuration file (if any, with its tree, to place errors in
    /// it) with the flags laid over it, validated: what a run starts with.
    ///
    /// # Errors
    ///
    /// Every problem, each as a line to print.
    pub fn load(&self) -> Result<(ConfigOptions, Option<starling_conf::Value>), Vec<String>> {
        let (mut options, root) = match &self.config {
            Some(path) => {
                let (options, root) = super::read_config_file(path)?;
                (options, Some(root))
            }
            None => (ConfigOptions::default(), None),
        };
        self.apply(&mut options).map_err(|e| vec![e])?;
        options
            .server
            .validate()
            .map_err(|e| vec![super::describe(&e, root.as_ref())])?;
        Ok((options, root))
    }

    /// What a reload runs (blocking: it reads the file): the
    /// configuration file again with the same flags laid over it.
    ///
    /// # Errors
    ///
    /// nats-server's text without a file; every problem of the file.
    pub fn reload(&self) -> Result<ConfigOptions, String> {
        if self.config.is_none() {
            return Err(
                "can only reload config when a file is provided using -c or --config".into(),
            );
        }
        self.load()
            .map(|(options, _)| options)
            .map_err(|errors| errors.join("; "))
    }

    /// Lays the flags that were given over the file's options.
    ///
    /// # Errors
    ///
    /// What the cluster flags refuse ([`ClusterFlags::apply`]).
    pub fn apply(&self, options: &mut ConfigOptions) -> Result<(), String> {
        let (server, log) = (&mut options.server, &mut options.log);
        if let Some(host) = &self.host {
            server.host.clone_from(host);
        }
        if let Some(port) = self.port {
            server.port = port;
        }
        if let Some(name) = &self.name {
            server.server_name = Some(name.clone());
        }
        if let Some(advertise) = &self.client_advertise {
            crate::options::advertised(advertise, server.port).map_err(|err| {
                format!("Invalid ClientAdvertise value of {advertise}, err={err}")
            })?;
            server.client_advertise = Some(advertise.clone());
        }
        server.monitor.http_port = self.http_port.unwrap_or(server.monitor.http_port);
        server.monitor.https_port = self.https_port.unwrap_or(server.monitor.https_port);
        log.debug = self.debug.or(log.debug);
        log.trace = self.trace.or(log.trace);
        log.logtime = self.logtime.or(log.logtime);
        if let Some(file) = &self.log_file {
            log.logfile = Some(file.clone());
        }
        if let Some(file) = &self.pid_file {
            log.pid_file = Some(file.clone());
        }
        if let Some(dir) = &self.ports_file_dir {
            log.ports_file_dir = Some(dir.clone());
        }
        if let Some(limit) = self.log_size_limit {
            log.logfile_size_limit = limit;
        }
        log.syslog = self.syslog.or(log.syslog);
        if let Some(url) = &self.remote_syslog {
            log.remote_syslog = Some(url.clone());
        }
        if let Some(verbose) = self.trace_verbose {
            (server.trace_verbose, log.trace) = (verbose, Some(verbose));
        }
        server.max_traced_msg_len = self.max_traced_msg_len.unwrap_or(server.max_traced_msg_len);
        self.client.apply(server)?;
        self.cluster.apply(server)
    }
}

/// Parses the arguments after the program name.
///
/// # Errors
///
/// nats-server's texts for an unknown flag, a missing or bad value.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut flags = Flags::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (flag, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("flag needs an argument: -{name}"))
        };
        // -1 picks a free port, 0 is off.
        let monitor_port = |text: String| match text.parse::<i64>() {
            Ok(port) if (-1..=65535).contains(&port) => Ok(port),
            _ => Err(format!(
                "invalid value {text:?} for flag -{name}: parse error"
            )),
        };
        let boolean = |inline: &Option<String>| match inline.as_deref() {
            None | Some("true" | "1" | "t" | "T" | "TRUE" | "True") => Ok(true),
            Some("false" | "0" | "f" | "F" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(format!("invalid boolean value {other:?} for -{name}")),
        };
        match name {
            "h" | "help" => return Ok(Command::Help),
            "v" | "version" => return Ok(Command::Version),
            "a" | "addr" | "net" => flags.host = Some(value()?),
            "p" | "port" => flags.port = Some(parse_port(&value()?)?),
            "n" | "name" | "server_name" => flags.name = Some(value()?),
            "client_advertise" => flags.client_advertise = Some(value()?),
            "m" | "http_port" => flags.http_port = Some(monitor_port(value()?)?),
            "ms" | "https_port" => flags.https_port = Some(monitor_port(value()?)?),
            "c" | "config" => flags.config = Some(PathBuf::from(value()?)),
            "t" => flags.check = boolean(&inline)?,
            "l" | "log" => flags.log_file = Some(PathBuf::from(value()?)),
            "T" | "logtime" => flags.logtime = Some(boolean(&inline)?),
            "D" | "debug" => flags.debug = Some(boolean(&inline)?),
            "V" | "trace" => flags.trace = Some(boolean(&inline)?),
            "DV" => (flags.debug, flags.trace) = (Some(true), Some(true)),
            "VV" => flags.trace_verbose = Some(boolean(&inline)?),
            "DVV" => {
                let on = boolean(&inline)?;
                (flags.debug, flags.trace_verbose) = (Some(on), Some(on));
            }
            "s" | "syslog" => flags.syslog = Some(boolean(&inline)?),
            "r" | "remote_syslog" => flags.remote_syslog = Some(value()?),
            "max_traced_msg_len" => {
                let text = value()?;
                // Go's IntVar: a negative length means no limit too.
                let len = text
                    .parse::<i64>()
                    .map_err(|_| format!("invalid value {text:?} for flag -{name}: parse error"))?;
                flags.max_traced_msg_len = Some(usize::try_from(len).unwrap_or(0));
            }
            "sl" | "signal" => return Ok(Command::Signal(value()?)),
            "js" | "jetstream" | "sd" | "store_dir" => {
                return Err(format!(
                    "-{name}: JetStream is not supported by Starling (a core NATS broker: no \
                     streams, consumers or key-value stores)"
                ));
            }
            "P" | "pid" => flags.pid_file = Some(PathBuf::from(value()?)),
            "ports_file_dir" => flags.ports_file_dir = Some(PathBuf::from(value()?)),
            "log_size_limit" => {
                let text = value()?;
                let limit = text
                    .parse()
                    .map_err(|_| format!("invalid value {text:?} for flag -{name}: parse error"))?;
                flags.log_size_limit = Some(limit);
            }
            _ => {
                let on = boolean(&inline)?;
                if !flags.client.take(name, &mut value, on)?
                    && !flags.cluster.take(name, &mut value, on)?
                {
                    return Err(format!("flag provided but not defined: -{name}"));
                }
            }
        }
    }
    Ok(Command::Run(Box::new(flags)))
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<i32>() {
        Ok(-1) => Ok(0),
        Ok(0) => Ok(4222),
        Ok(port) => u16::try_from(port).map_err(|_| format!("invalid port {text:?}")),
        Err(_) => Err(format!("invalid value {text:?} for flag -p: parse error")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Flags, String> {
        match parse(args.iter().map(|s| (*s).to_owned()))? {
            Command::Run(flags) => Ok(*flags),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn go_style_flags() {
        let f = run(&[
            "-p",
            "5222",
            "--addr=127.0.0.1",
            "-name",
            "x",
            "-DV",
            "-c",
            "a.conf",
            "-t",
        ])
        .unwrap();
        assert_eq!((f.port, f.host.as_deref()), (Some(5222), Some("127.0.0.1")));
        assert_eq!(f.name.as_deref(), Some("x"));
        assert_eq!((f.debug, f.trace, f.check), (Some(true), Some(true), true));
        assert_eq!(f.config.as_deref(), Some(std::path::Path::new("a.conf")));
        assert_eq!(run(&["-p=-1"]).unwrap().port, Some(0));
        assert_eq!(run(&["-T=false"]).unwrap().logtime, Some(false));
    }

    #[test]
    fn flags_override_the_file() {
        let mut options = ConfigOptions::default();
        options.server.port = 1000;
        options.log.debug = Some(true);
        run(&["-p", "2000", "-a", "127.0.0.1"])
            .unwrap()
            .apply(&mut options)
            .unwrap();
        assert_eq!(
            (options.server.port, options.server.host.as_str()),
            (2000, "127.0.0.1")
        );
        assert_eq!(
            options.log.debug,
            Some(true),
            "a flag not given keeps the file's value"
        );
    }

    #[test]
    fn refusals() {
        assert!(run(&["-p"]).unwrap_err().contains("needs an argument"));
        assert!(run(&["-p", "x"]).is_err());
        assert!(run(&["-p", "70000"]).is_err());
        assert!(run(&["--bogus"]).unwrap_err().contains("not defined"));
        assert!(
            run(&["-js"])
                .unwrap_err()
                .contains("JetStream is not supported")
        );
        assert!(matches!(parse(["-h".to_owned()]), Ok(Command::Help)));
        assert!(matches!(
            parse(["--version".to_owned()]),
            Ok(Command::Version)
        ));
    }
}
