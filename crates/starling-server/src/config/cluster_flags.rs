//! nats-server's cluster flags (`cluster.md` §1.4): `--routes`,
//! `--cluster` (`--cluster_listen`), `--cluster_name`,
//! `--cluster_advertise`, `--no_advertise`, `--connect_retries`. They
//! override the file's `cluster` block; `--routes` replaces its routes.

use crate::{ClusterOptions, ServerOptions};

/// The cluster flags given (`None`: keep the file's value).
#[derive(Debug, Clone, Default)]
pub struct ClusterFlags {
    /// `--cluster` (`--cluster_listen`).
    pub listen: Option<String>,
    /// `--routes`, comma-separated.
    pub routes: Option<String>,
    /// `--cluster_name`.
    pub name: Option<String>,
    /// `--cluster_advertise`.
    pub advertise: Option<String>,
    /// `--no_advertise`.
    pub no_advertise: Option<bool>,
    /// `--connect_retries`.
    pub connect_retries: Option<u32>,
}

impl ClusterFlags {
    /// Takes flag `name` with its value (`value` is asked for only by
    /// flags that have one); `Ok(false)` when it is not a cluster flag.
    ///
    /// # Errors
    ///
    /// A missing or unparsable value.
    pub fn take(
        &mut self,
        name: &str,
        value: &mut dyn FnMut() -> Result<String, String>,
        boolean: bool,
    ) -> Result<bool, String> {
        match name {
            "routes" => self.routes = Some(value()?),
            "cluster" | "cluster_listen" => self.listen = Some(value()?),
            "cluster_name" => self.name = Some(value()?),
            "cluster_advertise" => self.advertise = Some(value()?),
            "no_advertise" => self.no_advertise = Some(boolean),
            "connect_retries" => {
                let text = value()?;
                let retries = text
                    .parse()
                    .map_err(|_| format!("invalid value {text:?} for flag -{name}: parse error"))?;
                self.connect_retries = Some(retries);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Lays the flags over `server`'s cluster options.
    ///
    /// # Errors
    ///
    /// nats-server's refusals: routes without a cluster port, a bad
    /// `--cluster` URL.
    pub fn apply(&self, server: &mut ServerOptions) -> Result<(), String> {
        if let Some(listen) = &self.listen {
            if listen.is_empty() {
                server.cluster = None;
            } else {
                let cluster = server.cluster.get_or_insert_with(ClusterOptions::default);
                listen_url(cluster, listen)?;
            }
        }
        let any = self.name.is_some()
            || self.advertise.is_some()
            || self.no_advertise.is_some()
            || self.connect_retries.is_some();
        if let Some(routes) = &self.routes {
            let Some(cluster) = &mut server.cluster else {
                return Err("solicited routes require cluster capabilities, e.g. --cluster".into());
            };
            cluster.routes = routes
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(cluster) = &mut server.cluster {
            if let Some(name) = &self.name {
                cluster.name = Some(name.clone());
            }
            if let Some(advertise) = &self.advertise {
                cluster.advertise = Some(advertise.clone());
            }
            if let Some(no_advertise) = self.no_advertise {
                cluster.no_advertise = no_advertise;
            }
            if let Some(retries) = self.connect_retries {
                cluster.connect_retries = retries;
            }
        } else if any {
            // As nats-server: these mean nothing without a cluster port.
            return Ok(());
        }
        Ok(())
    }
}

/// `--cluster nats://[user:pass@]host:port`: the listener, and the
/// cluster's authorization when the URL has a user.
fn listen_url(cluster: &mut ClusterOptions, url: &str) -> Result<(), String> {
    let bad = || format!("invalid value {url:?} for flag -cluster: parse error");
    let (_, rest) = url.split_once("://").ok_or_else(bad)?;
    let rest = rest.trim_end_matches('/');
    let (user, address) = match rest.rsplit_once('@') {
        Some((userinfo, address)) => (Some(userinfo), address),
        None => (None, rest),
    };
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    let port: i64 = port.parse().map_err(|_| bad())?;
    if !(-1..=65535).contains(&port) {
        return Err(bad());
    }
    cluster.host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    cluster.port = port;
    if let Some(userinfo) = user {
        let Some((user, password)) = userinfo.split_once(':').filter(|(_, p)| !p.is_empty()) else {
            return Err("expected cluster password to be set".into());
        };
        cluster.user = Some((user.to_owned(), starling_auth::Secret::new(password)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(pairs: &[(&str, &str)]) -> ClusterFlags {
        let mut flags = ClusterFlags::default();
        for (name, value) in pairs {
            let mut give = || Ok((*value).to_owned());
            assert!(flags.take(name, &mut give, true).expect("taken"));
        }
        flags
    }

    #[test]
    fn cluster_flags_as_nats_server_reads_them() {
        let mut server = ServerOptions::default();
        flags(&[
            ("cluster", "nats://ruser:pw@127.0.0.1:-1"),
            ("routes", "nats://a:6222, nats://b:6222"),
            ("cluster_name", "C9"),
            ("connect_retries", "3"),
        ])
        .apply(&mut server)
        .expect("applies");
        let cluster = server.cluster.expect("on");
        assert_eq!((cluster.host.as_str(), cluster.port), ("127.0.0.1", -1));
        assert_eq!(cluster.routes, ["nats://a:6222", "nats://b:6222"]);
        assert_eq!(
            (cluster.name.as_deref(), cluster.connect_retries),
            (Some("C9"), 3)
        );
        assert_eq!(cluster.user.map(|(u, _)| u).as_deref(), Some("ruser"));
        let mut server = ServerOptions::default();
        let err = flags(&[("routes", "nats://a:6222")])
            .apply(&mut server)
            .expect_err("refused");
        assert!(err.contains("require cluster capabilities"), "{err}");
        let err = flags(&[("cluster", "nats://u@h:1")])
            .apply(&mut server)
            .expect_err("refused");
        assert_eq!(err, "expected cluster password to be set");
    }
}
