//! The `leafnodes` (`leaf`) block as nats-server 2.9.10 reads it: the
//! listener, its `authorization`, `reconnect` and the `remotes`. What
//! Starling cannot do yet (some TLS settings, JetStream) is refused with
//! the reason.

use starling_conf::{ConfError, Key, Value};

use crate::{LeafAuth, LeafOptions, LeafRemote, LeafUser};

/// `handshake_first`: nats-server 2.10's TLS before INFO (2.9.10 has none).
pub(super) const TLS_FIRST: &str = "nats-server 2.10's TLS-first handshake";

/// Reads the block; every problem goes to `errors`.
pub(super) fn leaf_block(value: &Value, errors: &mut Vec<ConfError>) -> Option<LeafOptions> {
    let Ok(map) = value.as_map("leafnodes") else {
        errors.push(value.error(format!(
            "Expected map to define a leafnode, got {}",
            value.kind_name()
        )));
        return None;
    };
    let mut leaf = LeafOptions::default();
    for (key, value) in map.options() {
        if let Err(error) = leaf_key(&mut leaf, key, value, errors) {
            errors.push(error);
        }
    }
    Some(leaf)
}

fn leaf_key(
    leaf: &mut LeafOptions,
    key: &Key,
    value: &Value,
    errors: &mut Vec<ConfError>,
) -> Result<(), ConfError> {
    let name = key.name.to_ascii_lowercase();
    match name.as_str() {
        "listen" => {
            let (host, port) = super::block_listen(value, &name)?;
            if let Some(host) = host {
                leaf.host = host;
            }
            leaf.port = port;
        }
        "port" => leaf.port = super::block_port(value, value.as_integer(&name)?)?,
        "host" | "net" => leaf.host = value.as_str(&name)?.to_owned(),
        "advertise" | "leafnode_advertise" => {
            leaf.advertise = Some(value.as_str(&name)?.to_owned());
        }
        "no_advertise" => leaf.no_advertise = value.as_bool(&name)?,
        "authorization" => leaf.auth = authorization(value, errors),
        "reconnect" | "reconnect_delay" | "reconnect_interval" => {
            let seconds = value.as_integer(&name)?;
            let seconds = u64::try_from(seconds)
                .map_err(|_| value.error(format!("{name}: must not be negative")))?;
            if seconds > 0 {
                leaf.reconnect = std::time::Duration::from_secs(seconds);
            }
        }
        "remotes" => {
            let remotes = value.as_array(&name).map_err(|_| {
                value.error(format!(
                    "Expected remotes field to be an array, got {}",
                    value.kind_name()
                ))
            })?;
            for remote in remotes {
                if let Some(remote) = remote_block(remote, errors) {
                    leaf.remotes.push(remote);
                }
            }
        }
        "tls" => match starling_ws::TlsOptions::from_value(value) {
            Ok(tls) => leaf.tls = Some(tls),
            Err(tls_errors) => errors.extend(tls_errors),
        },
        "min_version" | "minimum_version" => {
            leaf.min_version = Some(value.as_str(&name)?.to_owned());
        }
        _ => return Err(ConfError::unknown_field(key)),
    }
    Ok(())
}

fn authorization(value: &Value, errors: &mut Vec<ConfError>) -> LeafAuth {
    let mut auth = LeafAuth::default();
    let map = match value.as_map("authorization") {
        Ok(map) => map,
        Err(error) => {
            errors.push(error);
            return auth;
        }
    };
    let (mut user, mut password) = (None, None);
    for (key, value) in map.options() {
        let name = key.name.to_ascii_lowercase();
        let read = match name.as_str() {
            "user" | "username" => value.as_str(&name).map(|u| user = Some(u.to_owned())),
            "pass" | "password" => value.as_str(&name).map(|p| password = Some(p.to_owned())),
            "account" => value
                .as_str(&name)
                .map(|a| auth.account = Some(a.to_owned())),
            "timeout" => value
                .as_duration(&name)
                .map(|t| auth.timeout = Some(t).filter(|t| !t.is_zero())),
            "users" => users(value, &mut auth.users),
            _ => Err(ConfError::unknown_field(key)),
        };
        if let Err(error) = read {
            errors.push(error);
        }
    }
    if let Some(user) = user {
        auth.user = Some((
            user,
            starling_auth::Secret::new(password.unwrap_or_default()),
        ));
    }
    if auth.user.is_some() && !auth.users.is_empty() {
        errors.push(value.error("can not have a single user/pass and a users array"));
    }
    auth
}

