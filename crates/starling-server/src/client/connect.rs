//! CONNECT: the client's options, authentication, and what it binds the
//! connection to (a user's account, permissions, limits and expiry).
//!
//! Cheap credentials are checked on the spot. A costly check (a bcrypt
//! password) becomes an [`AuthJob`] the driver runs on the blocking pool,
//! a few at a time, so a flood of wrong passwords never occupies the
//! threads that move messages; the connection handles nothing else until
//! [`ClientState::finish_connect`] gets the result.

use std::sync::Arc;
use std::time::Duration;

use starling_auth::{AuthError, AuthRequest, ConnectionKind, Identity, Permissions};
use starling_proto::{Connect, ErrReply};

use super::state::{ClientState, LastLookup, Time};
use crate::broker::Broker;
use crate::link::CloseReason;

/// A credentials check to run away from the message path.
pub(crate) struct AuthJob {
    broker: Arc<Broker>,
    connect: Connect,
    kind: ConnectionKind,
    nonce: String,
    cookies: Vec<(String, String)>,
    certificate: Option<Arc<starling_auth::CertNames>>,
    unix: i64,
}

impl AuthJob {
    /// Checks the credentials (blocking: bcrypt by design takes CPU time).
    pub(crate) fn run(&self) -> Result<Identity, AuthError> {
        let connect = &self.connect;
        let request = AuthRequest {
            kind: Some(self.kind),
            user: connect.user.as_deref(),
            pass: connect.pass.as_deref(),
            token: connect.auth_token.as_deref(),
            nkey: connect.nkey.as_deref(),
            sig: connect.sig.as_deref(),
            nonce: self.nonce.as_bytes(),
            jwt: connect.jwt.as_deref(),
            now: self.unix,
            cookies: &self.cookies,
            certificate: self.certificate.as_deref(),
        };
        self.broker.auth().authenticate(&request)
    }
}

impl ClientState {
    pub(super) fn handle_connect(&mut self, json: &[u8]) -> Result<(), CloseReason> {
        let connect = match Connect::parse(json) {
            Ok(connect) => connect,
            Err(error) => {
                tracing::debug!(cid = self.cid(), "Invalid CONNECT: {error}");
                return Err(CloseReason::ProtocolViolation);
            }
        };
        self.restart_ping_timer();
        {
            // What the client says of itself, and the user it claims until
            // authentication says who it is: a refused login's event names
            // them, as nats-server's does. Until a PONG measures it, the
            // RTT is estimated as the time since accept (nats-server's).
            let mut meta = self.me.link.meta();
            meta.name = connect.name.clone().unwrap_or_default();
            meta.lang = connect.lang.clone().unwrap_or_default();
            meta.version = connect.version.clone().unwrap_or_default();
            let since_accept = self.now.instant.saturating_duration_since(self.accepted);
            meta.rtt
                .get_or_insert_with(|| since_accept.max(Duration::from_nanos(1)));
        }
        // Kept for a configuration reload, which checks every client again.
        self.credentials = Some(Box::new(connect.clone()));
        if self.broker.auth().required(self.kind) {
            self.me.link.meta().user.clone_from(&connect.user);
            let job = self.auth_job(&connect);
            if self.broker.auth().is_costly() {
                self.pending_connect = Some(Box::new((connect, Some(job))));
                return Ok(());
            }
            self.authenticated(job.run())?;
        }
        self.connect_options(&connect)
    }

    /// The costly credentials check a CONNECT left to run, once.
    pub(crate) fn take_auth_job(&mut self) -> Option<AuthJob> {
        self.pending_connect
            .as_mut()
            .and_then(|pending| pending.1.take())
    }

    /// The result of the [`AuthJob`], at `now`: the CONNECT completes, or
    /// the connection is refused.
    pub(crate) fn finish_connect(
        &mut self,
        result: Result<Identity, AuthError>,
        now: Time,
    ) -> Result<(), CloseReason> {
        self.now = now;
        let Some(pending) = self.pending_connect.take() else {
            return Ok(());
        };
        let (connect, _) = *pending;
        self.authenticated(result)?;
        self.connect_options(&connect)
    }

