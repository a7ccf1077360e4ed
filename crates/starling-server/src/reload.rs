//! Configuration reload (SIGHUP, `--signal reload`, [`Server::reload`]),
//! with nats-server's rule: what can change while running is applied,
//! and anything else that changed refuses the whole reload, naming the
//! option, with the running configuration kept.
//!
//! What a reload applies here, as nats-server 2.9.10 does:
//! - authentication (`authorization` and its users, passwords, tokens,
//!   permissions and timeout, `no_auth_user`, the users of `accounts`, the
//!   websocket block's credentials), checked again for every connected
//!   client by its own task (see `client/reload.rs`);
//! - the accounts: new ones, their mappings, `limits`, exports and
//!   imports (`broker/reconfigure.rs`);
//! - `max_payload` and `max_control_line` (every client's parser takes
//!   them), `max_connections` (clients closed to fall within it),
//!   `ping_interval`, `ping_max`, `write_deadline`, `client_advertise`,
//!   `server_tags`, `trace_verbose`, `max_traced_msg_len`,
//!   `connect_error_reports` and `reconnect_error_reports`;
//! - the cluster's `routes` (a route taken out is closed and no longer
//!   dialled, a new one dialled), its `authorization`, `connect_retries`,
//!   `no_advertise` and `tls` (for the routes that come next), its `name`
//!   and `permissions` (every route made again under them);
//! - the certificates and TLS settings of the client port, of the
//!   websocket listener (beyond nats-server, which cannot reload the
//!   websocket block), of the leafnode port and of the leaf remotes, for
//!   the connections that come next.
//!
//! The binary applies the logging options itself.

use std::sync::Arc;

use starling_auth::AuthConfig;

use crate::options::ServerOptions;
use crate::server::Server;
use crate::tls::load_tls;
use crate::{ServerError, TlsError};

/// Why a reload was refused; the running configuration is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// An option that cannot change while running changed.
    #[error("config reload not supported for {option}: old={old}, new={new}")]
    NotSupported {
        /// The option (`port`, `cluster`, `accounts`...).
        option: String,
        /// Its running value.
        old: String,
        /// Its value in the new configuration.
        new: String,
    },
    /// The new configuration does not hold together.
    #[error(transparent)]
    Invalid(ServerError),
    /// A new certificate or key could not be used.
    #[error("{option}: {source}")]
    Tls {
        /// The block (`tls`, `websocket.tls`).
        option: &'static str,
        /// What was wrong with it.
        source: TlsError,
    },
}