fn users(value: &Value, users: &mut Vec<LeafUser>) -> Result<(), ConfError> {
    for entry in value.as_array("users")? {
        let map = entry.as_map("users")?;
        let mut user = LeafUser {
            user: String::new(),
            password: starling_auth::Secret::new(""),
            account: None,
        };
        for (key, value) in map.options() {
            let name = key.name.to_ascii_lowercase();
            match name.as_str() {
                "user" | "username" => user.user = value.as_str(&name)?.to_owned(),
                "pass" | "password" => {
                    user.password = starling_auth::Secret::new(value.as_str(&name)?);
                }
                "account" => user.account = Some(value.as_str(&name)?.to_owned()),
                _ => return Err(ConfError::unknown_field(key)),
            }
        }
        if users.iter().any(|u| u.user == user.user) {
            return Err(entry.error(format!(
                "duplicate user {:?} detected in leafnode authorization",
                user.user
            )));
        }
        users.push(user);
    }
    Ok(())
}

fn strings(value: &Value, option: &str) -> Result<Vec<String>, ConfError> {
    value
        .one_or_many()
        .iter()
        .map(|v| v.as_str(option).map(str::to_owned))
        .collect()
}

/// A remote's `tls`: `ca_file` (else the system's roots), `cert_file` with
/// `key_file`, `insecure`, `timeout`; `verify` is read and, as in
/// nats-server, means nothing on the dialling side.
fn remote_tls(value: &Value) -> Result<crate::RemoteTls, ConfError> {
    let map = value.as_map("tls")?;
    let mut tls = crate::RemoteTls::default();
    let (mut cert, mut key) = (None, None);
    for (k, v) in map.options() {
        if let Some(result) = tls.tuning.read(k, v) {
            result?;
            continue;
        }
        let path = |option: &str| v.as_str(option).map(std::path::PathBuf::from);
        match k.name.to_ascii_lowercase().as_str() {
            "ca_file" => tls.ca_file = Some(path("ca_file")?),
            "cert_file" => cert = Some(path("cert_file")?),
            "key_file" => key = Some(path("key_file")?),
            "insecure" => tls.insecure = v.as_bool("insecure")?,
            "verify" => {
                v.as_bool("verify")?;
            }
            "timeout" => {
                let timeout = v.as_duration("timeout")?;
                if !timeout.is_zero() {
                    tls.timeout = timeout;
                }
            }
            "handshake_first" => return Err(ConfError::not_supported_yet(k, TLS_FIRST)),
            _ => return Err(ConfError::unknown_field(k)),
        }
    }
    tls.cert = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err(value.error("tls: 'cert_file' and 'key_file' go together")),
    };
    Ok(tls)
}

/// A remote's `proxy { url, username, password, timeout }`.
fn proxy(value: &Value) -> Result<crate::LeafProxy, ConfError> {
    let map = value.as_map("proxy")?;
    let (mut url, mut user, mut password) = (None, None, None);
    let mut timeout = std::time::Duration::from_secs(5);
    for (k, v) in map.options() {
        let name = k.name.to_ascii_lowercase();
        match name.as_str() {
            "url" => url = Some(v.as_str(&name)?.to_owned()),
            "username" | "user" => user = Some(v.as_str(&name)?.to_owned()),
            "password" | "pass" => password = Some(v.as_str(&name)?.to_owned()),
            "timeout" => timeout = v.as_duration(&name)?,
            _ => return Err(ConfError::unknown_field(k)),
        }
    }
    let url = url.ok_or_else(|| value.error("proxy: missing 'url'"))?;
    let address = url
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|rest| rest.contains(':') && !rest.contains('/'))
        .ok_or_else(|| value.error(format!("proxy: url {url:?} must be http://host:port")))?;
    Ok(crate::LeafProxy {
        address: address.to_owned(),
        credentials: user.map(|u| (u, starling_auth::Secret::new(password.unwrap_or_default()))),
        timeout,
    })
}

