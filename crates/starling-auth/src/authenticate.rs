//! The decision: credentials and connection kind in, identity or refusal
//! out, following nats-server's `processClientOrLeafAuthentication`.

use std::time::Duration;

use std::sync::Arc;

use crate::jwt::{JwtError, decode_and_verify};
use crate::nkey::{NkeyRole, PublicNkey};
use crate::operator::{OperatorMode, permissions_of};
use crate::{AuthConfig, ConnectionKind, Permissions, Secret, User};

/// nats-server's authorization timeout when none is configured.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// What a client presented.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthRequest<'a> {
    /// How it connected.
    pub kind: Option<ConnectionKind>,
    /// CONNECT `user`.
    pub user: Option<&'a str>,
    /// CONNECT `pass`.
    pub pass: Option<&'a str>,
    /// CONNECT `auth_token`.
    pub token: Option<&'a str>,
    /// CONNECT `nkey`.
    pub nkey: Option<&'a str>,
    /// CONNECT `sig`: the nonce signed with the nkey's seed.
    pub sig: Option<&'a str>,
    /// The nonce the server sent in INFO.
    pub nonce: &'a [u8],
    /// CONNECT `jwt` (operator mode).
    pub jwt: Option<&'a str>,
    /// Now, in Unix seconds, for JWT expiry.
    pub now: i64,
    /// Cookies of a websocket upgrade request.
    pub cookies: &'a [(String, String)],
    /// What the client's TLS certificate names (for `verify_and_map`).
    pub certificate: Option<&'a crate::CertNames>,
}

impl AuthRequest<'_> {
    /// A request with no credentials from a connection of `kind`.
    pub fn new(kind: ConnectionKind) -> Self {
        Self {
            kind: Some(kind),
            ..Self::default()
        }
    }
}

/// Who a connection is, once authenticated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The user it authenticated as, if any (none for token or no auth).
    pub user: Option<String>,
    /// What it may publish and subscribe to; `None`: everything.
    pub permissions: Option<Arc<Permissions>>,
    /// Its account; `None`: the global account.
    pub account: Option<String>,
    /// When its credentials expire (Unix seconds), for a JWT with `exp`.
    pub expires: Option<i64>,
    /// Its own payload limit (a JWT's `payload`), if it has one.
    pub max_payload: Option<usize>,
    /// Its own subscription limit (a JWT's `subs`), if it has one.
    pub max_subscriptions: Option<usize>,
}

impl Identity {
    /// The identity of a configured user.
    pub fn of(user: &User) -> Self {
        Self {
            user: Some(user.name.clone()),
            permissions: user.permissions.clone(),
            account: user.account.clone(),
            ..Self::default()
        }
    }
}

/// Why a connection was refused. On the wire every one of them is
/// `-ERR 'Authorization Violation'`, as in nats-server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials where some are required.
    MissingCredentials,
    /// A user name no user has.
    UnknownUser(String),
    /// The password did not match.
    BadPassword(String),
    /// The user may not connect this way.
    ConnectionTypeNotAllowed(String, ConnectionKind),
    /// The token did not match.
    BadToken,
    /// An nkey no user has.
    UnknownNkey,
    /// A missing or wrong signature of the nonce.
    BadSignature,
    /// A user JWT that is malformed or not signed by its issuer.
    Jwt(JwtError),
    /// A user JWT of an account the resolver does not know, or signed by a
    /// key that may not sign for it.
    UntrustedIssuer,
    /// A user JWT past its `exp` (or before its `nbf`).
    Expired,
    /// A user JWT revoked by its account.
    Revoked,
    /// `verify_and_map`, and no certificate or no user it names.
    CertificateNotMapped,
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingCredentials => f.write_str("no credentials"),
            Self::UnknownUser(user) => write!(f, "unknown user {user:?}"),
            Self::BadPassword(user) => write!(f, "wrong password for user {user:?}"),
            Self::ConnectionTypeNotAllowed(user, kind) => {
                write!(f, "user {user:?} may not connect as {kind}")
            }
            Self::BadToken => f.write_str("wrong token"),
            Self::UnknownNkey => f.write_str("unknown nkey"),
            Self::BadSignature => f.write_str("nonce signature missing or not verified"),
            Self::Jwt(error) => write!(f, "user JWT: {error}"),
            Self::UntrustedIssuer => f.write_str("user JWT not issued by a known account"),
            Self::Expired => f.write_str("user JWT expired or not yet valid"),
            Self::Revoked => f.write_str("user JWT revoked"),
            Self::CertificateNotMapped => {
                f.write_str("no user found for the client's certificate (verify_and_map)")
            }
        }
    }
}