impl Server {
    /// Applies `options` where they differ from the running ones, or
    /// refuses them all (see the module's documentation). The caller says
    /// `Reloaded server configuration` once it has applied its own part
    /// (the binary: the log level).
    ///
    /// # Errors
    ///
    /// The first option that cannot be reloaded, or new TLS files that
    /// cannot be used; nothing is applied then.
    pub async fn reload(&self, mut options: ServerOptions) -> Result<(), ReloadError> {
        options.validate().map_err(ReloadError::Invalid)?;
        let broker = self.broker();
        // Accounts fetched or pushed while running are not in the file
        // (a memory resolver's are all in it).
        let fetched = options
            .auth
            .operator
            .as_ref()
            .is_some_and(|o| !matches!(o.resolver, starling_auth::Resolver::Memory));
        if fetched {
            options.auth.keep_accounts_of(broker.auth().config());
        }
        let old = broker.live.options();
        if let Some((option, old, new)) = frozen_difference(&old, &options) {
            return Err(ReloadError::NotSupported { option, old, new });
        }
        // Certificate files are read away from the async workers.
        let (fresh, running) = (options.clone(), Arc::clone(&old));
        let loaded = tokio::task::spawn_blocking(move || {
            let leafs = load_peer_tls(&running, &fresh)?;
            load_tls(&fresh).map(|tls| (tls, leafs))
        })
        .await
        .unwrap_or_else(|_| {
            Err(ServerError::InvalidOption {
                option: "tls",
                reason: "reading the TLS files failed".into(),
            })
        });
        let ((client, websocket), (leaf_port, remotes, route)) =
            loaded.map_err(|error| match error {
                ServerError::Tls { option, source } => ReloadError::Tls { option, source },
                other => ReloadError::Invalid(other),
            })?;
        if let (Some(cluster), Some(route)) = (&broker.cluster, route) {
            cluster.set_tls(route);
            tracing::info!("Reloaded: cluster tls");
        }
        if let (Some(slot), Some(acceptor)) = (&self.tls_slots.leaf, leaf_port) {
            slot.replace(acceptor);
            tracing::info!("Reloaded: leafnode tls");
        }
        for (index, connector, timeout) in remotes {
            if let Some(dialer) = self.tls_slots.dialers.get(index) {
                dialer.replace_tls(connector, timeout);
                tracing::info!("Reloaded: leafnode remote {} tls", index + 1);
            }
        }
        let websocket_tls = |o: &ServerOptions| o.websocket.as_ref().and_then(|w| w.tls.clone());
        if old.tls != options.tls
            && let (Some(slot), Some(acceptor)) = (&self.tls_slots.client, client)
        {
            slot.replace(acceptor);
            tracing::info!("Reloaded: tls");
        }
        if websocket_tls(&old) != websocket_tls(&options)
            && let (Some(slot), Some(acceptor)) = (&self.tls_slots.websocket, websocket)
        {
            slot.replace(acceptor);
            tracing::info!("Reloaded: websocket tls");
        }
        if accounts_changed(&old.auth, &options.auth) {
            broker.reload_accounts(&options);
            tracing::info!("Reloaded: accounts");
        } else if old.auth != options.auth || old.tls != options.tls {
            broker.reload_auth(&options);
            tracing::info!("Reloaded: authorization");
        }
        crate::route::reload::reload(broker, options.cluster.as_ref());
        broker.reload_settings(&old, &options);
        Ok(())
    }
}

/// The leafnode port's TLS, the remotes' TLS clients and the cluster's
/// TLS that changed (nats-server takes them on a reload), built. Blocking.
type PeerTls = (
    Option<tokio_rustls::TlsAcceptor>,
    Vec<(usize, tokio_rustls::TlsConnector, std::time::Duration)>,
    Option<crate::broker::RouteTls>,
);

fn load_peer_tls(old: &ServerOptions, new: &ServerOptions) -> Result<PeerTls, ServerError> {
    let failed = |option| move |source| ServerError::Tls { option, source };
    // The cluster's TLS too (nats-server's clusterOption takes it).
    let route = match (&old.cluster, &new.cluster) {
        (Some(was), Some(now)) if now.tls.is_some() && was.tls != now.tls => now
            .tls
            .as_ref()
            .map(crate::tls::route)
            .transpose()
            .map_err(failed("cluster.tls"))?,
        _ => None,
    };
    let (Some(old), Some(new)) = (&old.leaf, &new.leaf) else {
        return Ok((None, Vec::new(), route));
    };
    let port = match &new.tls {
        Some(tls) if old.tls.as_ref() != Some(tls) => {
            Some(crate::tls::acceptor(tls).map_err(failed("leafnodes.tls"))?)
        }
        _ => None,
    };
    let mut remotes = Vec::new();
    for (index, (was, now)) in old.remotes.iter().zip(&new.remotes).enumerate() {
        if let Some(tls) = &now.tls
            && was.tls.as_ref() != Some(tls)
        {
            let connector = crate::tls::connector(tls).map_err(failed("leafnodes.remotes.tls"))?;
            remotes.push((index, connector, tls.timeout));
        }
    }
    Ok((port, remotes, route))
}

/// Whether the accounts themselves changed (which, their mappings,
/// limits, exports, imports), not only who logs in to them.
fn accounts_changed(old: &AuthConfig, new: &AuthConfig) -> bool {
    old.accounts != new.accounts
        || old.exports != new.exports
        || old.imports != new.imports
        || old.mappings != new.mappings
        || old.account_limits != new.account_limits
}

