//! The configuration blocks authentication reads: `authorization`,
//! `no_auth_user`, and the websocket block's `authorization`,
//! `no_auth_user` and cookie names, checked as nats-server checks them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use starling_conf::{ConfError, Map, Value, ValueKind};

use crate::links::{Export, Import, check as check_links, read_exports, read_imports};
use crate::nkey::{NkeyRole, PublicNkey};
use crate::operator::OperatorMode;
use crate::permissions::read_permissions;
use crate::{ConnectionKind, Permissions};

/// A password or token: never printed, not even by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for comparing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// A user of the `users` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user name.
    pub name: String,
    /// Plain or bcrypt (`$2a$`, `$2b$`, ...) password.
    pub password: Secret,
    /// Connection kinds allowed; `None` allows every kind.
    pub allowed_connection_types: Option<Vec<ConnectionKind>>,
    /// Its permissions (or `default_permissions`); `None`: everything.
    pub permissions: Option<Arc<Permissions>>,
    /// The account it belongs to; `None`: the global account.
    pub account: Option<String>,
    /// For an nkey user: its public key (the user signs the INFO nonce
    /// instead of sending a password). Its `name` is the key too.
    pub nkey: Option<String>,
}

/// The websocket block's authentication settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebsocketAuth {
    /// `authorization { username }` for websocket clients.
    pub username: Option<String>,
    /// `authorization { password }`.
    pub password: Option<Secret>,
    /// `authorization { token }`.
    pub token: Option<Secret>,
    /// `authorization { timeout }`.
    pub timeout: Option<Duration>,
    /// The websocket block's `no_auth_user`.
    pub no_auth_user: Option<String>,
    /// Cookie holding the user name when CONNECT has none.
    pub user_cookie: Option<String>,
    /// Cookie holding the password when CONNECT has none.
    pub pass_cookie: Option<String>,
    /// Cookie holding the token when CONNECT has none.
    pub token_cookie: Option<String>,
    /// Cookie holding the user JWT (operator mode) when CONNECT has none.
    pub jwt_cookie: Option<String>,
    /// The websocket block's `tls { verify_and_map }` (set by the server).
    pub tls_map: bool,
}

impl WebsocketAuth {
    /// nats-server's "auth override": websocket clients authenticate with
    /// this block instead of the main one.
    pub fn overrides(&self) -> bool {
        self.username.is_some() || self.token.is_some() || self.no_auth_user.is_some()
    }
}

/// Everything authentication is configured with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// `authorization { user, password }`.
    pub username: Option<String>,
    /// Its password.
    pub password: Option<Secret>,
    /// `authorization { token }`.
    pub token: Option<Secret>,
    /// `authorization { users: [...] }`.
    pub users: Vec<User>,
    /// `authorization { timeout }` (nats-server's default: 2 s).
    pub timeout: Option<Duration>,
    /// `authorization { permissions }`: for the single user or token.
    pub permissions: Option<Arc<Permissions>>,
    /// Top-level `no_auth_user`.
    pub no_auth_user: Option<String>,
    /// The websocket block's settings.
    pub websocket: WebsocketAuth,
    /// Accounts (`accounts { NAME { users: [...] } }`), in file order.
    pub accounts: Vec<String>,
    /// Every account's `exports`, in file order.
    pub exports: Vec<Export>,
    /// Every account's `imports`, in file order.
    pub imports: Vec<Import>,
    /// Operator mode (trusted operators and their accounts).
    pub operator: Option<OperatorMode>,
    /// Subject mappings by account (`$G` for the top-level `mappings`).
    pub mappings: Vec<(String, Vec<starling_subject::Mapping>)>,
    /// The client port's `tls { verify_and_map }`: clients are the users
    /// their certificates name (set by the server from its TLS options).
    pub tls_map: bool,
    /// The leafnode port's `tls { verify_and_map }`: leafs are the users
    /// their certificates name (set by the server from its options).
    pub leaf_tls_map: bool,
    /// Accounts' `limits`, by account.
    pub account_limits: Vec<(String, crate::AccountLimits)>,
    /// Accounts' `nkey`, by account (checked; nats-server keeps it as
    /// the account's identity and uses it for nothing else in this mode).
    pub account_nkeys: Vec<(String, String)>,
}

