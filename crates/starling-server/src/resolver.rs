//! The directory resolvers (`resolver { type: full | cache, dir }`):
//! `<dir>/<account key>.jwt` files read at start, and the claim updates a
//! system account user pushes (`nsc push`) checked, written there and
//! applied at once: the account added or replaced, its exports,
//! imports and limits taken again, and every client checked again (a
//! revocation takes effect). The system account's requests are answered in
//! `system/claims.rs`.

use std::path::Path;
use std::sync::{Arc, PoisonError};

use starling_auth::{AuthConfig, Authenticator, Resolver};

use crate::account::Account;
use crate::broker::Broker;

/// The resolver's directory, when it is one.
pub(crate) fn directory(auth: &AuthConfig) -> Option<&Path> {
    match &auth.operator.as_ref()?.resolver {
        Resolver::Directory { dir, .. } => Some(dir),
        Resolver::Memory | Resolver::Url { .. } => None,
    }
}

/// Reads every account JWT of a directory resolver (creating the
/// directory, as nats-server does). Blocking: at start-up.
///
/// # Errors
///
/// The directory cannot be made or read, or a file holds no valid JWT.
pub(crate) fn load_directory(auth: &mut AuthConfig) -> Result<(), String> {
    let Some(dir) = directory(auth).map(Path::to_path_buf) else {
        return Ok(());
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("resolver: can't create {}: {e}", dir.display()))?;
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| format!("resolver: can't read {}: {e}", dir.display()))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jwt"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("resolver: can't read {}: {e}", file.display()))?;
        auth.upsert_account_jwt(text.trim())
            .map_err(|e| format!("resolver: {}: {e}", file.display()))?;
    }
    Ok(())
}

impl Broker {
    /// Applies an account JWT a claim update brought (already written to
    /// the directory); its key.
    ///
    /// # Errors
    ///
    /// What is wrong with the JWT.
    pub(crate) fn update_account_claims(&self, jwt: &str) -> Result<String, String> {
        let mut config = self.auth().config().clone();
        let key = config.upsert_account_jwt(jwt)?;
        let old = self.table();
        let mut accounts = old.accounts.clone();
        let cached = !self.options.disable_sublist_cache;
        accounts
            .entry(key.clone())
            .or_insert_with(|| Arc::new(Account::with_match_cache(key.clone(), cached)))
            .settings
            .set_limits(config.limits_of(&key));
        let system = self.system.as_ref().map(|s| &s.account);
        let table = crate::broker::AccountTable::build(
            &config,
            accounts,
            &self.account(None),
            system,
            Some(&old),
        );
        *self.table.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
        if let Some(max) = config.limits_of(&key).max_connections {
            self.close_past(&key, max as usize);
        }
        self.swap_auth(Authenticator::new(config));
        Ok(key)
    }

    /// A claim update lowered the account's `conn`: its oldest clients
    /// past it are closed, the newest kept (nats-server's order).
    fn close_past(&self, account: &str, max: usize) {
        let mut clients: Vec<_> = self
            .connections()
            .into_iter()
            .filter(|c| c.link.meta().account.as_deref() == Some(account))
            .collect();
        if clients.len() <= max {
            return;
        }
        clients.sort_by_key(|c| std::cmp::Reverse(c.link.meta().start_unix_nanos));
        for client in clients.into_iter().skip(max) {
            let link = &client.link;
            link.queue(|out| starling_proto::ErrReply::MaxAccountConnectionsExceeded.encode(out));
            link.close(crate::link::CloseReason::MaxAccountConnectionsExceeded);
        }
    }
}

impl Broker {
    /// Takes a deleted account out: its clients are closed with
    /// `Account Authentication Expired` (nats-server's `removeCb`), and
    /// its users refused from now on.
    pub(crate) fn delete_account(&self, key: &str) {
        for connection in self.connections() {
            let link = &connection.link;
            if link.meta().account.as_deref() == Some(key) {
                link.queue(|out| {
                    starling_proto::ErrReply::AccountAuthenticationExpired.encode(out)
                });
                link.close(crate::link::CloseReason::AuthenticationExpired);
            }
        }
        let mut config = self.auth().config().clone();
        config.remove_account_jwt(key);
        self.swap_auth(Authenticator::new(config));
    }
}
