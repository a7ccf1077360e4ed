//! The TLS settings every `tls` block shares beyond its files:
//! `cipher_suites` and `curve_preferences` (nats-server's names; what the
//! rustls ring provider cannot do is refused with the reason) and
//! `pinned_certs` (hex SHA-256 of the peer certificate's
//! SubjectPublicKeyInfo, as nats-server pins). Read here, applied by the
//! server's TLS module.

use starling_conf::{ConfError, Key, Value, ValueKind};

/// Cipher suites, curves and pins of one `tls` block (empty: defaults,
/// nothing pinned).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsTuning {
    /// TLS 1.2 suites to offer, by nats-server's (IANA) names; `None`:
    /// all of them. As with Go, TLS 1.3 suites are always offered: a list
    /// of TLS 1.3 suites alone leaves TLS 1.2 without any.
    pub cipher_suites: Option<Vec<String>>,
    /// Key exchange groups, by nats-server's names, in order of preference.
    pub curve_preferences: Vec<String>,
    /// Lower-case hex SHA-256 digests of accepted peer keys.
    pub pinned_certs: Vec<String>,
}

/// The TLS 1.2 suites rustls (ring) offers, by their nats-server names.
pub const TLS12_SUITES: [&str; 6] = [
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
];

/// TLS 1.3 suites: always on, as in Go.
const TLS13_SUITES: [&str; 3] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Suites nats-server knows that rustls does not do.
const REFUSED_SUITES: [&str; 15] = [
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
];

/// Curves rustls (ring) does.
pub const CURVES: [&str; 3] = ["X25519", "CurveP256", "CurveP384"];

impl TlsTuning {
    /// Takes `key` if it is one of the three settings: `None` when it is
    /// not, else whether its value was good.
    pub fn read(&mut self, key: &Key, value: &Value) -> Option<Result<(), ConfError>> {
        let result = match key.name.to_ascii_lowercase().as_str() {
            "cipher_suites" => list(value, "cipher_suites").and_then(|names| {
                let mut suites = Vec::new();
                for (entry, name) in names {
                    cipher(entry, &name)?;
                    if TLS12_SUITES.contains(&name.as_str()) {
                        suites.push(name);
                    }
                }
                self.cipher_suites = Some(suites);
                Ok(())
            }),
            "curve_preferences" => list(value, "curve_preferences").and_then(|names| {
                for (entry, name) in names {
                    curve(entry, &name)?;
                    self.curve_preferences.push(name);
                }
                Ok(())
            }),
            "pinned_certs" => pins(value).map(|pins| self.pinned_certs = pins),
            _ => return None,
        };
        Some(result)
    }
}

/// A non-empty list of strings, each with its value (for error places).
fn list<'a>(value: &'a Value, option: &str) -> Result<Vec<(&'a Value, String)>, ConfError> {
    let items = value.as_array(option)?;
    if items.is_empty() {
        return Err(value.error(format!(
            "error parsing tls config, '{option}' cannot be empty"
        )));
    }
    items
        .iter()
        .map(|item| Ok((item, item.as_str(option)?.to_owned())))
        .collect()
}

fn cipher(entry: &Value, name: &str) -> Result<(), ConfError> {
    if TLS12_SUITES.contains(&name) || TLS13_SUITES.contains(&name) {
        Ok(())
    } else if REFUSED_SUITES.contains(&name) {
        Err(entry.error(format!(
            "cipher_suites: {name} is not supported: rustls offers TLS 1.2 suites with ECDHE \
             key exchange and AES-GCM or ChaCha20-Poly1305 only"
        )))
    } else {
        Err(entry.error(format!("unrecognized cipher {name}")))
    }
}

fn curve(entry: &Value, name: &str) -> Result<(), ConfError> {
    if CURVES.contains(&name) {
        Ok(())
    } else if name == "CurveP521" {
        Err(entry.error(
            "curve_preferences: CurveP521 is not supported: rustls's ring provider has no \
             P-521 key exchange (X25519, CurveP256 and CurveP384 are)",
        ))
    } else {
        Err(entry.error(format!("unrecognized curve preference {name}")))
    }
}

fn pins(value: &Value) -> Result<Vec<String>, ConfError> {
    let ValueKind::Array(items) = &value.kind else {
        return Err(value.error(
            "error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded \
             sha256 of DER encoded SubjectPublicKeyInfo",
        ));
    };
    let mut pins = Vec::with_capacity(items.len());
    for item in items {
        let entry = item.as_str("pinned_certs")?.to_ascii_lowercase();
        if entry.len() != 64 || !entry.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(item.error(format!(
                "error parsing tls config, 'pinned_certs' key {entry} does not look like \
                 hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
            )));
        }
        pins.push(entry);
    }
    Ok(pins)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<TlsTuning, String> {
        let root = starling_conf::parse_str(text).unwrap();
        let map = root.as_map("root").unwrap();
        let mut tuning = TlsTuning::default();
        for (key, value) in map.options() {
            tuning.read(key, value).unwrap().map_err(|e| e.message)?;
        }
        Ok(tuning)
    }

    #[test]
    fn names_are_nats_servers() {
        let t = read(
            "cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256]\n\
             curve_preferences: [CurveP256, X25519]\n\
             pinned_certs: [\"A8A3E7F1B5E69F4E1BCD0BB3E1F6E5D4C0A3E6B1A8A3E7F1B5E69F4E1BCD0BB3\"]",
        )
        .unwrap();
        assert_eq!(
            t.cipher_suites.unwrap(),
            ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]
        );
        assert_eq!(t.curve_preferences, ["CurveP256", "X25519"]);
        assert!(t.pinned_certs[0].starts_with("a8a3"));
        assert_eq!(
            read("cipher_suites: [NOPE]").unwrap_err(),
            "unrecognized cipher NOPE"
        );
        assert!(
            read("cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(
            read("curve_preferences: [CurveP521]")
                .unwrap_err()
                .contains("P-521")
        );
        assert_eq!(
            read("curve_preferences: [P9]").unwrap_err(),
            "unrecognized curve preference P9"
        );
        assert_eq!(
            read("cipher_suites: []").unwrap_err(),
            "error parsing tls config, 'cipher_suites' cannot be empty"
        );
        assert!(
            read("pinned_certs: [abc]")
                .unwrap_err()
                .contains("does not look like")
        );
    }
}