impl AuthConfig {
    /// Reads the top-level `authorization` and `no_auth_user`, and the
    /// authentication keys of the `websocket` block; reports every problem.
    pub fn from_config(root: &Value) -> Result<Self, Vec<ConfError>> {
        let no_files = |path: &str| -> std::io::Result<String> {
            Err(std::io::Error::other(format!(
                "reading {path} needs AuthConfig::from_config_with"
            )))
        };
        Self::from_config_with(root, &no_files)
    }

    /// Like [`from_config`](Self::from_config), reading operator JWTs given
    /// as file paths with `load` (the crate itself reads no files).
    pub fn from_config_with(
        root: &Value,
        load: &dyn Fn(&str) -> std::io::Result<String>,
    ) -> Result<Self, Vec<ConfError>> {
        let map = root.as_map("configuration").map_err(|e| vec![e])?;
        let mut config = Self::default();
        let mut errors = Vec::new();
        config.operator = OperatorMode::from_config(map, load, &mut errors);
        if let Some(operator) = &config.operator {
            // Every preloaded account is an account of its own, with the
            // exports and imports its JWT writes.
            config.accounts.extend(operator.accounts.keys().cloned());
            config.relink_operator_accounts();
        }
        if let Some((_, block)) = map.get_ignore_case("authorization") {
            config.read_authorization(block, &mut errors);
        }
        if let Some((_, value)) = map.get_ignore_case("no_auth_user") {
            match value.as_str("no_auth_user") {
                Ok(name) => config.no_auth_user = Some(name.to_owned()),
                Err(error) => errors.push(error),
            }
        }
        if let Some((_, block)) = map.get_ignore_case("accounts") {
            config.read_accounts(block, &mut errors);
        }
        for name in ["mappings", "maps"] {
            if let Some((_, block)) = map.get_ignore_case(name) {
                let mappings = crate::mappings::read_mappings(block, &mut errors);
                config.add_mappings("$G", mappings);
            }
        }
        let websocket = map
            .get_ignore_case("websocket")
            .or_else(|| map.get_ignore_case("ws"));
        if let Some((_, block)) = websocket
            && let ValueKind::Map(ws) = &block.kind
        {
            config.read_websocket(ws, &mut errors);
        }
        config.validate(root, websocket.map(|(_, v)| v), &mut errors);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// Adds `account`'s mappings after those it has (a later one of the
    /// same source replaces the earlier, as in nats-server).
    fn add_mappings(&mut self, account: &str, mappings: Vec<starling_subject::Mapping>) {
        let index = match self.mappings.iter().position(|(name, _)| name == account) {
            Some(index) => index,
            None => {
                self.mappings.push((account.to_owned(), Vec::new()));
                self.mappings.len() - 1
            }
        };
        let list = &mut self.mappings[index].1;
        for mapping in mappings {
            match list.iter_mut().find(|m| m.source() == mapping.source()) {
                Some(old) => *old = mapping,
                None => list.push(mapping),
            }
        }
    }

    /// The subject mappings of `account`.
    pub fn mappings_of(&self, account: &str) -> Vec<starling_subject::Mapping> {
        self.mappings
            .iter()
            .find(|(name, _)| name == account)
            .map(|(_, list)| list.clone())
            .unwrap_or_default()
    }

    /// Adds or replaces an account JWT (operator mode: a claim update, or
    /// a directory resolver's file); its key.
    ///
    /// # Errors
    ///
    /// Not operator mode, or what is wrong with the JWT.
    pub fn upsert_account_jwt(&mut self, jwt: &str) -> Result<String, String> {
        let operator = self.operator.as_mut().ok_or("not in operator mode")?;
        let account = operator.account_jwt(None, jwt)?;
        let key = account.key.clone();
        operator.accounts.insert(key.clone(), account);
        if !self.accounts.contains(&key) {
            self.accounts.push(key.clone());
        }
        self.relink_operator_accounts();
        Ok(key)
    }

    /// Operator mode: takes the accounts `running` holds that this
    /// configuration lacks (fetched by a URL or cache resolver, pushed to
    /// a directory), so that a reload keeps them.
    pub fn keep_accounts_of(&mut self, running: &Self) {
        let (Some(ours), Some(theirs)) = (self.operator.as_mut(), running.operator.as_ref()) else {
            return;
        };
        let mut added = false;
        for (key, account) in &theirs.accounts {
            if !ours.accounts.contains_key(key) {
                ours.accounts.insert(key.clone(), account.clone());
                added = true;
            }
        }
        if added {
            for key in theirs.accounts.keys() {
                if !self.accounts.contains(key) {
                    self.accounts.push(key.clone());
                }
            }
            self.relink_operator_accounts();
        }
    }

    /// Takes an account JWT out (a directory resolver's delete): its users
    /// are refused from now on.
    pub fn remove_account_jwt(&mut self, key: &str) {
        if let Some(operator) = self.operator.as_mut() {
            operator.accounts.remove(key);
        }
        self.accounts.retain(|name| name != key);
        self.relink_operator_accounts();
    }

    /// Operator mode: the exports and imports the account JWTs write.
    fn relink_operator_accounts(&mut self) {
        let Some(operator) = &self.operator else {
            return;
        };
        let links = operator
            .accounts
            .iter()
            .map(|(key, account)| (key.clone(), account.links.clone()))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        (self.exports, self.imports) = crate::jwt_links::build(&links, now);
        self.account_limits = operator
            .accounts
            .iter()
            .filter(|(_, account)| !account.limits.is_unlimited())
            .map(|(key, account)| (key.clone(), account.limits))
            .collect();
    }

    /// The `limits` of `account` (none: unlimited).
    pub fn limits_of(&self, account: &str) -> crate::AccountLimits {
        self.account_limits
            .iter()
            .find(|(name, _)| name == account)
            .map(|(_, limits)| *limits)
            .unwrap_or_default()
    }

    /// True when anything asks clients to authenticate.
    pub fn is_configured(&self) -> bool {
        self.username.is_some()
            || self.token.is_some()
            || !self.users.is_empty()
            || self.websocket.overrides()
    }

    fn read_authorization(&mut self, block: &Value, errors: &mut Vec<ConfError>) {
        let map = match block.as_map("authorization") {
            Ok(map) => map,
            Err(error) => return errors.push(error),
        };
        let mut defaults = None;
        for (key, value) in map.options() {
            let result = match key.name.to_ascii_lowercase().as_str() {
                "user" | "username" => value
                    .as_str("user")
                    .map(|u| self.username = Some(u.to_owned())),
                "pass" | "password" => value
                    .as_str("password")
                    .map(|p| self.password = Some(Secret::new(p))),
                "token" => value
                    .as_str("token")
                    .map(|t| self.token = Some(Secret::new(t))),
                "timeout" => timeout(value).map(|t| self.timeout = Some(t)),
                "users" => users(value).map(|u| self.users = u),
                "permissions" => {
                    read_permissions(value).map(|p| self.permissions = Some(Arc::new(p)))
                }
                "default_permissions" => {
                    read_permissions(value).map(|p| defaults = Some(Arc::new(p)))
                }
                _ => Err(ConfError::unknown_field(key)),
            };
            if let Err(error) = result {
                errors.push(error);
            }
        }
        if let Some(defaults) = defaults {
            for user in self.users.iter_mut().filter(|u| u.permissions.is_none()) {
                user.permissions = Some(Arc::clone(&defaults));
            }
        }
        if !self.users.is_empty() {
            if self.username.is_some() {
                errors.push(block.error("Can not have a single user/pass and a users array"));
            }
            if self.token.is_some() {
                errors.push(block.error("Can not have a token and a users array"));
            }
        }
    }

    /// `accounts { NAME { users: [...] } ... }`: users join the users list
    /// with their account.
    fn read_accounts(&mut self, block: &Value, errors: &mut Vec<ConfError>) {
        let map = match block.as_map("accounts") {
            Ok(map) => map,
            Err(error) => return errors.push(error),
        };
        for (name, account) in map.options() {
            if name.name == "$G" || self.accounts.contains(&name.name) {
                errors.push(ConfError::at(
                    &name.span,
                    format!("account {:?} defined twice or reserved", name.name),
                ));
                continue;
            }
            self.accounts.push(name.name.clone());
            let account_map = match account.as_map("accounts") {
                Ok(map) => map,
                Err(error) => {
                    errors.push(error);
                    continue;
                }
            };
            let mut defaults = None;
            let first_user = self.users.len();
            for (key, value) in account_map.options() {
                let result = match key.name.to_ascii_lowercase().as_str() {
                    "users" => users(value).map(|users| {
                        self.users.extend(users.into_iter().map(|u| User {
                            account: Some(name.name.clone()),
                            ..u
                        }));
                    }),
                    "exports" => {
                        let exports = read_exports(&name.name, value, errors);
                        self.exports.extend(exports);
                        Ok(())
                    }
                    "imports" => {
                        let imports = read_imports(&name.name, value, errors);
                        self.imports.extend(imports);
                        Ok(())
                    }
                    "mappings" | "maps" => {
                        let mappings = crate::mappings::read_mappings(value, errors);
                        self.add_mappings(&name.name, mappings);
                        Ok(())
                    }
                    "default_permissions" => {
                        read_permissions(value).map(|p| defaults = Some(Arc::new(p)))
                    }
                    "limits" => crate::account_settings::read_limits(value)
                        .map(|limits| self.account_limits.push((name.name.clone(), limits))),
                    "nkey" => crate::account_settings::read_account_nkey(value)
                        .map(|nkey| self.account_nkeys.push((name.name.clone(), nkey))),
                    "jetstream" => Err(ConfError::not_supported_yet(key, "this account setting")),
                    _ => Err(ConfError::unknown_field(key)),
                };
                if let Err(error) = result {
                    errors.push(error);
                }
            }
            // The account's users without permissions of their own take
            // its defaults, whatever the order of the keys.
            if let Some(defaults) = defaults {
                for user in self.users[first_user..]
                    .iter_mut()
                    .filter(|u| u.permissions.is_none())
                {
                    user.permissions = Some(Arc::clone(&defaults));
                }
            }
        }
        errors.extend(check_links(&self.accounts, &self.exports, &self.imports));
        let mut seen = std::collections::HashSet::new();
        for user in &self.users {
            if !seen.insert(user.name.clone()) {
                errors.push(block.error(format!("duplicate user {:?}", user.name)));
            }
        }
        if !self.accounts.is_empty() {
            if self.username.is_some() {
                errors.push(block.error("Can not have a single user/pass and accounts"));
            }
            if self.token.is_some() {
                errors.push(block.error("Can not have a token and accounts"));
            }
        }
    }

    fn read_websocket(&mut self, ws: &Map, errors: &mut Vec<ConfError>) {
        let auth = &mut self.websocket;
        for (key, value) in ws.options() {
            let result = match key.name.to_ascii_lowercase().as_str() {
                "authorization" | "authentication" => simple_auth(value, auth),
                "no_auth_user" => value
                    .as_str("no_auth_user")
                    .map(|n| auth.no_auth_user = Some(n.to_owned())),
                "user_cookie" => value
                    .as_str("user_cookie")
                    .map(|n| auth.user_cookie = Some(n.to_owned())),
                "pass_cookie" => value
                    .as_str("pass_cookie")
                    .map(|n| auth.pass_cookie = Some(n.to_owned())),
                "jwt_cookie" => value
                    .as_str("jwt_cookie")
                    .map(|n| auth.jwt_cookie = Some(n.to_owned())),
                "token_cookie" => value
                    .as_str("token_cookie")
                    .map(|n| auth.token_cookie = Some(n.to_owned())),
                _ => Ok(()),
            };
            if let Err(error) = result {
                errors.push(error);
            }
        }
    }

    /// nats-server's start-up checks, with its texts.
    fn validate(&self, root: &Value, websocket: Option<&Value>, errors: &mut Vec<ConfError>) {
        if self.operator.is_none()
            && let Some(cookie) = &self.websocket.jwt_cookie
        {
            errors.push(ConfError::at(
                &websocket.unwrap_or(root).span,
                format!("trusted operators or trusted keys configuration is required for JWT authentication via cookie {cookie:?}"),
            ));
        }
        if self.operator.is_some() {
            for name in [&self.no_auth_user, &self.websocket.no_auth_user]
                .into_iter()
                .flatten()
            {
                errors.push(ConfError::at(
                    &root.span,
                    format!(
                        "no_auth_user not compatible with Trusted Operator (no_auth_user: {name:?})"
                    ),
                ));
            }
            if !self.users.is_empty() || self.username.is_some() || self.token.is_some() {
                errors.push(ConfError::at(
                    &root.span,
                    "operator mode can't be combined with authorization users or tokens",
                ));
            }
            return;
        }
        let at = |v: Option<&Value>| v.unwrap_or(root).span.clone();
        let ws_span = at(websocket);
        if !self.users.is_empty() {
            if self.websocket.username.is_some() {
                errors.push(ConfError::at(
                    &ws_span,
                    "websocket authentication username not compatible with presence of users/nkeys",
                ));
            }
            if self.websocket.token.is_some() {
                errors.push(ConfError::at(
                    &ws_span,
                    "websocket authentication token not compatible with presence of users/nkeys",
                ));
            }
        }
        let top = root
            .as_map("configuration")
            .ok()
            .and_then(|m| m.get_ignore_case("no_auth_user"))
            .map(|(_, v)| v.clone());
        for (name, span) in [
            (
                &self.no_auth_user,
                top.map(|v| v.span).unwrap_or_else(|| root.span.clone()),
            ),
            (&self.websocket.no_auth_user, ws_span),
        ] {
            let Some(name) = name else { continue };
            if self.users.is_empty() {
                errors.push(ConfError::at(
                    &span,
                    format!("no_auth_user: \"{name}\" present, but users are not defined"),
                ));
            } else if !self.users.iter().any(|u| &u.name == name) {
                errors.push(ConfError::at(
                    &span,
                    format!("no_auth_user: \"{name}\" not present as user in authorization block or account configuration"),
                ));
            }
        }
    }
}

/// `timeout`: seconds as a number (nats-server's form), or a duration string.
fn timeout(value: &Value) -> Result<Duration, ConfError> {
    match value.kind {
        ValueKind::Integer(seconds) if seconds >= 0 => Ok(Duration::from_secs(seconds as u64)),
        ValueKind::Float(seconds) if seconds >= 0.0 && seconds.is_finite() => {
            Ok(Duration::from_secs_f64(seconds))
        }
        _ => value.as_duration("timeout"),
    }
}

fn simple_auth(value: &Value, auth: &mut WebsocketAuth) -> Result<(), ConfError> {
    let map = value.as_map("authorization")?;
    for (key, value) in map.options() {
        match key.name.to_ascii_lowercase().as_str() {
            "user" | "username" => auth.username = Some(value.as_str("user")?.to_owned()),
            "pass" | "password" => auth.password = Some(Secret::new(value.as_str("password")?)),
            "token" => auth.token = Some(Secret::new(value.as_str("token")?)),
            "timeout" => auth.timeout = Some(timeout(value)?),
            _ => return Err(ConfError::unknown_field(key)),
        }
    }
    Ok(())
}

fn users(value: &Value) -> Result<Vec<User>, ConfError> {
    let mut out = Vec::new();
    for entry in value.as_array("users")? {
        let map = entry.as_map("users")?;
        let (mut name, mut password, mut allowed, mut permissions, mut nkey) =
            (None, None, None, None, None);
        for (key, value) in map.options() {
            match key.name.to_ascii_lowercase().as_str() {
                "user" | "username" => name = Some(value.as_str("user")?.to_owned()),
                "pass" | "password" => password = Some(Secret::new(value.as_str("password")?)),
                "allowed_connection_types" | "connection_types" | "clients" => {
                    allowed = Some(kinds(value)?)
                }
                "permissions" => permissions = Some(Arc::new(read_permissions(value)?)),
                "nkey" => {
                    let text = value.as_str("nkey")?;
                    if PublicNkey::parse(text, NkeyRole::User).is_none() {
                        return Err(value.error(format!("not a valid user nkey: {text:?}")));
                    }
                    nkey = Some(text.to_owned());
                }
                _ => return Err(ConfError::unknown_field(key)),
            }
        }
        if name.is_some() && nkey.is_some() {
            return Err(entry.error("users: an entry has either 'user' or 'nkey', not both"));
        }
        let name = name
            .or_else(|| nkey.clone())
            .ok_or_else(|| entry.error("users: an entry without 'user' or 'nkey'"))?;
        if out.iter().any(|u: &User| u.name == name) {
            return Err(entry.error(format!("users: duplicate user {name:?}")));
        }
        out.push(User {
            name,
            password: password.unwrap_or_else(|| Secret::new("")),
            allowed_connection_types: allowed,
            permissions,
            account: None,
            nkey,
        });
    }
    Ok(out)
}

fn kinds(value: &Value) -> Result<Vec<ConnectionKind>, ConfError> {
    value
        .one_or_many()
        .iter()
        .map(|item| {
            let name = item.as_str("allowed_connection_types")?;
            ConnectionKind::parse(name)
                .ok_or_else(|| item.error(format!("unknown connection type {name:?}")))
        })
        .collect()
}
