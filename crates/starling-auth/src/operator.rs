//! Operator mode: trusted operator JWTs, a memory resolver preloaded with
//! account JWTs, and the chain operator → account → user that every user
//! JWT must follow.

use std::collections::HashMap;
use std::sync::Arc;

use starling_conf::{ConfError, Map, Value};

use crate::jwt::{Claims, decode_and_verify, role_of};
use crate::nkey::NkeyRole;
use crate::{PermissionEntry, Permissions, SubjectPermission};

/// An account known from the resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountJwt {
    /// The account's public key (`A…`).
    pub key: String,
    /// Its name.
    pub name: String,
    /// Keys that may sign its users, besides the account key itself.
    pub signing_keys: Vec<String>,
    /// Revoked users: key (or `*`) → revoked if issued at or before.
    pub revocations: HashMap<String, i64>,
    /// Its exports and imports as the JWT writes them.
    pub links: crate::jwt_links::JwtLinks,
    /// Its `limits` (connections, subscriptions, payload, leaf links).
    pub limits: crate::AccountLimits,
}

/// The trusted operators and the accounts they vouch for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorMode {
    /// Operator keys and their signing keys.
    pub trusted_keys: Vec<String>,
    /// `system_account`.
    pub system_account: Option<String>,
    /// Accounts from `resolver_preload`, by key.
    pub accounts: HashMap<String, AccountJwt>,
    /// `resolver_pinned_accounts`: only users of these accounts (and of
    /// the system account) are let in; `None`: any account.
    pub pinned_accounts: Option<Vec<String>>,
    /// Where account JWTs come from besides `resolver_preload`.
    pub resolver: Resolver,
    /// `resolver_tls`: the URL resolver's HTTPS client.
    pub resolver_tls: Option<crate::resolver_url::ResolverTls>,
}

/// `resolver`: `MEMORY`, or a directory of account JWTs that the system
/// account's claim updates add to (`{ type: full | cache, dir }`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Resolver {
    /// The preloaded accounts only.
    #[default]
    Memory,
    /// `<dir>/<account key>.jwt` files, read at start and written by
    /// claim updates.
    Directory {
        /// The directory.
        dir: std::path::PathBuf,
        /// `type: full` (every account, kept) rather than `cache`.
        full: bool,
        /// `allow_delete` (full only): `$SYS.REQ.CLAIMS.DELETE` is
        /// answered; the file is renamed `<key>.jwt.deleted`, or removed
        /// with `hard_delete`.
        delete: Option<DeleteMode>,
        /// A cache's `limit` (most JWTs kept, 1000 by default) and `ttl`
        /// (how long one is kept), and how long a lookup of an account it
        /// lacks waits for a full resolver's answer (`timeout`, 1.9 s).
        cache: CacheSettings,
    },
    /// `URL(<base url>)`: an account JWT is fetched from
    /// `<base url><account key>` when a user of an account not known yet
    /// connects, then kept.
    Url {
        /// The base URL, ending in `/`.
        url: String,
    },
}

/// A cache resolver's bounds (nats-server's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// `limit`: most account JWTs in the directory.
    pub limit: u64,
    /// `ttl`: how long a fetched JWT is kept (`None`: for ever).
    pub ttl: Option<std::time::Duration>,
    /// `timeout`: how long a lookup waits.
    pub timeout: std::time::Duration,
    /// `interval` (full only): how often the directory is compared with
    /// the other servers' (`$SYS.REQ.CLAIMS.PACK`); a minute by default.
    pub interval: std::time::Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            limit: 1000,
            ttl: None,
            timeout: std::time::Duration::from_millis(1900),
            interval: std::time::Duration::from_secs(60),
        }
    }
}

/// How a directory resolver deletes an account's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteMode {
    /// Renamed `<key>.jwt.deleted` (nats-server 2.9's only way).
    Rename,
    /// Removed (`hard_delete: true`, nats-server 2.10's).
    Remove,
}