/// The first option other than the reloadable ones that differs, with
/// its old and new values (as `Debug` prints them: secrets are redacted).
fn frozen_difference(old: &ServerOptions, new: &ServerOptions) -> Option<(String, String, String)> {
    let mut candidate = new.clone();
    // What a reload may change is taken from the running options, so
    // only the rest is compared.
    candidate.max_payload = old.max_payload;
    candidate.max_control_line = old.max_control_line;
    candidate.max_connections = old.max_connections;
    candidate.ping_interval = old.ping_interval;
    candidate.ping_max = old.ping_max;
    candidate.write_deadline = old.write_deadline;
    candidate.max_traced_msg_len = old.max_traced_msg_len;
    candidate.trace_verbose = old.trace_verbose;
    candidate.connect_error_reports = old.connect_error_reports;
    candidate.reconnect_error_reports = old.reconnect_error_reports;
    candidate.client_advertise.clone_from(&old.client_advertise);
    // Checked again with the new certificates by `load_tls`.
    candidate.ocsp = old.ocsp;
    candidate.server_tags.clone_from(&old.server_tags);
    if let (Some(theirs), Some(ours)) = (&old.cluster, &mut candidate.cluster) {
        ours.routes.clone_from(&theirs.routes);
        ours.user.clone_from(&theirs.user);
        ours.auth_timeout = theirs.auth_timeout;
        ours.connect_retries = theirs.connect_retries;
        ours.no_advertise = theirs.no_advertise;
        ours.permissions.clone_from(&theirs.permissions);
        // A name taken out keeps the running one, as nats-server.
        ours.name.clone_from(&theirs.name);
        if theirs.tls.is_some() && ours.tls.is_some() {
            ours.tls.clone_from(&theirs.tls);
        }
    }
    if let (Some(theirs), Some(ours)) = (&old.auth.operator, &mut candidate.auth.operator) {
        ours.resolver_tls.clone_from(&theirs.resolver_tls);
    }
    let auth = &mut candidate.auth;
    auth.accounts.clone_from(&old.auth.accounts);
    auth.exports.clone_from(&old.auth.exports);
    auth.imports.clone_from(&old.auth.imports);
    auth.mappings.clone_from(&old.auth.mappings);
    auth.account_limits.clone_from(&old.auth.account_limits);
    auth.account_nkeys.clone_from(&old.auth.account_nkeys);
    auth.username.clone_from(&old.auth.username);
    auth.password.clone_from(&old.auth.password);
    auth.token.clone_from(&old.auth.token);
    auth.users.clone_from(&old.auth.users);
    auth.timeout = old.auth.timeout;
    auth.permissions.clone_from(&old.auth.permissions);
    auth.no_auth_user.clone_from(&old.auth.no_auth_user);
    let tls_map = auth.websocket.tls_map;
    auth.websocket = starling_auth::WebsocketAuth {
        tls_map,
        ..old.auth.websocket.clone()
    };
    // A directory or URL resolver's accounts come from its directory or
    // its account server while running (claim updates, fetches): they are
    // not the file's.
    if let (Some(theirs), Some(ours)) = (&old.auth.operator, &mut candidate.auth.operator)
        && !matches!(ours.resolver, starling_auth::Resolver::Memory)
    {
        ours.accounts.clone_from(&theirs.accounts);
        candidate.auth.accounts.clone_from(&old.auth.accounts);
        candidate.auth.exports.clone_from(&old.auth.exports);
        candidate.auth.imports.clone_from(&old.auth.imports);
    }
    if old.tls.is_some() && candidate.tls.is_some() {
        candidate.tls.clone_from(&old.tls);
    }
    // The leafnode port's and the remotes' TLS settings reload (turning
    // TLS on or off does not).
    if let (Some(theirs), Some(ours)) = (&old.leaf, &mut candidate.leaf) {
        if theirs.tls.is_some() && ours.tls.is_some() {
            ours.tls.clone_from(&theirs.tls);
        }
        // The same users in another order are the same (nats-server's
        // check compares them by name).
        let (was, now) = (&theirs.auth.users, &ours.auth.users);
        if was.len() == now.len() && now.iter().all(|u| was.contains(u)) {
            ours.auth.users.clone_from(was);
        }
        for (was, now) in theirs.remotes.iter().zip(&mut ours.remotes) {
            if was.tls.is_some() && now.tls.is_some() {
                now.tls.clone_from(&was.tls);
            }
        }
    }
    if let (Some(theirs), Some(ours)) = (&old.websocket, &mut candidate.websocket)
        && theirs.tls.is_some()
        && ours.tls.is_some()
    {
        ours.tls.clone_from(&theirs.tls);
    }
    if candidate == *old {
        return None;
    }
    // Within `auth`, the part of it that changed (`accounts`, `operator`...).
    let differs = if candidate.auth == old.auth {
        first_difference(&format!("{old:#?}"), &format!("{candidate:#?}"))
    } else {
        first_difference(
            &format!("{:#?}", old.auth),
            &format!("{:#?}", candidate.auth),
        )
    };
    Some(differs.unwrap_or_else(|| ("options".into(), String::new(), String::new())))
}

