//! The JSON bodies of `INFO` (server to client) and `CONNECT` (client to server).

use serde::{Deserialize, Serialize};

/// The body of the `INFO` line, with nats-server's field names and order.
///
/// Optional fields are left out when false or empty, as nats-server leaves
/// them out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerInfo {
    /// The server's id (an nkey-shaped 56-character string starting with `N`).
    pub server_id: String,
    /// The configured server name, or the id.
    pub server_name: String,
    /// The protocol level announced to clients (nats-server's version string).
    pub version: String,
    /// Client protocol version (always 1).
    pub proto: u32,
    /// The runtime the server was built with.
    pub go: String,
    /// The host the client listener is bound to.
    pub host: String,
    /// The client listener's port.
    pub port: u16,
    /// Whether the server accepts headers (`HPUB`/`HMSG`).
    pub headers: bool,
    /// Whether the client must authenticate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub auth_required: bool,
    /// Whether TLS is required.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_required: bool,
    /// Whether client certificates are verified.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    /// Whether TLS is available but optional.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_available: bool,
    /// The largest payload (headers included) a client may publish.
    pub max_payload: usize,
    /// The connection's id.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub client_id: u64,
    /// The client's address as the server sees it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    /// The nonce to sign for nkey and JWT authentication.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    /// The cluster's name, when the server is in one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// Other servers' client URLs (websocket URLs for websocket clients).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    /// The server entered lame-duck mode: it accepts no one and will close
    /// its clients (in the one INFO that says so).
    #[serde(default, skip_serializing_if = "is_false")]
    pub ldm: bool,
}

impl ServerInfo {
    /// Decodes an `INFO` body (a client may send one; nats-server decodes it
    /// and closes the connection when it is not valid).
    pub fn parse(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The body of a client's `CONNECT`.
///
/// Decoded on top of nats-server's defaults (`verbose`, `pedantic` and `echo`
/// true), so an absent field keeps its default; unknown fields are ignored.
/// `null` is read as "absent", as Go's decoder reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Connect {
    /// Reply `+OK` to every accepted operation.
    #[serde(deserialize_with = "bool_or_null_true")]
    pub verbose: bool,
    /// Validate publish subjects.
    #[serde(deserialize_with = "bool_or_null_true")]
    pub pedantic: bool,
    /// Deliver the connection's own publications to its subscriptions.
    #[serde(deserialize_with = "bool_or_null_true")]
    pub echo: bool,
    /// Parsed and unused, as in nats-server.
    pub tls_required: Option<bool>,
    /// The client accepts `HMSG` and may send `HPUB`.
    pub headers: Option<bool>,
    /// The client wants a 503 status when a request reaches nobody.
    pub no_responders: Option<bool>,
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub pass: Option<String>,
    /// Token.
    pub auth_token: Option<String>,
    /// User nkey.
    pub nkey: Option<String>,
    /// Signature of the nonce.
    pub sig: Option<String>,
    /// User JWT.
    pub jwt: Option<String>,
    /// Client name.
    pub name: Option<String>,
    /// Client language.
    pub lang: Option<String>,
    /// Client library version.
    pub version: Option<String>,
    /// Client protocol level (0 or 1).
    pub protocol: Option<i64>,
    /// Any non-empty value is refused, as nats-server refuses it.
    pub account: Option<String>,
    /// Any true value is refused, as nats-server refuses it.
    pub new_account: Option<bool>,
}

impl Default for Connect {
    fn default() -> Self {
        Self {
            verbose: true,
            pedantic: true,
            echo: true,
            tls_required: None,
            headers: None,
            no_responders: None,
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
            jwt: None,
            name: None,
            lang: None,
            version: None,
            protocol: None,
            account: None,
            new_account: None,
        }
    }
}

impl Connect {
    /// Decodes a `CONNECT` body. Invalid JSON or a field of the wrong type is
    /// an error, after which nats-server closes without `-ERR`.
    pub fn parse(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

/// The fields of a `CONNECT` that hold secrets.
const SECRET_FIELDS: [&str; 4] = ["pass", "auth_token", "sig", "jwt"];

/// A `CONNECT` body fit for logs: secret fields replaced by `[REDACTED]`
/// (as nats-server's trace shows them); invalid JSON is not echoed at all.
pub fn redact_connect(json: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(mut fields)) => {
            for key in SECRET_FIELDS {
                if let Some(value) = fields.get_mut(key) {
                    *value = serde_json::Value::String("[REDACTED]".to_owned());
                }
            }
            serde_json::Value::Object(fields).to_string()
        }
        _ => format!("<not a JSON object, {} bytes>", json.len()),
    }
}

fn bool_or_null_true<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_defaults_are_verbose_pedantic_echo() {
        let c = Connect::parse(b"{}").unwrap();
        assert!(c.verbose && c.pedantic && c.echo);
        let c = Connect::parse(br#"{"verbose":false,"pedantic":null,"unknown":[1]}"#).unwrap();
        assert!(!c.verbose && c.pedantic);
    }

    #[test]
    fn secrets_are_redacted() {
        let shown = redact_connect(
            br#"{"user":"u","pass":"hunter2","auth_token":"t0k","jwt":"eyJ","sig":"s"}"#,
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("t0k") && !shown.contains("eyJ"),
            "{shown}"
        );
        assert!(shown.contains(r#""user":"u""#));
        assert_eq!(
            redact_connect(br#"{"pass":"hunter2""#),
            "<not a JSON object, 17 bytes>"
        );
    }

    #[test]
    fn connect_wrong_types_fail() {
        assert!(Connect::parse(br#"{"verbose":"yes"}"#).is_err());
        assert!(Connect::parse(b"{").is_err());
        assert!(Connect::parse(br#"{"protocol":"1"}"#).is_err());
    }

    #[test]
    fn info_leaves_out_empty_fields() {
        let info = ServerInfo {
            server_id: "N1".into(),
            server_name: "n".into(),
            version: "2.9.10".into(),
            proto: 1,
            go: "go".into(),
            host: "0.0.0.0".into(),
            port: 4222,
            headers: true,
            max_payload: 1048576,
            client_id: 3,
            client_ip: "127.0.0.1".into(),
            ..ServerInfo::default()
        };
        let json = serde_json::to_string(&info).unwrap();
        assert_eq!(
            json,
            r#"{"server_id":"N1","server_name":"n","version":"2.9.10","proto":1,"go":"go","host":"0.0.0.0","port":4222,"headers":true,"max_payload":1048576,"client_id":3,"client_ip":"127.0.0.1"}"#
        );
    }
}
