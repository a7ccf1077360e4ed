//! The `cluster` block as nats-server 2.9.10 reads it (`cluster.md` §1.1),
//! with its texts for what it refuses. What Starling cannot do yet (route
//! TLS and permissions) is refused with the reason.

use starling_conf::{ConfError, Key, Value};

use crate::ClusterOptions;

/// Settings newer nats-server releases added to the block (pooled and
/// per-account routes, compression, route pings and write deadline).
const NEWER: [&str; 8] = [
    "pool_size",
    "accounts",
    "compression",
    "ping_interval",
    "ping_max",
    "write_deadline",
    "write_timeout",
    "connect_backoff",
];

/// Reads the block; `None` when it sets no port (clustering stays off, as
/// in nats-server). Every problem goes to `errors`.
pub(super) fn cluster_block(
    value: &Value,
    (errors, warnings): (&mut Vec<ConfError>, &mut Vec<ConfError>),
) -> Option<ClusterOptions> {
    let Ok(map) = value.as_map("cluster") else {
        errors.push(value.error(format!(
            "Expected map to define cluster, got {}",
            value.kind_name()
        )));
        return None;
    };
    let mut cluster = ClusterOptions::default();
    for (key, value) in map.options() {
        let name = key.name.to_ascii_lowercase();
        if NEWER.contains(&name.as_str()) {
            // nats-server 2.10+'s: a newer peer keeps one route to this
            // server in the 2.9 protocol whatever they say.
            warnings.push(value.error(format!(
                "cluster {name}: a setting of nats-server 2.10 and later, ignored (one route per peer, uncompressed, the server's own ping and write settings)"
            )));
            continue;
        }
        if let Err(error) = cluster_key(&mut cluster, key, value, errors) {
            errors.push(error);
        }
    }
    (cluster.port != 0).then_some(cluster)
}

fn cluster_key(
    cluster: &mut ClusterOptions,
    key: &Key,
    value: &Value,
    errors: &mut Vec<ConfError>,
) -> Result<(), ConfError> {
    let name = key.name.to_ascii_lowercase();
    match name.as_str() {
        "name" => cluster.name = Some(value.as_str(&name)?.to_owned()),
        "listen" => {
            let (host, port) = super::block_listen(value, &name)?;
            if let Some(host) = host {
                cluster.host = host;
            }
            cluster.port = port;
        }
        "port" => cluster.port = super::block_port(value, value.as_integer(&name)?)?,
        "host" | "net" => cluster.host = value.as_str(&name)?.to_owned(),
        "advertise" | "cluster_advertise" => {
            cluster.advertise = Some(value.as_str(&name)?.to_owned());
        }
        "no_advertise" => cluster.no_advertise = value.as_bool(&name)?,
        "routes" => {
            let routes = value.as_array(&name).map_err(|_| {
                value.error(format!(
                    "interface conversion: interface {{}} is {}, not []interface {{}}",
                    value.kind_name()
                ))
            })?;
            for route in routes {
                let url = route.as_str(&name)?;
                crate::options::RouteUrl::parse(url).map_err(|reason| route.error(reason))?;
                if !cluster.routes.iter().any(|known| known == url) {
                    cluster.routes.push(url.to_owned());
                }
            }
        }
        "authorization" => authorization(cluster, value, errors),
        "connect_retries" => {
            let retries = value.as_integer(&name)?;
            cluster.connect_retries = u32::try_from(retries)
                .map_err(|_| value.error(format!("{name}: must not be negative")))?;
        }
        "tls" => cluster.tls = Some(tls(value)?),
        "permissions" => cluster.permissions = Some(permissions(value)?),
        _ => return Err(ConfError::unknown_field(key)),
    }
    Ok(())
}

/// `tls { cert_file, key_file, ca_file, insecure, timeout }` (`verify` is
/// read: routes verify both ways whatever it says, as nats-server's).
fn tls(value: &Value) -> Result<crate::ClusterTls, ConfError> {
    let map = value.as_map("tls")?;
    let (mut cert, mut key) = (None, None);
    let mut tls = crate::ClusterTls {
        cert_file: std::path::PathBuf::new(),
        key_file: std::path::PathBuf::new(),
        ca_file: None,
        insecure: false,
        timeout: std::time::Duration::from_secs(2),
        tuning: starling_ws::TlsTuning::default(),
        check_known_urls: false,
        verify_and_map: false,
    };
    for (k, v) in map.options() {
        if let Some(result) = tls.tuning.read(k, v) {
            result?;
            continue;
        }
        let path = |option: &str| v.as_str(option).map(std::path::PathBuf::from);
        match k.name.to_ascii_lowercase().as_str() {
            "cert_file" => cert = Some(path("cert_file")?),
            "key_file" => key = Some(path("key_file")?),
            "ca_file" => tls.ca_file = Some(path("ca_file")?),
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
            "verify_cert_and_check_known_urls" => {
                tls.check_known_urls = v.as_bool("verify_cert_and_check_known_urls")?;
            }
            "verify_and_map" => tls.verify_and_map = v.as_bool("verify_and_map")?,
            "handshake_first" => {
                return Err(ConfError::not_supported_yet(k, super::leaf::TLS_FIRST));
            }
            _ => return Err(ConfError::unknown_field(k)),
        }
    }
    match (cert, key) {
        (Some(cert), Some(key)) => {
            tls.cert_file = cert;
            tls.key_file = key;
            Ok(tls)
        }
        (None, _) => Err(value.error("tls: missing 'cert_file'")),
        (_, None) => Err(value.error("tls: missing 'key_file'")),
    }
}