fn remote_block(value: &Value, errors: &mut Vec<ConfError>) -> Option<LeafRemote> {
    let map = match value.as_map("remotes") {
        Ok(map) => map,
        Err(error) => {
            errors.push(error);
            return None;
        }
    };
    let mut remote = LeafRemote {
        urls: Vec::new(),
        account: None,
        hub: false,
        no_randomize: false,
        ws_compression: false,
        ws_no_masking: false,
        tls: None,
        credentials: None,
        proxy: None,
        deny_imports: Vec::new(),
        deny_exports: Vec::new(),
    };
    for (key, value) in map.options() {
        let name = key.name.to_ascii_lowercase();
        let read = match name.as_str() {
            "url" | "urls" => strings(value, &name).map(|urls| remote.urls.extend(urls)),
            "account" | "local" => value
                .as_str(&name)
                .map(|a| remote.account = Some(a.to_owned())),
            "hub" => value.as_bool(&name).map(|hub| remote.hub = hub),
            "no_randomize" | "dont_randomize" => {
                value.as_bool(&name).map(|no| remote.no_randomize = no)
            }
            "ws_compression" | "ws_compress" | "websocket_compress" | "websocket_compression" => {
                value.as_bool(&name).map(|on| remote.ws_compression = on)
            }
            "ws_no_masking" | "websocket_no_masking" => {
                value.as_bool(&name).map(|on| remote.ws_no_masking = on)
            }
            "tls" => remote_tls(value).map(|tls| remote.tls = Some(tls)),
            "proxy" => proxy(value).map(|proxy| remote.proxy = Some(proxy)),
            "credentials" | "creds" => value
                .as_str(&name)
                .map(|path| remote.credentials = Some(std::path::PathBuf::from(path))),
            "deny_imports" | "deny_import" => {
                strings(value, &name).map(|subjects| remote.deny_imports = subjects)
            }
            "deny_exports" | "deny_export" => {
                strings(value, &name).map(|subjects| remote.deny_exports = subjects)
            }
            "jetstream_cluster_migrate" | "js_cluster_migrate" => Err(
                ConfError::not_supported_yet(key, "JetStream: Starling has no JetStream"),
            ),
            _ => Err(ConfError::unknown_field(key)),
        };
        if let Err(error) = read {
            errors.push(error);
        }
    }
    let websocket = |url: &String| url.get(..2).is_some_and(|s| s.eq_ignore_ascii_case("ws"));
    let over_websocket = remote.urls.iter().filter(|u| websocket(u)).count();
    if over_websocket > 0 && over_websocket < remote.urls.len() {
        errors.push(value.error(format!(
            "remote leaf node configuration cannot have a mix of websocket and non-websocket urls: {:?}",
            remote.urls
        )));
    }
    if remote.urls.is_empty() {
        errors.push(value.error("a leafnode remote needs a url"));
    }
    Some(remote)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    fn remote_tls(block: &str) -> Result<Option<crate::RemoteTls>, Vec<String>> {
        let text = format!("leafnodes {{ remotes [ {{ url: \"tls://hub:7422\"{block} }} ] }}");
        let root = starling_conf::parse_str(&text).map_err(|e| vec![e.to_string()])?;
        let options = super::super::options_from_config(&root)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        let leaf = options.server.leaf.expect("leafnodes");
        Ok(leaf.remotes[0].tls.clone())
    }

    #[test]
    fn a_remotes_tls_block() {
        assert_eq!(remote_tls(""), Ok(None), "tls:// alone: the defaults");
        let tls = remote_tls(", tls { insecure: true, timeout: \"500ms\", verify: true }")
            .expect("valid")
            .expect("tls");
        assert!(tls.insecure && tls.ca_file.is_none());
        assert_eq!(tls.timeout, Duration::from_millis(500));
        let tls = remote_tls(", tls { ca_file: ca.pem, timeout: 0 }")
            .expect("valid")
            .expect("tls");
        assert_eq!(tls.ca_file.as_deref(), Some(std::path::Path::new("ca.pem")));
        assert_eq!(tls.timeout, Duration::from_secs(2), "0 keeps the default");
        let refused = |block: &str| remote_tls(block).expect_err("refused").join("\n");
        assert!(refused(", tls { cert_file: c.pem }").contains("go together"));
        assert!(refused(", tls { insecure: 1 }").contains("insecure"));
        assert!(refused(", tls { pinned_certs: [x] }").contains("does not look like"));
        assert!(refused(", tls { sparkle: true }").contains("sparkle"));
    }
}