/// Reads an operator JWT given inline or as a file (read with `load`).
fn operator_jwt(
    value: &Value,
    load: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<String, ConfError> {
    let text = value.as_str("operator")?;
    let inline = crate::jwt::decorated_jwt(text);
    if inline.starts_with("eyJ") && inline.matches('.').count() == 2 {
        return Ok(inline.to_owned());
    }
    load(text)
        .map(|t| crate::jwt::decorated_jwt(&t).to_owned())
        .map_err(|e| value.error(format!("operator: can't read {text:?}: {e}")))
}

/// `resolver`: `MEMORY`, or `{ type: full | cache, dir, ... }` (the
/// directory resolvers; nats-server's other keys are accepted: `limit`,
/// `ttl`, `interval`, `timeout`, `allow_delete`, `hard_delete`).
fn read_resolver_kind(value: &Value) -> Result<Resolver, ConfError> {
    let starling_conf::ValueKind::Map(map) = &value.kind else {
        return match value.as_str("resolver") {
            Ok(kind) if kind.trim().eq_ignore_ascii_case("MEMORY") || kind.trim().eq_ignore_ascii_case("MEM") => {
                Ok(Resolver::Memory)
            }
            Ok(kind) => match crate::resolver_url::url_resolver(kind) {
                Some(Ok(url)) => Ok(Resolver::Url { url }),
                Some(Err(reason)) => Err(value.error(reason)),
                None => Err(value.error(format!(
                    "resolver: {kind:?} is not one (MEMORY, URL(<url>), or a full or cache directory)"
                ))),
            },
            Err(error) => Err(error),
        };
    };
    let mut full = true;
    let mut dir = None;
    let (mut allow_delete, mut hard_delete, mut ttl, mut interval) = (false, false, false, false);
    let mut cache = CacheSettings::default();
    for (key, field) in map.options() {
        match key.name.to_ascii_lowercase().as_str() {
            "type" => {
                full = match field.as_str("type")?.to_ascii_lowercase().as_str() {
                    "full" => true,
                    "cache" => false,
                    other => {
                        return Err(field.error(format!(
                            "resolver type {other:?} is not supported yet (full or cache)"
                        )));
                    }
                };
            }
            "dir" => dir = Some(std::path::PathBuf::from(field.as_str("dir")?)),
            "allow_delete" => allow_delete = field.as_bool("allow_delete")?,
            "hard_delete" => hard_delete = field.as_bool("hard_delete")?,
            "ttl" => {
                ttl = true;
                cache.ttl = Some(field.as_duration("ttl")?).filter(|t| !t.is_zero());
            }
            "interval" => {
                interval = true;
                // nats-server: zero or less means the default.
                let every = field.as_duration("interval")?;
                if !every.is_zero() {
                    cache.interval = every;
                }
            }
            "limit" => {
                let limit = field.as_integer("limit")?;
                if limit > 0 {
                    cache.limit = u64::try_from(limit).unwrap_or(u64::MAX);
                }
            }
            "timeout" => cache.timeout = field.as_duration("timeout")?,
            _ => return Err(ConfError::unknown_field(key)),
        }
    }
    let dir =
        dir.ok_or_else(|| value.error("dir has no value and needs to point to a directory"))?;
    // nats-server's checks of what each type accepts.
    match (full, allow_delete, ttl, interval) {
        (false, true, _, _) => return Err(value.error("CACHE does not accept allow_delete")),
        (false, _, _, true) => return Err(value.error("CACHE does not accept sync")),
        (true, _, true, _) => return Err(value.error("FULL does not accept ttl")),
        _ => {}
    }
    let delete = allow_delete.then_some(if hard_delete {
        DeleteMode::Remove
    } else {
        DeleteMode::Rename
    });
    Ok(Resolver::Directory {
        dir,
        full,
        delete,
        cache,
    })
}

/// `trusted` / `trusted_keys`: operator public keys trusted without an
/// operator JWT (nats-server's texts for a bad one).
fn trusted_keys(value: &Value, errors: &mut Vec<ConfError>) -> Vec<String> {
    let mut keys = Vec::new();
    for item in value.one_or_many() {
        match item.as_str("trusted") {
            Ok(key) if role_of(key) == Some(NkeyRole::Operator) => keys.push(key.to_owned()),
            Ok(key) => errors.push(item.error(format!(
                "trust key {key:?} required to be a valid public operator nkey"
            ))),
            Err(_) => errors.push(item.error(format!(
                "error parsing trusted: unsupported type {}",
                item.kind_name()
            ))),
        }
    }
    keys
}

impl OperatorMode {
    /// Reads `operator`, `system_account`, `resolver` and
    /// `resolver_preload`; `None` when no operator is configured.
    pub(crate) fn from_config(
        map: &Map,
        load: &dyn Fn(&str) -> std::io::Result<String>,
        errors: &mut Vec<ConfError>,
    ) -> Option<Self> {
        let names = [
            "operator",
            "operators",
            "root",
            "roots",
            "root_operators",
            "root_operator",
        ];
        let trusted = map
            .get_ignore_case("trusted")
            .or_else(|| map.get_ignore_case("trusted_keys"));
        let operators = names.iter().find_map(|n| map.get_ignore_case(n));
        let mut mode = Self::default();
        let operators = match (operators, trusted) {
            (None, None) => return None,
            (Some((_, operators)), None) => operators,
            (None, Some((_, keys))) => {
                // Trusted keys alone: accounts come from the resolver, if
                // there is one (nats-server starts without one too; every
                // user is refused then).
                mode.trusted_keys = trusted_keys(keys, errors);
                mode.read_resolver(map, None, None, errors);
                return Some(mode);
            }
            (Some((_, operators)), Some(_)) => {
                errors.push(
                    operators.error("conflicting options for 'TrustedKeys' and 'TrustedOperators'"),
                );
                return None;
            }
        };
        let mut server_urls = Vec::new();
        for value in operators.one_or_many() {
            let claims = operator_jwt(value, load).and_then(|jwt| {
                decode_and_verify(&jwt).map_err(|e| value.error(format!("operator: {e}")))
            });
            match claims {
                Ok(claims) if claims.nats.kind == "operator" && claims.iss == claims.sub => {
                    server_urls.push(claims.nats.account_server_url.clone());
                    mode.trusted_keys.push(claims.sub.clone());
                    mode.trusted_keys
                        .extend(claims.nats.signing_keys.iter().map(|k| k.key().to_owned()));
                }
                Ok(_) => errors.push(value.error("operator: not a self-signed operator JWT")),
                Err(error) => errors.push(error),
            }
        }
        // One operator whose JWT names an account server: without a
        // `resolver`, nats-server fetches accounts from it (`nsc push`
        // writes under `/accounts`).
        let server = match server_urls.as_slice() {
            [url] if !url.is_empty() => {
                crate::resolver_url::base_url(&format!("{}/accounts", url.trim_end_matches('/')))
                    .ok()
            }
            _ => None,
        };
        mode.read_resolver(map, Some(operators), server, errors);
        Some(mode)
    }

    /// `system_account`, `resolver` (required with an operator JWT, given
    /// as `operators`, unless it names an `account_server`) and
    /// `resolver_preload`.
    fn read_resolver(
        &mut self,
        map: &Map,
        operators: Option<&Value>,
        account_server: Option<String>,
        errors: &mut Vec<ConfError>,
    ) {
        let mode = self;
        if let Some((_, value)) = map
            .get_ignore_case("system_account")
            .or_else(|| map.get_ignore_case("system"))
        {
            match value.as_str("system_account") {
                Ok(key) if role_of(key) == Some(NkeyRole::Account) => {
                    mode.system_account = Some(key.to_owned())
                }
                Ok(key) => errors
                    .push(value.error(format!("system_account: {key:?} is not an account key"))),
                Err(error) => errors.push(error),
            }
        }
        let resolver = ["resolver", "account_resolver", "accounts_resolver"]
            .iter()
            .find_map(|name| map.get_ignore_case(name));
        match resolver {
            Some((_, value)) => match read_resolver_kind(value) {
                Ok(kind) => mode.resolver = kind,
                Err(error) => errors.push(error),
            },
            None => match (account_server, operators) {
                (Some(url), _) => mode.resolver = Resolver::Url { url },
                (None, Some(operators)) => {
                    errors
                        .push(operators.error("operator mode needs a resolver (resolver: MEMORY)"));
                }
                (None, None) => {}
            },
        }
        if let Some((_, value)) = map.get_ignore_case("resolver_pinned_accounts") {
            let mut pinned = Vec::new();
            for item in value.one_or_many() {
                match item.as_str("resolver_pinned_accounts") {
                    Ok(key) if role_of(key) == Some(NkeyRole::Account) => {
                        pinned.push(key.to_owned())
                    }
                    Ok(key) => errors.push(item.error(format!(
                        "pinned account key {key:?} is not a valid public account nkey"
                    ))),
                    Err(error) => errors.push(error),
                }
            }
            mode.pinned_accounts = Some(pinned);
        }
        if let Some((_, value)) = map.get_ignore_case("resolver_tls") {
            match crate::resolver_url::read_resolver_tls(value) {
                Ok(tls) => mode.resolver_tls = Some(tls),
                Err(error) => errors.push(error),
            }
        }
        if let Some((_, preload)) = map.get_ignore_case("resolver_preload") {
            match preload.as_map("resolver_preload") {
                Ok(accounts) => {
                    for (key, jwt) in accounts.iter() {
                        match mode.account(&key.name, jwt) {
                            Ok(account) => {
                                mode.accounts.insert(account.key.clone(), account);
                            }
                            Err(error) => errors.push(error),
                        }
                    }
                }
                Err(error) => errors.push(error),
            }
        }
    }

    fn account(&self, key: &str, value: &Value) -> Result<AccountJwt, ConfError> {
        let jwt = value.as_str("resolver_preload")?;
        self.account_jwt(Some(key), jwt)
            .map_err(|e| value.error(format!("resolver_preload {key}: {e}")))
    }

    /// Checks an account JWT (of `key`, when given) as nats-server does:
    /// signed by its issuer, an account's, issued by a trusted operator
    /// key.
    ///
    /// # Errors
    ///
    /// What is wrong with it.
    pub fn account_jwt(&self, key: Option<&str>, jwt: &str) -> Result<AccountJwt, String> {
        let claims = decode_and_verify(jwt).map_err(|e| e.to_string())?;
        // Its subject names files of a directory resolver: an account's
        // public key and nothing else (nats-server's check).
        if claims.nats.kind != "account" || role_of(&claims.sub) != Some(NkeyRole::Account) {
            return Err("not an account JWT".into());
        }
        if let Some(key) = key
            && claims.sub != key
        {
            return Err(format!("not the account JWT of {key}"));
        }
        if !self.trusted_keys.contains(&claims.iss) {
            return Err("not issued by a trusted operator".into());
        }
        let signing_keys: Vec<String> = claims
            .nats
            .signing_keys
            .iter()
            .map(|k| k.key().to_owned())
            .collect();
        let links = crate::jwt_links::JwtLinks {
            exports: claims.nats.exports,
            imports: claims.nats.imports,
            signing_keys: signing_keys.clone(),
        };
        Ok(AccountJwt {
            key: claims.sub,
            name: claims.name,
            signing_keys,
            revocations: claims.nats.revocations,
            links,
            limits: claims.nats.limits.to_limits(),
        })
    }
}

/// The permissions a user JWT grants; `None` when it limits nothing.
pub(crate) fn permissions_of(claims: &Claims) -> Option<Arc<Permissions>> {
    let convert = |p: &crate::jwt::JwtPermission| -> Option<SubjectPermission> {
        if p.allow.is_none() && p.deny.as_ref().is_none_or(Vec::is_empty) {
            return None;
        }
        let entries = |list: &Vec<String>| {
            list.iter()
                .map(|text| {
                    let mut parts = text.split_whitespace();
                    PermissionEntry {
                        subject: parts.next().unwrap_or_default().to_owned(),
                        queue: parts.next().map(str::to_owned),
                    }
                })
                .collect::<Vec<_>>()
        };
        Some(SubjectPermission {
            allow: p.allow.as_ref().map(entries),
            deny: p.deny.as_ref().map(entries).unwrap_or_default(),
        })
    };
    let publish = convert(&claims.nats.publish);
    let subscribe = convert(&claims.nats.subscribe);
    (publish.is_some() || subscribe.is_some()).then(|| {
        Arc::new(Permissions {
            publish,
            subscribe,
            responses: None,
        })
    })
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use crate::AuthConfig;
    use crate::nkey::{NkeyRole, encode_public};

    /// A JWT signed by `signer`, as nsc makes them.
    fn jwt(signer: &SigningKey, issuer: &str, claims: serde_json::Value) -> String {
        let b64 = |bytes: &[u8]| data_encoding::BASE64URL_NOPAD.encode(bytes);
        let head = b64(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        let mut claims = claims;
        claims["iss"] = issuer.into();
        let body = b64(claims.to_string().as_bytes());
        let signed = format!("{head}.{body}");
        let signature = signer.sign(signed.as_bytes());
        format!("{signed}.{}", b64(&signature.to_bytes()))
    }

    #[test]
    fn account_jwt_exports_become_exports() {
        let operator = SigningKey::from_bytes(&[7; 32]);
        let account = SigningKey::from_bytes(&[9; 32]);
        let operator_key = encode_public(NkeyRole::Operator, operator.verifying_key().as_bytes());
        let account_key = encode_public(NkeyRole::Account, account.verifying_key().as_bytes());
        let operator_jwt = jwt(
            &operator,
            &operator_key,
            serde_json::json!({ "sub": operator_key, "name": "op", "nats": { "type": "operator" } }),
        );
        let config = |nats: serde_json::Value| {
            let account_jwt = jwt(
                &operator,
                &operator_key,
                serde_json::json!({ "sub": account_key, "name": "A", "nats": nats }),
            );
            let text = format!(
                "operator: \"{operator_jwt}\"\nresolver: MEMORY\nresolver_preload {{ {account_key}: \"{account_jwt}\" }}\n"
            );
            AuthConfig::from_config(&starling_conf::parse_str(&text).unwrap())
        };
        assert!(config(serde_json::json!({ "type": "account" })).is_ok());
        let read = config(serde_json::json!({
            "type": "account",
            "exports": [ { "name": "s", "subject": "s.>", "type": "stream" } ]
        }))
        .unwrap();
        assert_eq!(read.exports.len(), 1);
        assert_eq!(read.exports[0].subject, "s.>");
        // A claim update whose subject is no account key is refused (it
        // would name a file of the directory resolver).
        let mode = read.operator.unwrap();
        let odd = jwt(
            &operator,
            &operator_key,
            serde_json::json!({ "sub": "../x", "name": "A", "nats": { "type": "account" } }),
        );
        assert_eq!(
            mode.account_jwt(None, &odd).unwrap_err(),
            "not an account JWT"
        );
    }
}