impl std::error::Error for AuthError {}

/// Decides on connections with a fixed configuration.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    config: AuthConfig,
    /// A configured password is a bcrypt hash, or accounts are fetched
    /// over the network (the URL and cache resolvers).
    costly: bool,
}

impl Authenticator {
    /// The configuration it decides with.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// An authenticator for `config`.
    pub fn new(config: AuthConfig) -> Self {
        let passwords = config
            .password
            .iter()
            .chain(config.websocket.password.iter())
            .chain(config.users.iter().map(|u| &u.password));
        let fetched = config.operator.as_ref().is_some_and(|o| {
            matches!(
                o.resolver,
                crate::Resolver::Url { .. } | crate::Resolver::Directory { full: false, .. }
            )
        });
        let costly = fetched || passwords.into_iter().any(|p| is_bcrypt(p.expose()));
        Self { config, costly }
    }

    /// Whether authenticating may be expensive (a password is a bcrypt
    /// hash: tens of milliseconds of CPU by design; an account may have to
    /// be fetched first). A server runs such checks away from its message
    /// path.
    pub fn is_costly(&self) -> bool {
        self.costly
    }

    fn websocket_override(&self, kind: ConnectionKind) -> bool {
        kind == ConnectionKind::Websocket && self.config.websocket.overrides()
    }

    /// Whether INFO must carry a nonce for clients to sign (nkey users).
    pub fn needs_nonce(&self) -> bool {
        self.config.operator.is_some() || self.config.users.iter().any(|u| u.nkey.is_some())
    }

    /// Whether a connection of `kind` must authenticate at all.
    pub fn required(&self, kind: ConnectionKind) -> bool {
        let main = self.config.username.is_some()
            || self.config.token.is_some()
            || !self.config.users.is_empty()
            || self.config.operator.is_some();
        main || self.websocket_override(kind)
    }

    /// `auth_required` for the INFO sent to a connection of `kind`: false
    /// when a `no_auth_user` lets it in without credentials.
    pub fn info_auth_required(&self, kind: ConnectionKind) -> bool {
        self.required(kind) && self.no_auth_user(kind).is_none()
    }

    /// How long a connection of `kind` has to send CONNECT.
    pub fn timeout(&self, kind: ConnectionKind) -> Duration {
        let own = if self.websocket_override(kind) {
            self.config.websocket.timeout
        } else {
            None
        };
        own.or(self.config.timeout)
            .filter(|t| !t.is_zero())
            .unwrap_or(DEFAULT_TIMEOUT)
    }

    /// The user a connection of `kind` without credentials is bound to.
    pub fn no_auth_user(&self, kind: ConnectionKind) -> Option<&User> {
        let name =
            if kind == ConnectionKind::Websocket && self.config.websocket.no_auth_user.is_some() {
                self.config.websocket.no_auth_user.as_ref()
            } else if self.websocket_override(kind) {
                None
            } else {
                self.config.no_auth_user.as_ref()
            }?;
        self.config.users.iter().find(|u| &u.name == name)
    }

