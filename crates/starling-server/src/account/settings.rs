//! An account's settings from the configuration (its subject mappings
//! and `limits`), which a reload replaces while its clients stay: read
//! where they apply, the mappings behind a flag so an account without
//! any costs one atomic load per message.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use starling_auth::AccountLimits;
use starling_subject::Mapping;

/// Mappings and limits, as configured now.
#[derive(Debug, Default)]
pub(crate) struct Settings {
    mapped: AtomicBool,
    mappings: RwLock<Arc<[Mapping]>>,
    limits: Mutex<AccountLimits>,
}

impl Settings {
    /// Replaces the mappings (first match wins).
    pub(crate) fn set_mappings(&self, mappings: Vec<Mapping>) {
        let empty = mappings.is_empty();
        *self
            .mappings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::from(mappings);
        self.mapped.store(!empty, Ordering::Release);
    }

    /// Replaces the limits (connections counted already stay).
    pub(crate) fn set_limits(&self, limits: AccountLimits) {
        *self.limits.lock().unwrap_or_else(PoisonError::into_inner) = limits;
    }

    /// Whether there is any mapping.
    pub(crate) fn has_mappings(&self) -> bool {
        self.mapped.load(Ordering::Acquire)
    }

    /// The mappings.
    pub(crate) fn mappings(&self) -> Arc<[Mapping]> {
        Arc::clone(&self.mappings.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The limits.
    pub(crate) fn limits(&self) -> AccountLimits {
        *self.limits.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_replaced_whole() {
        let settings = Settings::default();
        assert!(!settings.has_mappings());
        let to = starling_subject::MapDestination {
            subject: "b".into(),
            weight: 100,
            cluster: None,
        };
        let mapping = Mapping::new("a", &[to]).unwrap();
        settings.set_mappings(vec![mapping]);
        assert!(settings.has_mappings());
        assert_eq!(settings.mappings().len(), 1);
        settings.set_mappings(Vec::new());
        assert!(!settings.has_mappings());
        let limits = AccountLimits {
            max_connections: Some(3),
            ..AccountLimits::default()
        };
        settings.set_limits(limits);
        assert_eq!(settings.limits().max_connections, Some(3));
    }
}