/// `permissions { import, export }`; dynamic responses refused with
/// nats-server's text.
fn permissions(value: &Value) -> Result<starling_auth::Permissions, ConfError> {
    let permissions = starling_auth::read_permissions(value)?;
    if permissions.responses.is_some() {
        return Err(value.error("Cluster permissions do not support dynamic responses"));
    }
    Ok(permissions)
}

/// `authorization { user, password, timeout }`; tokens and users lists
/// refused with nats-server's texts.
fn authorization(cluster: &mut ClusterOptions, value: &Value, errors: &mut Vec<ConfError>) {
    let map = match value.as_map("authorization") {
        Ok(map) => map,
        Err(error) => {
            errors.push(error);
            return;
        }
    };
    let (mut user, mut password) = (None, None);
    for (key, value) in map.options() {
        let name = key.name.to_ascii_lowercase();
        let read = match name.as_str() {
            "user" | "username" => value.as_str(&name).map(|u| user = Some(u.to_owned())),
            "pass" | "password" => value.as_str(&name).map(|p| password = Some(p.to_owned())),
            "timeout" => value.as_duration(&name).map(|t| {
                if !t.is_zero() {
                    cluster.auth_timeout = t;
                }
            }),
            "token" => Err(value.error("Cluster authorization does not support tokens")),
            "users" => Err(value.error("Cluster authorization does not allow multiple users")),
            // Deprecated there; used when the block has none of its own.
            "permissions" => permissions(value).map(|p| {
                cluster.permissions.get_or_insert(p);
            }),
            _ => Err(ConfError::unknown_field(key)),
        };
        if let Err(error) = read {
            errors.push(error);
        }
    }
    if let Some(user) = user {
        cluster.user = Some((
            user,
            starling_auth::Secret::new(password.unwrap_or_default()),
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    fn cluster(block: &str) -> Result<Option<crate::ClusterOptions>, Vec<String>> {
        let root = starling_conf::parse_str(block).map_err(|e| vec![e.to_string()])?;
        let options = super::super::options_from_config(&root)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        Ok(options.server.cluster)
    }

    #[test]
    fn the_cluster_block() {
        let c = cluster(
            "cluster { name: C1, listen: \"127.0.0.1:6222\", routes: [nats://a:6222, nats://a:6222, \"nats://u:p@b:6222\"], \
             authorization { user: ruser, password: T0p, timeout: 0.5 }, no_advertise: true, connect_retries: 3 }",
        )
        .expect("valid")
        .expect("on");
        assert_eq!(
            (c.name.as_deref(), c.host.as_str(), c.port),
            (Some("C1"), "127.0.0.1", 6222)
        );
        assert_eq!(c.routes.len(), 2, "a duplicate route is dropped");
        assert_eq!(c.auth_timeout, Duration::from_millis(500));
        assert!(c.no_advertise && c.connect_retries == 3 && c.user.is_some());
        assert_eq!(cluster("cluster { name: C1 }"), Ok(None), "no port: off");
        let refused = |text: &str| cluster(text).expect_err("refused").join("\n");
        assert!(
            refused("cluster { port: 1, routes: [\"127.0.0.1:6222\"] }")
                .contains("error parsing route url")
        );
        assert!(
            refused("cluster { port: 1, authorization { token: x } }")
                .contains("does not support tokens")
        );
        assert!(
            refused("cluster { port: 1, routes: \"nats://a:1\" }").contains("interface conversion")
        );
        assert!(refused("cluster { port: 1, tls { } }").contains("missing 'cert_file'"));
        assert!(
            refused("cluster { port: 1, permissions { allow_responses: true } }")
                .contains("dynamic responses")
        );
        let c = cluster("cluster { port: 1, permissions { import: \"allowed.>\", export: { allow: [\"exp.>\"], deny: [\"exp.secret\"] } } }")
            .expect("valid")
            .expect("on");
        let permissions = c.permissions.expect("permissions");
        assert!(permissions.can_publish(b"allowed.x") && !permissions.can_publish(b"other.x"));
        assert!(
            permissions.can_subscribe(b"exp.y", None)
                && !permissions.can_subscribe(b"exp.secret", None)
        );
        let root =
            starling_conf::parse_str("cluster { port: 1, pool_size: 3, compression: s2_auto }")
                .expect("parses");
        let options = super::super::options_from_config(&root).expect("valid");
        assert_eq!(options.warnings.len(), 2, "{:?}", options.warnings);
        assert!(options.warnings[0].to_string().contains("pool_size"));
    }
}