    /// Authenticates `request`.
    pub fn authenticate(&self, request: &AuthRequest<'_>) -> Result<Identity, AuthError> {
        let kind = request.kind.unwrap_or(ConnectionKind::Standard);
        if let Some(operator) = &self.config.operator {
            return self.authenticate_jwt(operator, request, kind);
        }
        if !self.required(kind) {
            return Ok(Identity::default());
        }
        let (mut user, mut pass, mut token) = (
            present(request.user),
            present(request.pass),
            present(request.token),
        );
        let tls_map = match kind {
            ConnectionKind::Standard => self.config.tls_map,
            ConnectionKind::Websocket => self.config.websocket.tls_map,
            ConnectionKind::Leafnode | ConnectionKind::LeafnodeWs => self.config.leaf_tls_map,
            _ => false,
        };
        if tls_map {
            // The user is the one the certificate names; its password, if
            // it has one, must still match (nats-server's order).
            let found = request
                .certificate
                .and_then(|names| {
                    crate::cert_map::mapped_user(names, &self.config.users, |u| {
                        check_kind(u, kind).is_ok()
                    })
                })
                .ok_or(AuthError::CertificateNotMapped)?;
            return if passwords_match(&found.password, pass.unwrap_or("")) {
                Ok(Identity::of(found))
            } else {
                Err(AuthError::BadPassword(found.name.clone()))
            };
        }
        if kind == ConnectionKind::Websocket && user.is_none() && pass.is_none() && token.is_none()
        {
            let ws = &self.config.websocket;
            let cookie = |name: &Option<String>| {
                name.as_ref()
                    .and_then(|n| request.cookies.iter().find(|(k, _)| k == n))
                    .map(|(_, v)| v.as_str())
            };
            (user, pass, token) = (
                cookie(&ws.user_cookie),
                cookie(&ws.pass_cookie),
                cookie(&ws.token_cookie),
            );
        }
        if user.is_none()
            && pass.is_none()
            && token.is_none()
            && let Some(bound) = self.no_auth_user(kind)
        {
            return check_kind(bound, kind).map(|()| Identity::of(bound));
        }
        if let Some(nkey) = present(request.nkey) {
            let found = self
                .config
                .users
                .iter()
                .find(|u| u.nkey.as_deref() == Some(nkey))
                .ok_or(AuthError::UnknownNkey)?;
            check_kind(found, kind)?;
            let key = PublicNkey::parse(nkey, NkeyRole::User).ok_or(AuthError::UnknownNkey)?;
            let signature = present(request.sig).ok_or(AuthError::BadSignature)?;
            return if key.verify(request.nonce, signature) {
                Ok(Identity::of(found))
            } else {
                Err(AuthError::BadSignature)
            };
        }
        if let Some(name) = user
            && !self.config.users.is_empty()
        {
            let found = self
                .config
                .users
                .iter()
                .find(|u| u.name == name)
                .ok_or_else(|| AuthError::UnknownUser(name.to_owned()))?;
            check_kind(found, kind)?;
            return if passwords_match(&found.password, pass.unwrap_or("")) {
                Ok(Identity::of(found))
            } else {
                Err(AuthError::BadPassword(found.name.clone()))
            };
        }
        // The main block's permissions apply to its single user or token;
        // the websocket override carries none, as in nats-server.
        let (username, password, expected_token, permissions) = if self.websocket_override(kind) {
            let ws = &self.config.websocket;
            (
                ws.username.as_ref(),
                ws.password.as_ref(),
                ws.token.as_ref(),
                None,
            )
        } else {
            let c = &self.config;
            (
                c.username.as_ref(),
                c.password.as_ref(),
                c.token.as_ref(),
                c.permissions.clone(),
            )
        };
        if let Some(expected) = expected_token {
            let given = token.ok_or(AuthError::MissingCredentials)?;
            return if passwords_match(expected, given) {
                Ok(Identity {
                    user: None,
                    permissions,
                    account: None,
                    ..Identity::default()
                })
            } else {
                Err(AuthError::BadToken)
            };
        }
        if let Some(expected) = username {
            let given = user.ok_or(AuthError::MissingCredentials)?;
            if given != expected {
                return Err(AuthError::UnknownUser(given.to_owned()));
            }
            let matches = password.is_none_or(|p| passwords_match(p, pass.unwrap_or("")));
            return if matches {
                Ok(Identity {
                    user: Some(given.to_owned()),
                    permissions,
                    account: None,
                    ..Identity::default()
                })
            } else {
                Err(AuthError::BadPassword(given.to_owned()))
            };
        }
        match user {
            Some(name) => Err(AuthError::UnknownUser(name.to_owned())),
            None => Err(AuthError::MissingCredentials),
        }
    }
}