    pub(super) fn auth_job(&self, connect: &Connect) -> AuthJob {
        AuthJob {
            broker: Arc::clone(&self.broker),
            connect: connect.clone(),
            kind: self.kind,
            nonce: self.nonce.clone(),
            cookies: self.cookies.clone(),
            certificate: self.certificate.clone(),
            unix: self.now.unix,
        }
    }

    /// After the first PONG is queued: a client of `protocol` 1 takes INFO
    /// updates from now on, and gets a fresh INFO now if the cluster's URLs
    /// changed since its own (nats-server's `processPing`).
    pub(super) fn first_pong(&mut self) {
        let Some(generation) = self.flags.info_generation.take() else {
            return;
        };
        if !self.flags.protocol {
            return;
        }
        self.me.link.meta().async_info = true;
        let Some(cluster) = &self.broker.cluster else {
            return;
        };
        if cluster.urls_generation() != generation {
            let ip = self.me.link.meta().ip.parse().ok();
            if let Some(ip) = ip {
                let info = self.broker.client_info(self.cid(), ip, self.kind, "");
                self.send_with(|out| {
                    let _ = starling_proto::encode::info(out, &info);
                });
            }
        }
    }

    /// What CONNECT sets besides credentials.
    fn connect_options(&mut self, connect: &Connect) -> Result<(), CloseReason> {
        if connect.account.as_deref().is_some_and(|a| !a.is_empty())
            || connect.new_account == Some(true)
        {
            self.send_err(ErrReply::AuthorizationViolation);
            return Err(CloseReason::AuthenticationViolation);
        }
        if !matches!(connect.protocol, None | Some(0 | 1)) {
            self.send_err(ErrReply::InvalidClientProtocol);
            return Err(CloseReason::BadClientProtocolVersion);
        }
        let headers = connect.headers == Some(true) && !self.broker.options.no_header_support;
        let no_responders = connect.no_responders == Some(true);
        if no_responders && !headers {
            self.send_err(ErrReply::NoRespondersRequiresHeaders);
            return Err(CloseReason::NoRespondersRequiresHeaders);
        }
        self.flags.protocol = connect.protocol == Some(1);
        self.flags.verbose = connect.verbose;
        self.flags.pedantic = connect.pedantic;
        self.flags.echo = connect.echo;
        self.flags.headers = headers;
        self.flags.no_responders = no_responders;
        self.me.set_headers(headers);
        tracing::debug!(
            cid = self.cid(),
            name = connect.name.as_deref().unwrap_or(""),
            lang = connect.lang.as_deref().unwrap_or(""),
            version = connect.version.as_deref().unwrap_or(""),
            "Client connected"
        );
        self.ok();
        self.broker.announce_connect(&self.me, &self.account);
        Ok(())
    }

    /// Binds the connection to the identity, or refuses it.
    fn authenticated(&mut self, result: Result<Identity, AuthError>) -> Result<(), CloseReason> {
        let now = self.now;
        match result {
            Ok(identity) => {
                tracing::debug!(
                    cid = self.cid(),
                    user = identity.user.as_deref().unwrap_or(""),
                    "Authenticated"
                );
                self.auth_deadline = None;
                self.user_max_payload = identity.max_payload;
                self.user_max_subscriptions = identity.max_subscriptions;
                self.expires_at = identity.expires.map(|exp| {
                    let left = u64::try_from(exp - now.unix).unwrap_or(0);
                    now.instant + Duration::from_secs(left)
                });
                self.set_permissions(identity.permissions);
                self.me.link.meta().user = identity.user.clone();
                self.set_account(identity.account.as_deref())
            }
            Err(error) => {
                // The reason names users, never passwords or tokens.
                tracing::info!(cid = self.cid(), "Authorization Violation: {error}");
                self.send_err(ErrReply::AuthorizationViolation);
                Err(CloseReason::AuthenticationViolation)
            }
        }
    }

