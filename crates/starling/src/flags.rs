//! nats-server's command-line flags, parsed as Go's `flag` package parses them.

use std::path::PathBuf;

use starling_server::ServerOptions;

pub(crate) const USAGE: &str = "\
Usage: starling [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222; -1 picks a free one)
    -n, --name, --server_name <name> Server name (default: the server id)
    -c, --config <file>              Configuration file (not supported yet)
    -t                               Test configuration and exit (not supported yet)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
";

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Command {
    Run(Flags),
    Help,
    Version,
}

/// Everything a run needs from the command line.
#[derive(Debug)]
pub(crate) struct Flags {
    pub(crate) options: ServerOptions,
    pub(crate) debug: bool,
    pub(crate) trace: bool,
    pub(crate) logtime: bool,
    pub(crate) log_file: Option<PathBuf>,
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut flags = Flags {
        options: ServerOptions::default(),
        debug: false,
        trace: false,
        logtime: true,
        log_file: None,
    };
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
        let boolean = |inline: &Option<String>| match inline.as_deref() {
            None | Some("true" | "1" | "t" | "T" | "TRUE" | "True") => Ok(true),
            Some("false" | "0" | "f" | "F" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(format!("invalid boolean value {other:?} for -{name}")),
        };
        match name {
            "h" | "help" => return Ok(Command::Help),
            "v" | "version" => return Ok(Command::Version),
            "a" | "addr" | "net" => flags.options.host = value()?,
            "p" | "port" => flags.options.port = parse_port(&value()?)?,
            "n" | "name" | "server_name" => flags.options.server_name = Some(value()?),
            "c" | "config" => {
                let file = value()?;
                return Err(format!(
                    "configuration files are not supported yet (-c {file})"
                ));
            }
            "t" => return Err("testing a configuration (-t) is not supported yet".to_owned()),
            "l" | "log" => flags.log_file = Some(PathBuf::from(value()?)),
            "T" | "logtime" => flags.logtime = boolean(&inline)?,
            "D" | "debug" => flags.debug = boolean(&inline)?,
            "V" | "trace" => flags.trace = boolean(&inline)?,
            "DV" => (flags.debug, flags.trace) = (true, true),
            _ => return Err(format!("flag provided but not defined: -{name}")),
        }
    }
    Ok(Command::Run(flags))
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<i32>() {
        Ok(-1) => Ok(0),
        Ok(port) => u16::try_from(port).map_err(|_| format!("invalid port {text:?}")),
        Err(_) => Err(format!("invalid value {text:?} for flag -p: parse error")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Flags, String> {
        match parse(args.iter().map(|s| (*s).to_owned()))? {
            Command::Run(flags) => Ok(flags),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn go_style_flags() {
        let f = run(&["-p", "5222", "--addr=127.0.0.1", "-name", "x", "-DV"]).unwrap();
        assert_eq!(
            (f.options.port, f.options.host.as_str()),
            (5222, "127.0.0.1")
        );
        assert_eq!(f.options.server_name.as_deref(), Some("x"));
        assert!(f.debug && f.trace);
        assert_eq!(run(&["-p=-1"]).unwrap().options.port, 0);
        assert!(!run(&["-T=false"]).unwrap().logtime);
    }

    #[test]
    fn refusals() {
        assert!(run(&["-p"]).unwrap_err().contains("needs an argument"));
        assert!(run(&["-p", "x"]).is_err());
        assert!(run(&["-p", "70000"]).is_err());
        assert!(run(&["--bogus"]).unwrap_err().contains("not defined"));
        assert!(
            run(&["-c", "x.conf"])
                .unwrap_err()
                .contains("not supported yet")
        );
        assert!(matches!(parse(["-h".to_owned()]), Ok(Command::Help)));
        assert!(matches!(
            parse(["--version".to_owned()]),
            Ok(Command::Version)
        ));
    }
}