fn first_difference(old: &str, new: &str) -> Option<(String, String, String)> {
    fields(old)
        .into_iter()
        .zip(fields(new))
        .find(|(a, b)| a != b)
        .map(|((name, a), (_, b))| (name, a, b))
}

/// The top-level fields of the options as `{:#?}` writes them: (name,
/// value on one line). Written once here, it names every option a future
/// field adds without a list to keep.
fn fields(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines().skip(1) {
        let top = line.strip_prefix("    ").filter(|l| !l.starts_with(' '));
        match top.and_then(|l| l.split_once(": ")) {
            Some((name, value)) => {
                out.push((name.to_owned(), value.trim_end_matches(',').to_owned()))
            }
            None => {
                if let Some((_, value)) = out.last_mut()
                    && line != "}"
                {
                    value.push_str(line.trim());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_cannot_change_is_named() {
        let old = ServerOptions::default();
        let mut new = old.clone();
        assert_eq!(frozen_difference(&old, &new), None);
        new.auth.users.clear();
        new.auth.token = Some(starling_auth::Secret::new("t"));
        assert_eq!(frozen_difference(&old, &new), None, "auth reloads");
        new.port = 4333;
        let (option, was, now) = frozen_difference(&old, &new).unwrap();
        assert_eq!(
            (option.as_str(), was.as_str(), now.as_str()),
            ("port", "4222", "4333")
        );
        let mut new = old.clone();
        new.auth.accounts.push("A".into());
        new.max_payload = 10;
        new.server_tags.push("t".into());
        assert_eq!(
            frozen_difference(&old, &new),
            None,
            "accounts and limits reload"
        );
        // Leafnode users in another order.
        let user = |name: &str| crate::LeafUser {
            user: name.into(),
            password: starling_auth::Secret::new("p"),
            account: None,
        };
        let mut leafs = old.clone();
        let mut leaf = crate::LeafOptions::default();
        leaf.auth.users = vec![user("a"), user("b")];
        leafs.leaf = Some(leaf.clone());
        let mut reordered = leafs.clone();
        leaf.auth.users.reverse();
        reordered.leaf = Some(leaf);
        assert_eq!(frozen_difference(&leafs, &reordered), None);
        new.max_pending = 20;
        let (option, _, now) = frozen_difference(&old, &new).unwrap();
        assert_eq!(option, "max_pending");
        // With a directory resolver, accounts come and go by claim updates.
        let mut old = old;
        old.auth.operator = Some(starling_auth::OperatorMode {
            resolver: starling_auth::Resolver::Directory {
                dir: "jwt".into(),
                full: true,
                delete: None,
                cache: starling_auth::CacheSettings::default(),
            },
            ..starling_auth::OperatorMode::default()
        });
        let mut new = old.clone();
        new.auth.accounts.push("ANEW".into());
        assert_eq!(frozen_difference(&old, &new), None);
        assert_eq!(now, "20");
    }
}
