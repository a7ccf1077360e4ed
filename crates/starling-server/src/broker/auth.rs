//! Who may connect, as configured now: the authentication a reload swaps
//! (every client then checked again by its own task), and the client
//! port's TLS handshake rate (`connection_rate_limit`).

use std::sync::{Arc, PoisonError};

use starling_auth::Authenticator;

use super::Broker;
use crate::ServerOptions;

impl Broker {
    /// Whether one more TLS handshake fits the client port's
    /// `connection_rate_limit` (nats-server's one-second rate counter).
    pub(crate) fn tls_handshake_allowed(&self) -> bool {
        let limit = self
            .live
            .options()
            .tls
            .as_ref()
            .map_or(0, |tls| tls.connection_rate_limit);
        if limit == 0 {
            return true;
        }
        let now = std::time::Instant::now();
        let mut rate = self.tls_rate.lock().unwrap_or_else(PoisonError::into_inner);
        if now.duration_since(rate.0) >= std::time::Duration::from_secs(1) {
            *rate = (now, 0);
        }
        rate.1 = rate.1.saturating_add(1);
        rate.1 <= limit
    }

    /// Authentication as configured now.
    pub(crate) fn auth(&self) -> Arc<Authenticator> {
        Arc::clone(&self.auth.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Swaps in the authentication of reloaded `options`, and has every
    /// client checked again by its own task.
    pub(crate) fn reload_auth(&self, options: &ServerOptions) {
        self.swap_auth(Authenticator::new(auth_config(options)));
    }

    /// Swaps in `fresh` and has every client checked again.
    pub(crate) fn swap_auth(&self, fresh: Authenticator) {
        *self.auth.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        for connection in &self.connections {
            connection.link.ask_reload(crate::link::RELOAD_AUTH);
        }
    }
}

/// The authentication settings with what the TLS blocks add to them
/// (`verify_and_map` on the client port, the websocket port and the
/// leafnode port).
pub(super) fn auth_config(options: &ServerOptions) -> starling_auth::AuthConfig {
    let mut auth = options.auth.clone();
    auth.tls_map = options.tls.as_ref().is_some_and(|t| t.verify_and_map);
    auth.websocket.tls_map = options
        .websocket
        .as_ref()
        .and_then(|ws| ws.tls.as_ref())
        .is_some_and(|t| t.verify_and_map);
    auth.leaf_tls_map = options
        .leaf
        .as_ref()
        .and_then(|leaf| leaf.tls.as_ref())
        .is_some_and(|t| t.verify_and_map);
    auth
}
