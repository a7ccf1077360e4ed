//! A configuration reload that changed authentication, as nats-server
//! applies it to a connected client: its CONNECT is checked again against
//! the new configuration; a client no longer let in gets `-ERR
//! 'Authorization Violation'` and is closed (so is one the new
//! configuration puts in another account); the others take their new
//! permissions at once, and each subscription those no longer allow is
//! removed with `-ERR 'Permissions Violation for Subscription to "<subject>"
//! (sid "<sid>")'`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use starling_auth::{AuthError, Identity};
use starling_proto::{ClientParser, ErrReply};

use super::connect::AuthJob;
use super::state::ClientState;
use crate::broker::Broker;
use crate::link::{CloseReason, Link, RELOAD_AUTH, RELOAD_LIMITS};

/// Takes up what a reload asked of this client, if anything: the new
/// parser limits, the new authentication's verdict. `Err`: close so.
pub(super) async fn take_reload(
    shared: &Broker,
    link: &Link,
    state: &mut ClientState,
    parser: &mut ClientParser,
) -> Result<(), CloseReason> {
    let asked = link.reload.swap(0, Ordering::AcqRel);
    if asked & RELOAD_LIMITS != 0 {
        parser.set_limits(state.parser_limits());
    }
    if asked & RELOAD_AUTH != 0
        && let Some(job) = state.reauthorization()
        && let Some(result) = Box::pin(super::connect::run_auth(shared, job, None)).await
    {
        let verdict = state.reauthorized(result);
        state.end_batch();
        verdict?;
    }
    Ok(())
}

impl ClientState {
    /// The check a reload asks for; `None` until the client is in (its
    /// first check is still ahead of it, with the new configuration).
    pub(crate) fn reauthorization(&self) -> Option<AuthJob> {
        if self.auth_deadline.is_some() || self.pending_connect.is_some() {
            return None;
        }
        let connect = self.credentials.as_deref()?;
        Some(self.auth_job(connect))
    }

    /// Applies the reload's verdict on this client.
    pub(crate) fn reauthorized(
        &mut self,
        result: Result<Identity, AuthError>,
    ) -> Result<(), CloseReason> {
        let identity = match result {
            Ok(identity) => identity,
            // nats-server's words for a JWT a claim update revoked.
            Err(AuthError::Revoked) => {
                tracing::info!(cid = self.cid(), "User Authentication Revoked");
                self.send_err(ErrReply::UserAuthenticationRevoked);
                return Err(CloseReason::Revocation);
            }
            Err(error) => {
                tracing::info!(
                    cid = self.cid(),
                    "Authorization Violation after reload: {error}"
                );
                self.send_err(ErrReply::AuthorizationViolation);
                return Err(CloseReason::AuthenticationViolation);
            }
        };
        if !Arc::ptr_eq(
            &self.broker.account(identity.account.as_deref()),
            &self.account,
        ) {
            tracing::info!(
                cid = self.cid(),
                "Account changed by reload: closing the client"
            );
            self.send_err(ErrReply::AuthorizationViolation);
            return Err(CloseReason::AuthenticationViolation);
        }
        self.set_permissions(identity.permissions);
        // An account JWT update may have changed its exports and imports.
        self.links = self.broker.account_links(&self.account);
        self.last_lookup = super::state::LastLookup::default();
        let Some(permissions) = self.permissions.clone() else {
            return Ok(());
        };
        for sub in self.me.subscriptions() {
            let plain = permissions.can_subscribe(&sub.subject, None);
            let queued = sub
                .queue
                .as_deref()
                .is_some_and(|q| permissions.can_subscribe(&sub.subject, Some(q)));
            if !plain && !queued {
                sub.remove();
                tracing::info!(
                    cid = self.cid(),
                    "Removed sub {:?} (sid {:?}) - not authorized",
                    String::from_utf8_lossy(&sub.subject),
                    String::from_utf8_lossy(&sub.sid)
                );
                self.send_err(ErrReply::SubscriptionRevoked(&sub.subject, &sub.sid));
            }
        }
        Ok(())
    }
}