impl Authenticator {
    /// Operator mode: the user JWT (CONNECT's, or a websocket cookie's),
    /// verified along operator → account → user, then the nonce signature
    /// unless it is a bearer token.
    fn authenticate_jwt(
        &self,
        operator: &OperatorMode,
        request: &AuthRequest<'_>,
        kind: ConnectionKind,
    ) -> Result<Identity, AuthError> {
        let cookie = || {
            let name = self
                .config
                .websocket
                .jwt_cookie
                .as_ref()
                .filter(|_| kind == ConnectionKind::Websocket)?;
            request
                .cookies
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let jwt = present(request.jwt)
            .or_else(cookie)
            .ok_or(AuthError::MissingCredentials)?;
        let claims = decode_and_verify(jwt).map_err(AuthError::Jwt)?;
        if claims.nats.kind != "user" {
            return Err(AuthError::Jwt(JwtError::Malformed));
        }
        let account_key = if claims.nats.issuer_account.is_empty() {
            &claims.iss
        } else {
            &claims.nats.issuer_account
        };
        // `resolver_pinned_accounts`: only those (and the system account).
        if let Some(pinned) = &operator.pinned_accounts
            && !pinned.contains(account_key)
            && operator.system_account.as_ref() != Some(account_key)
        {
            return Err(AuthError::UntrustedIssuer);
        }
        let account = operator
            .accounts
            .get(account_key)
            .ok_or(AuthError::UntrustedIssuer)?;
        if claims.iss != account.key && !account.signing_keys.contains(&claims.iss) {
            return Err(AuthError::UntrustedIssuer);
        }
        if (claims.exp > 0 && request.now >= claims.exp)
            || (claims.nbf > 0 && request.now < claims.nbf)
        {
            return Err(AuthError::Expired);
        }
        let revoked_at = account
            .revocations
            .get(&claims.sub)
            .or_else(|| account.revocations.get("*"));
        if revoked_at.is_some_and(|&at| claims.iat <= at) {
            return Err(AuthError::Revoked);
        }
        if !claims.nats.allowed_connection_types.is_empty() {
            // Unknown types are skipped, as nats-server skips them.
            let allowed: Vec<ConnectionKind> = claims
                .nats
                .allowed_connection_types
                .iter()
                .filter_map(|t| ConnectionKind::parse(t))
                .collect();
            if !allowed.contains(&kind) {
                return Err(AuthError::ConnectionTypeNotAllowed(
                    claims.name.clone(),
                    kind,
                ));
            }
        }
        if !claims.nats.bearer_token {
            let key =
                PublicNkey::parse(&claims.sub, NkeyRole::User).ok_or(AuthError::BadSignature)?;
            let signature = present(request.sig).ok_or(AuthError::BadSignature)?;
            if !key.verify(request.nonce, signature) {
                return Err(AuthError::BadSignature);
            }
        }
        Ok(Identity {
            user: Some(if claims.name.is_empty() {
                claims.sub.clone()
            } else {
                claims.name.clone()
            }),
            permissions: permissions_of(&claims),
            account: Some(account.key.clone()),
            expires: (claims.exp > 0).then_some(claims.exp),
            max_payload: usize::try_from(claims.nats.payload).ok(),
            max_subscriptions: usize::try_from(claims.nats.subs).ok(),
        })
    }
}

fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

fn check_kind(user: &User, kind: ConnectionKind) -> Result<(), AuthError> {
    match &user.allowed_connection_types {
        Some(allowed) if !allowed.contains(&kind) => {
            Err(AuthError::ConnectionTypeNotAllowed(user.name.clone(), kind))
        }
        _ => Ok(()),
    }
}

/// Whether `given` is the password `stored` holds: a bcrypt hash (`$2a$`,
/// `$2b$`, `$2x$`, `$2y$` then the cost) is verified as bcrypt (costly: run
/// it away from threads that move messages); anything else is compared as
/// it is, in constant time.
pub fn passwords_match(stored: &Secret, given: &str) -> bool {
    let stored = stored.expose();
    if is_bcrypt(stored) {
        bcrypt::verify(given, stored).unwrap_or(false)
    } else {
        constant_time_eq(stored.as_bytes(), given.as_bytes())
    }
}

fn is_bcrypt(stored: &str) -> bool {
    let bytes = stored.as_bytes();
    bytes.len() > 7
        && stored.starts_with("$2")
        && matches!(bytes[2], b'a' | b'b' | b'x' | b'y')
        && bytes[3] == b'$'
        && bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
}

/// Compares without an early exit, so timing does not reveal how much of
/// a secret matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(text: &str) -> Authenticator {
        let root = starling_conf::parse_str(text).unwrap();
        Authenticator::new(AuthConfig::from_config(&root).unwrap())
    }

    fn req<'a>(
        kind: ConnectionKind,
        user: Option<&'a str>,
        pass: Option<&'a str>,
        token: Option<&'a str>,
    ) -> AuthRequest<'a> {
        AuthRequest {
            kind: Some(kind),
            user,
            pass,
            token,
            ..AuthRequest::default()
        }
    }

    use ConnectionKind::{Standard as Tcp, Websocket as Ws};

    /// Connection kind × credentials × configuration → identity or refusal.
    #[test]
    fn decision_table() {
        let users = auth(
            "authorization { users: [ {user: a, password: pa, allowed_connection_types: [STANDARD]}, \
             {user: w, password: pw, connection_types: websocket}, {user: both, password: pb, clients: [standard, websocket]}, {user: any, password: px} ] }",
        );
        // (request, the user it authenticates as, or None for a refusal)
        let cases: &[(AuthRequest<'_>, Option<&str>)] = &[
            (req(Tcp, Some("a"), Some("pa"), None), Some("a")),
            (req(Ws, Some("a"), Some("pa"), None), None),
            (req(Ws, Some("w"), Some("pw"), None), Some("w")),
            (req(Tcp, Some("w"), Some("pw"), None), None),
            (req(Tcp, Some("both"), Some("pb"), None), Some("both")),
            (req(Ws, Some("both"), Some("pb"), None), Some("both")),
            (req(Ws, Some("any"), Some("px"), None), Some("any")),
            (req(Tcp, Some("a"), Some("wrong"), None), None),
            (req(Tcp, Some("nobody"), Some("pa"), None), None),
            (req(Tcp, None, None, None), None),
        ];
        for (i, (request, expected)) in cases.iter().enumerate() {
            let got = users.authenticate(request).ok().and_then(|id| id.user);
            assert_eq!(got.as_deref(), *expected, "case {i}: {request:?}");
        }
    }

    #[test]
    fn single_user_token_and_bcrypt() {
        let single = auth("authorization { user: u, password: p }");
        assert!(
            single
                .authenticate(&req(Tcp, Some("u"), Some("p"), None))
                .is_ok()
        );
        assert!(
            single
                .authenticate(&req(Tcp, Some("u"), Some("x"), None))
                .is_err()
        );
        let token = auth("authorization { token: s3cr3t }");
        assert!(
            token
                .authenticate(&req(Tcp, None, None, Some("s3cr3t")))
                .is_ok()
        );
        assert_eq!(
            token.authenticate(&req(Tcp, None, None, Some("nope"))),
            Err(AuthError::BadToken)
        );
        let hash = bcrypt::hash("hunter2", 4).unwrap();
        let hashed = auth(&format!(
            "authorization {{ users: [ {{user: b, password: \"{hash}\"}} ] }}"
        ));
        assert!(
            hashed
                .authenticate(&req(Tcp, Some("b"), Some("hunter2"), None))
                .is_ok()
        );
        assert!(
            hashed
                .authenticate(&req(Tcp, Some("b"), Some(&hash), None))
                .is_err(),
            "the hash itself is no password"
        );
        assert!(!auth("port: 1").required(Tcp));
    }

    #[test]
    fn no_auth_users_and_the_websocket_override() {
        let a = auth(
            "authorization { users: [ {user: tcpdef, password: x}, {user: wsdef, password: y, allowed_connection_types: [WEBSOCKET]} ] }\n\
             no_auth_user: tcpdef\nwebsocket { port: 1, no_tls: true, no_auth_user: wsdef }",
        );
        assert_eq!(
            a.authenticate(&AuthRequest::new(Tcp))
                .unwrap()
                .user
                .as_deref(),
            Some("tcpdef")
        );
        assert_eq!(
            a.authenticate(&AuthRequest::new(Ws))
                .unwrap()
                .user
                .as_deref(),
            Some("wsdef")
        );
        assert!(!a.info_auth_required(Tcp) && !a.info_auth_required(Ws));
        assert_eq!(
            a.authenticate(&req(Ws, Some("tcpdef"), Some("x"), None))
                .unwrap()
                .user
                .as_deref(),
            Some("tcpdef")
        );

        let o = auth(
            "authorization { token: main }\nwebsocket { port: 1, no_tls: true, authorization { username: wu, password: wp, timeout: 5 } }",
        );
        assert!(
            o.authenticate(&req(Ws, Some("wu"), Some("wp"), None))
                .is_ok()
        );
        assert!(
            o.authenticate(&req(Ws, None, None, Some("main"))).is_err(),
            "the main token does not open the websocket port"
        );
        assert!(o.authenticate(&req(Tcp, None, None, Some("main"))).is_ok());
        assert_eq!(
            (o.timeout(Ws), o.timeout(Tcp)),
            (Duration::from_secs(5), Duration::from_secs(2))
        );
    }

    #[test]
    fn cookies_stand_in_for_missing_credentials() {
        let a = auth(
            "authorization { users: [ {user: c, password: cp} ] }\nwebsocket { port: 1, no_tls: true, user_cookie: u, pass_cookie: p }",
        );
        let cookies = vec![
            ("u".to_owned(), "c".to_owned()),
            ("p".to_owned(), "cp".to_owned()),
        ];
        let with = AuthRequest {
            cookies: &cookies,
            ..AuthRequest::new(Ws)
        };
        assert_eq!(a.authenticate(&with).unwrap().user.as_deref(), Some("c"));
        let tcp = AuthRequest {
            cookies: &cookies,
            ..AuthRequest::new(Tcp)
        };
        assert!(
            a.authenticate(&tcp).is_err(),
            "cookies are a websocket thing"
        );
    }

    #[test]
    fn start_up_errors() {
        let errors = |text: &str| {
            let root = starling_conf::parse_str(text).unwrap();
            AuthConfig::from_config(&root)
                .unwrap_err()
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            errors("no_auth_user: x"),
            vec!["no_auth_user: \"x\" present, but users are not defined"]
        );
        assert_eq!(
            errors("authorization { users: [{user: a, password: b}] }\nno_auth_user: x"),
            vec![
                "no_auth_user: \"x\" not present as user in authorization block or account configuration"
            ]
        );
        assert_eq!(
            errors("authorization { user: a, users: [{user: b}] }"),
            vec!["Can not have a single user/pass and a users array"]
        );
        assert_eq!(
            errors(
                "authorization { users: [{user: b}] }\nwebsocket { authorization { token: t } }"
            ),
            vec!["websocket authentication token not compatible with presence of users/nkeys"]
        );
        assert_eq!(
            errors("authorization { users: [{user: b, allowed_connection_types: [BOGUS]}] }"),
            vec!["unknown connection type \"BOGUS\""]
        );
        assert_eq!(
            errors("authorization { users: [{nkey: UABC}] }"),
            vec!["not a valid user nkey: \"UABC\""]
        );
        assert!(
            errors("accounts { A { users: [{user: b, password: c}], jetstream: enabled } }")[0]
                .contains("not supported yet")
        );
    }

    #[test]
    fn accounts_hold_their_users() {
        let a = auth(
            "accounts { A { users: [ {user: a, password: x} ] }, B: { users: [ {user: b, password: y} ] } }",
        );
        let id = a
            .authenticate(&req(Tcp, Some("b"), Some("y"), None))
            .unwrap();
        assert_eq!(
            (id.user.as_deref(), id.account.as_deref()),
            (Some("b"), Some("B"))
        );
        let errors = |text: &str| {
            let root = starling_conf::parse_str(text).unwrap();
            AuthConfig::from_config(&root)
                .unwrap_err()
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
        };
        assert!(errors("accounts { A { jetstream: enabled } }")[0].contains("not supported yet"));
        assert_eq!(
            errors("authorization { token: t }\naccounts { A {} }"),
            vec!["Can not have a token and accounts"]
        );
        assert_eq!(
            errors("accounts { A { users: [{user: a}] }, B { users: [{user: a}] } }"),
            vec!["duplicate user \"a\""]
        );
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/../../tests/fixtures/operator/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn operator_mode() -> Authenticator {
        let root = starling_conf::parse_str(&fixture("server.conf")).unwrap();
        Authenticator::new(AuthConfig::from_config(&root).unwrap())
    }

    fn creds(name: &str) -> (String, String) {
        let text = fixture(&format!("{name}.creds"));
        let jwt = crate::jwt::jwt_from_creds(&text).unwrap().to_owned();
        (jwt, text)
    }

    /// Operator-mode decisions that need no signature: bearer, expiry,
    /// revocation, unknown signer, connection types (the signed ones are
    /// covered end to end with real clients).
    #[test]
    fn operator_mode_decisions() {
        let auth = operator_mode();
        assert!(auth.required(Tcp) && auth.needs_nonce());
        let now = 1_800_000_000;
        let decide = |name: &str, kind| {
            let (jwt, _) = creds(name);
            let request = AuthRequest {
                kind: Some(kind),
                jwt: Some(&jwt),
                now,
                nonce: b"n",
                ..AuthRequest::default()
            };
            auth.authenticate(&request)
        };
        assert_eq!(
            decide("bearer", Tcp).unwrap().user.as_deref(),
            Some("bearer")
        );
        assert_eq!(decide("expired", Tcp), Err(AuthError::Expired));
        assert_eq!(decide("revoked", Tcp), Err(AuthError::Revoked));
        assert_eq!(
            decide("unknown_signer", Tcp),
            Err(AuthError::UntrustedIssuer)
        );
        assert_eq!(
            decide("plain", Tcp),
            Err(AuthError::BadSignature),
            "a non-bearer JWT needs the nonce signed"
        );
        assert!(matches!(
            decide("websocket_only", Tcp),
            Err(AuthError::ConnectionTypeNotAllowed(..))
        ));
        assert_eq!(
            decide("websocket_only", Ws),
            Err(AuthError::BadSignature),
            "right kind, but unsigned"
        );
        let (jwt, _) = creds("bearer");
        let cookies = vec![("jwt".to_owned(), jwt)];
        let via_cookie = AuthRequest {
            kind: Some(Ws),
            cookies: &cookies,
            now,
            ..AuthRequest::default()
        };
        assert!(auth.authenticate(&via_cookie).is_ok());
        let other_cookie = vec![("other".to_owned(), cookies[0].1.clone())];
        let ignored = AuthRequest {
            kind: Some(Ws),
            cookies: &other_cookie,
            now,
            ..AuthRequest::default()
        };
        assert_eq!(
            auth.authenticate(&ignored),
            Err(AuthError::MissingCredentials)
        );
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "[REDACTED]");
        let config = AuthConfig::from_config(
            &starling_conf::parse_str("authorization { user: u, password: hunter2 }").unwrap(),
        )
        .unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
