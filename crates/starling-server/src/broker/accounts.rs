//! The accounts and what links them (exports, imports, the system
//! account's services), as one snapshot: an account JWT update builds a
//! new one (the accounts already there kept, with their subscriptions) and
//! swaps it in; readers take the snapshot they need.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use starling_auth::AuthConfig;

use super::Broker;
use crate::account::Account;
use crate::account::links::{self, AccountLinks};

/// Accounts by name, and their links.
#[derive(Debug, Default)]
pub(crate) struct AccountTable {
    pub(crate) accounts: HashMap<String, Arc<Account>>,
    /// Exports and imports, by account (only accounts that have some).
    pub(crate) links: HashMap<String, Arc<AccountLinks>>,
    /// The system account's services other accounts import, by account.
    pub(crate) system_imports: HashMap<String, Arc<AccountLinks>>,
}

impl AccountTable {
    /// The table for `auth` over `accounts` (the system account among
    /// them). With a `previous` table, the system account keeps its
    /// responses table, so answers in flight still find their way.
    pub(crate) fn build(
        auth: &AuthConfig,
        accounts: HashMap<String, Arc<Account>>,
        global: &Arc<Account>,
        system: Option<&Arc<Account>>,
        previous: Option<&Self>,
    ) -> Self {
        let mut links = links::build(auth, &accounts);
        let mut system_imports = HashMap::new();
        if let Some(system) = system {
            // The system account answers through its responses table.
            let kept = previous
                .and_then(|p| p.links.get(&system.name))
                .map(|l| Arc::clone(&l.responses));
            let own = links
                .entry(system.name.clone())
                .or_insert_with(|| Arc::new(AccountLinks::default()));
            if let Some(kept) = kept
                && let Some(own) = Arc::get_mut(own)
            {
                own.responses = kept;
            }
            let responses = Arc::clone(&own.responses);
            for account in accounts.values().chain([global]) {
                if !Arc::ptr_eq(account, system) {
                    let imports = links::system_imports(system, &responses, &account.name);
                    system_imports.insert(account.name.clone(), Arc::new(imports));
                }
            }
        }
        Self {
            accounts,
            links,
            system_imports,
        }
    }
}

impl Broker {
    /// The accounts as they are now.
    pub(crate) fn table(&self) -> Arc<AccountTable> {
        Arc::clone(&self.table.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The account named `name` (`None` or unknown: the global account).
    pub(crate) fn account(&self, name: Option<&str>) -> Arc<Account> {
        let table = self.table();
        name.and_then(|name| table.accounts.get(name))
            .map_or_else(|| Arc::clone(&self.global), Arc::clone)
    }

    /// Every account, the global one first, then by name.
    pub(crate) fn all_accounts(&self) -> Vec<Arc<Account>> {
        let table = self.table();
        let mut named: Vec<&Arc<Account>> = table.accounts.values().collect();
        named.sort_by(|a, b| a.name.cmp(&b.name));
        std::iter::once(&self.global)
            .chain(named)
            .map(Arc::clone)
            .collect()
    }

    /// The system account's services `account` imports (none for the
    /// system account itself).
    pub(crate) fn system_imports(&self, account: &Account) -> Option<Arc<AccountLinks>> {
        self.table().system_imports.get(&account.name).cloned()
    }

    /// The account's exports and imports, if it has any.
    pub(crate) fn account_links(&self, account: &Account) -> Option<Arc<AccountLinks>> {
        self.table().links.get(&account.name).cloned()
    }
}
