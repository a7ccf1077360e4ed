//! What a configuration reload applies to the broker, with nats-server's
//! notices: the live settings (limits, ping and write timing,
//! `client_advertise`, `server_tags`, tracing, connect-error reports),
//! taken up by every client where it holds its own copy; clients closed
//! to fall within a lower `max_connections`; and the accounts (their
//! mappings, limits, exports and imports), rebuilt around the accounts
//! already there so their clients and subscriptions stay.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use starling_auth::Authenticator;
use starling_proto::ErrReply;

use super::{AccountTable, Broker, auth};
use crate::ServerOptions;
use crate::account::{Account, GLOBAL_ACCOUNT};
use crate::link::{CloseReason, RELOAD_LIMITS};
use crate::options::go_duration;

impl Broker {
    /// Takes the live settings of `new` (checked already), telling what
    /// changed from `old` as nats-server tells it.
    pub(crate) fn reload_settings(&self, old: &ServerOptions, new: &ServerOptions) {
        self.live.apply(new, self.client_port);
        if old.max_connections != new.max_connections {
            self.fall_within_max_connections();
            tracing::info!("Reloaded: max_connections = {}", shown(new.max_connections));
        }
        let limits = (new.max_payload, new.max_control_line);
        if (old.max_payload, old.max_control_line) != limits {
            // Every client's parser takes the new limits when it next waits.
            for connection in &self.connections {
                connection.link.ask_reload(RELOAD_LIMITS);
            }
        }
        if old.max_control_line != new.max_control_line {
            tracing::info!("Reloaded: max_control_line = {}", new.max_control_line);
        }
        if old.max_payload != new.max_payload {
            tracing::info!("Reloaded: max_payload = {}", new.max_payload);
        }
        if old.ping_interval != new.ping_interval {
            let interval = go_duration(new.ping_interval);
            tracing::info!("Reloaded: ping_interval = {interval}");
        }
        if old.ping_max != new.ping_max {
            tracing::info!("Reloaded: ping_max = {}", new.ping_max);
        }
        if old.write_deadline != new.write_deadline {
            let deadline = go_duration(new.write_deadline);
            tracing::info!("Reloaded: write_deadline = {deadline}");
        }
        if old.client_advertise != new.client_advertise {
            let advertise = new.client_advertise.as_deref().unwrap_or_default();
            tracing::info!("Reload: client_advertise = {advertise}");
        }
        if old.server_tags != new.server_tags {
            tracing::info!("Reloaded: tags");
        }
        if old.trace_verbose != new.trace_verbose {
            tracing::info!("Reloaded: trace_verbose = {}", new.trace_verbose);
        }
        if old.max_traced_msg_len != new.max_traced_msg_len {
            tracing::info!("Reloaded: max_traced_msg_len = {}", new.max_traced_msg_len);
        }
        if old.connect_error_reports != new.connect_error_reports {
            let every = new.connect_error_reports;
            tracing::info!("Reloaded: connect_error_reports = {every}");
        }
        if old.reconnect_error_reports != new.reconnect_error_reports {
            let every = new.reconnect_error_reports;
            tracing::info!("Reloaded: reconnect_error_reports = {every}");
        }
    }

    /// Closes clients, any of them, until no more are open than
    /// `max_connections` allows (nats-server's `maxConnOption`).
    fn fall_within_max_connections(&self) {
        let max = self.live.max_connections();
        let excess = self.connections.len().saturating_sub(max);
        if excess == 0 {
            return;
        }
        let chosen: Vec<_> = self
            .connections
            .iter()
            .take(excess)
            .map(|c| Arc::clone(&c))
            .collect();
        for connection in &chosen {
            let link = &connection.link;
            link.queue(|out| ErrReply::MaxConnectionsExceeded.encode(out));
            link.close(CloseReason::MaxConnectionsExceeded);
        }
        tracing::info!(
            "Closed {} connections to fall within max_connections",
            chosen.len()
        );
    }

    /// Rebuilds the accounts for reloaded `options`: the accounts already
    /// there are kept (their clients and subscriptions with them) and take
    /// their new mappings and limits; new ones are made; the exports and
    /// imports are linked again. Then authentication is swapped, and every
    /// client checked again takes its account's new links (a client whose
    /// account is gone is closed by that check).
    pub(crate) fn reload_accounts(&self, options: &ServerOptions) {
        let config = auth::auth_config(options);
        let old = self.table();
        let cached = !self.options.disable_sublist_cache;
        let system = self.system.as_ref().map(|s| &s.account);
        let mut accounts: HashMap<String, Arc<Account>> = HashMap::new();
        let names = config.accounts.iter().chain(system.map(|s| &s.name));
        for name in names {
            let account = old.accounts.get(name).map_or_else(
                || Arc::new(Account::with_match_cache(name.clone(), cached)),
                Arc::clone,
            );
            account.settings.set_mappings(config.mappings_of(name));
            account.settings.set_limits(config.limits_of(name));
            accounts.insert(name.clone(), account);
        }
        let global = self.account(None);
        global
            .settings
            .set_mappings(config.mappings_of(GLOBAL_ACCOUNT));
        let table = AccountTable::build(&config, accounts, &global, system, Some(&old));
        *self.table.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
        self.swap_auth(Authenticator::new(config));
    }
}

/// `max_connections` as nats-server prints it (no limit: -1).
fn shown(max: usize) -> i64 {
    i64::try_from(max).unwrap_or(-1)
}
