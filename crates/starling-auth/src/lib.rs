//! Who may connect, and as whom: NATS authentication without any I/O.
//!
//! Input is the connection's kind ([`ConnectionKind`]), the credentials of
//! its CONNECT (and, for websocket clients, the cookies of its upgrade
//! request); output is an [`Identity`] or a typed [`AuthError`]. Every
//! refusal is `-ERR 'Authorization Violation'` on the wire, as in
//! nats-server; the variants say why, for the log.
//!
//! Covered: the top-level `authorization` block (a single user and
//! password, a token, or a `users` list, passwords plain or bcrypt,
//! `timeout`), `allowed_connection_types` (and its aliases
//! `connection_types` and `clients`), `no_auth_user` at the top level and in
//! the `websocket` block, the websocket `authorization` override, and the
//! `user_cookie` / `pass_cookie` / `token_cookie` credentials of websocket
//! clients; nkey users (`nkey: U…`) signing the INFO nonce; permissions,
//! `allow_responses`, accounts and their exports and imports ([`links`]),
//! their `limits`, `default_permissions`, `nkey` and subject `mappings`;
//! `verify_and_map` (the user a client certificate names, [`CertNames`]);
//! operator mode with operator JWTs or `trusted` keys, version 1 and 2
//! JWTs, account JWT exports and imports with activation tokens
//! ([`jwt_links`]), `resolver_pinned_accounts`, and the directory
//! resolver's account updates ([`AuthConfig::upsert_account_jwt`]).
//!
//! ```
//! use starling_auth::{AuthConfig, AuthRequest, Authenticator, ConnectionKind};
//!
//! let root = starling_conf::parse_str(r#"
//!     authorization {
//!       users: [
//!         { user: alice, password: secret, allowed_connection_types: ["WEBSOCKET"] }
//!         { user: bob, password: hunter2 }
//!       ]
//!     }
//! "#)?;
//! let auth = Authenticator::new(AuthConfig::from_config(&root).map_err(|mut e| e.remove(0))?);
//! assert!(auth.info_auth_required(ConnectionKind::Standard));
//!
//! let bob = AuthRequest { user: Some("bob"), pass: Some("hunter2"), ..AuthRequest::new(ConnectionKind::Standard) };
//! assert_eq!(auth.authenticate(&bob).unwrap().user.as_deref(), Some("bob"));
//! let alice_over_tcp = AuthRequest { user: Some("alice"), pass: Some("secret"), ..AuthRequest::new(ConnectionKind::Standard) };
//! assert!(auth.authenticate(&alice_over_tcp).is_err());
//! # Ok::<(), starling_conf::ConfError>(())
//! ```
#![forbid(unsafe_code)]

mod account_settings;
mod authenticate;
mod cert_map;
mod config;
pub mod fuzzing;
pub mod jwt;
pub mod jwt_links;
mod kind;
pub mod latency;
pub mod links;
mod mappings;
pub mod nkey;
mod operator;
mod permissions;
mod resolver_url;

pub use account_settings::AccountLimits;
pub use authenticate::{AuthError, AuthRequest, Authenticator, Identity, passwords_match};
pub use cert_map::{CertNames, Dn, mapped, parse_dn};
pub use config::{AuthConfig, Secret, User, WebsocketAuth};
pub use kind::ConnectionKind;
pub use operator::{AccountJwt, CacheSettings, DeleteMode, OperatorMode, Resolver};
pub use permissions::{
    PermissionEntry, Permissions, ResponsePermission, SubjectPermission, read_permissions,
};
pub use resolver_url::ResolverTls;