    /// A first operation other than CONNECT: nats-server refuses it, unless
    /// a no_auth_user takes the connection in.
    pub(super) fn authenticate_without_connect(&mut self) -> Result<(), CloseReason> {
        let auth = self.broker.auth();
        let Some(user) = auth.no_auth_user(self.kind) else {
            self.send_err(ErrReply::AuthorizationViolation);
            return Err(CloseReason::AuthenticationViolation);
        };
        tracing::debug!(
            cid = self.cid(),
            user = user.name.as_str(),
            "Bound to no_auth_user"
        );
        let permissions = user.permissions.clone();
        let account = user.account.clone();
        self.me.link.meta().user = Some(user.name.clone());
        self.auth_deadline = None;
        // A reload checks it again as a CONNECT without credentials.
        self.credentials = Some(Box::default());
        self.set_permissions(permissions);
        self.set_account(account.as_deref())
    }

    /// Moves the connection into its account (before any subscription:
    /// it happens at authentication), within the account's `limits`.
    fn set_account(&mut self, account: Option<&str>) -> Result<(), CloseReason> {
        self.account = self.broker.account(account);
        if !self.account.admit(false) {
            tracing::info!(
                cid = self.cid(),
                "Maximum account active connections exceeded"
            );
            self.send_err(ErrReply::MaxAccountConnectionsExceeded);
            return Err(CloseReason::MaxAccountConnectionsExceeded);
        }
        {
            let mut meta = self.me.link.meta();
            meta.account = Some(self.account.name.clone());
            meta.admitted = true;
        }
        let limits = self.account.settings.limits();
        let lower = |mine: Option<usize>, theirs: Option<u32>| match (mine, theirs) {
            (Some(a), Some(b)) => Some(a.min(b as usize)),
            (a, b) => a.or_else(|| b.map(|b| b as usize)),
        };
        self.user_max_payload = lower(self.user_max_payload, limits.max_payload);
        self.user_max_subscriptions = lower(self.user_max_subscriptions, limits.max_subscriptions);
        self.links = self.broker.account_links(&self.account);
        self.last_lookup = LastLookup::default();
        Ok(())
    }

    pub(super) fn set_permissions(&mut self, permissions: Option<Arc<Permissions>>) {
        self.me.set_delivery_denies(permissions.as_ref());
        if let Some(responses) = permissions.as_ref().and_then(|p| p.responses) {
            self.me.track_responses(responses);
        }
        self.permissions = permissions;
        self.publish_allowed.clear();
    }
}

/// What CONNECT set (nats-server's defaults until then: verbose, pedantic,
/// echo).
#[derive(Debug, Clone, Copy)]
pub(super) struct ConnectFlags {
    pub(super) verbose: bool,
    pub(super) pedantic: bool,
    pub(super) echo: bool,
    pub(super) headers: bool,
    pub(super) no_responders: bool,
    /// CONNECT `protocol` 1: takes INFO updates once its first PONG went.
    pub(super) protocol: bool,
    /// The generation of cluster URLs its INFO showed, until its first PONG.
    pub(super) info_generation: Option<u64>,
}

/// Runs a costly credentials check on the blocking pool, no more of them
/// at once than the broker allows, so they never hold up the threads that
/// move messages. `None` when no slot came free before `deadline` (the
/// authorization timeout): a flood of logins queues for that long at most.
pub(super) async fn run_auth(
    broker: &Broker,
    job: AuthJob,
    deadline: Option<std::time::Instant>,
) -> Option<Result<Identity, AuthError>> {
    // The URL resolver fetches the user's account first, if it is new.
    if let Some(jwt) = job.connect.jwt.as_deref() {
        job.broker.resolve_account_of(jwt).await;
    }
    let slot = broker.auth_slots.acquire();
    // The semaphore is never closed, so acquiring fails only by timing out.
    let _slot = match deadline {
        Some(deadline) => tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), slot)
            .await
            .ok()?,
        None => slot.await,
    };
    let result = tokio::task::spawn_blocking(move || job.run())
        .await
        // A check that panicked refuses the connection.
        .unwrap_or(Err(AuthError::MissingCredentials));
    Some(result)
}
