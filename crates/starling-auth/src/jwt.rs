//! NATS JWTs: three base64url parts, JSON claims, and an ed25519 signature
//! by the issuer's nkey. The `alg` is `ed25519-nkey` (older JWTs say
//! `ed25519`), which general JWT libraries (jsonwebtoken among them) refuse
//! at header decoding, so they are decoded and verified here as NATS signs
//! them.

use std::collections::HashMap;

use data_encoding::{BASE64URL, BASE64URL_NOPAD};
use serde::Deserialize;

use crate::nkey::{NkeyRole, PublicNkey};

/// Why a JWT was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three base64url parts of JSON.
    Malformed,
    /// An `alg` other than `ed25519-nkey` or `ed25519`.
    Algorithm(String),
    /// The issuer is not an nkey, or the signature does not verify.
    BadSignature,
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed JWT"),
            Self::Algorithm(alg) => write!(f, "unsupported JWT algorithm {alg:?}"),
            Self::BadSignature => f.write_str("JWT signature does not verify"),
        }
    }
}

impl std::error::Error for JwtError {}

/// The claims NATS puts in operator, account and user JWTs (the parts
/// Starling reads). A version 1 JWT (its `type` at the top level) is read
/// into the same shape.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Claims {
    /// Version 1 JWTs: the kind, at the top level.
    #[serde(rename = "type")]
    pub v1_kind: String,
    /// Version 1 JWTs: the issuing account of a user signed by a signing
    /// key, at the top level.
    #[serde(rename = "issuer_account")]
    pub v1_issuer_account: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Its unique id.
    pub jti: String,
    /// Issuer: the nkey that signed.
    pub iss: String,
    /// Subject: the nkey this JWT describes.
    pub sub: String,
    /// Name.
    pub name: String,
    /// Expires (Unix seconds); 0 or absent: never.
    pub exp: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// The NATS part.
    pub nats: NatsClaims,
}

/// The `nats` object of a JWT.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct NatsClaims {
    /// `operator`, `account` or `user`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Keys allowed to sign for this operator or account.
    pub signing_keys: Vec<SigningKey>,
    /// For a user signed by an account's signing key: the account.
    pub issuer_account: String,
    /// Publish permissions (users).
    #[serde(rename = "pub")]
    pub publish: JwtPermission,
    /// Subscribe permissions (users).
    #[serde(rename = "sub")]
    pub subscribe: JwtPermission,
    /// Bearer token: no nonce signature needed.
    pub bearer_token: bool,
    /// Connection types allowed; empty: all.
    pub allowed_connection_types: Vec<String>,
    /// Users revoked by an account: user key (or `*`) → revoked when
    /// issued at or before this time.
    pub revocations: HashMap<String, i64>,
    /// Most subscriptions a user may hold; -1 (or absent): no limit.
    #[serde(default = "no_limit")]
    pub subs: i64,
    /// Largest payload a user may publish; -1 (or absent): no limit.
    #[serde(default = "no_limit")]
    pub payload: i64,
    /// An account's exports.
    pub exports: Vec<crate::jwt_links::JwtExport>,
    /// An account's imports.
    pub imports: Vec<crate::jwt_links::JwtImport>,
    /// An activation's subject (what its import may take).
    pub subject: String,
    /// An account's limits.
    pub limits: JwtAccountLimits,
    /// An operator's account server (`nsc push` sends account JWTs there).
    pub account_server_url: String,
    /// A delete request's accounts (a generic JWT), as written.
    pub accounts: Option<serde_json::Value>,
}

fn no_limit() -> i64 {
    -1
}

/// The limits an account JWT sets (`nats.limits`); -1 (or absent): no
/// limit. The JetStream and data limits are not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct JwtAccountLimits {
    /// Client connections (leaf links included).
    pub conn: i64,
    /// Subscriptions per connection.
    pub subs: i64,
    /// Largest payload.
    pub payload: i64,
    /// Accepted leaf links.
    pub leaf: i64,
}

impl Default for JwtAccountLimits {
    fn default() -> Self {
        Self {
            conn: -1,
            subs: -1,
            payload: -1,
            leaf: -1,
        }
    }
}

impl JwtAccountLimits {
    /// As the `accounts` block's limits are held (negative: none).
    pub fn to_limits(self) -> crate::AccountLimits {
        // Negative: none; past what a u32 holds: the most it holds.
        let limit = |n: i64| (n >= 0).then(|| u32::try_from(n).unwrap_or(u32::MAX));
        crate::AccountLimits {
            max_connections: limit(self.conn),
            max_subscriptions: limit(self.subs),
            max_payload: limit(self.payload),
            max_leafnodes: limit(self.leaf),
        }
    }
}

impl Default for NatsClaims {
    fn default() -> Self {
        Self {
            kind: String::new(),
            signing_keys: Vec::new(),
            issuer_account: String::new(),
            publish: JwtPermission::default(),
            subscribe: JwtPermission::default(),
            bearer_token: false,
            allowed_connection_types: Vec::new(),
            revocations: HashMap::new(),
            subs: -1,
            payload: -1,
            exports: Vec::new(),
            imports: Vec::new(),
            subject: String::new(),
            limits: JwtAccountLimits::default(),
            account_server_url: String::new(),
            accounts: None,
        }
    }
}

/// A signing key: a plain key, or a scoped signer (an object with `key`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SigningKey {
    /// A plain public key.
    Key(String),
    /// A scoped signer.
    Scoped {
        /// Its public key.
        key: String,
    },
}

impl SigningKey {
    /// The public key.
    pub fn key(&self) -> &str {
        match self {
            Self::Key(key) | Self::Scoped { key } => key,
        }
    }
}

/// Allow and deny subject lists of a JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct JwtPermission {
    /// Allowed subjects; absent: all.
    pub allow: Option<Vec<String>>,
    /// Denied subjects.
    pub deny: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

fn base64url(part: &str) -> Result<Vec<u8>, JwtError> {
    BASE64URL_NOPAD
        .decode(part.as_bytes())
        .or_else(|_| BASE64URL.decode(part.as_bytes()))
        .map_err(|_| JwtError::Malformed)
}

/// Decodes a JWT and verifies it was signed by its issuer (`iss`).
/// Expiry and who may issue what are the caller's to check.
pub fn decode_and_verify(token: &str) -> Result<Claims, JwtError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let head: Header =
        serde_json::from_slice(&base64url(header)?).map_err(|_| JwtError::Malformed)?;
    if head.alg != "ed25519-nkey" && head.alg != "ed25519" {
        return Err(JwtError::Algorithm(head.alg));
    }
    let mut claims: Claims =
        serde_json::from_slice(&base64url(payload)?).map_err(|_| JwtError::Malformed)?;
    let (_, issuer) = PublicNkey::parse_any(&claims.iss).ok_or(JwtError::BadSignature)?;
    // Version 1 (nats-io/jwt's `Decode`): the signature covers the
    // payload part alone; version 2 covers `header.payload`.
    let v1 = !claims.v1_kind.is_empty();
    let signed = if v1 {
        payload
    } else {
        &token[..header.len() + 1 + payload.len()]
    };
    if !issuer.verify(signed.as_bytes(), signature) {
        return Err(JwtError::BadSignature);
    }
    if v1 {
        if claims.nats.kind.is_empty() {
            claims.nats.kind = std::mem::take(&mut claims.v1_kind);
        }
        if claims.nats.issuer_account.is_empty() {
            claims.nats.issuer_account = std::mem::take(&mut claims.v1_issuer_account);
        }
    }
    Ok(claims)
}

/// The JWT of a file or a value in the decorated form nsc writes
/// (`-----BEGIN NATS ... JWT-----` lines around it), or the text itself
/// trimmed (nats-io/jwt's `ParseDecoratedJWT`).
pub fn decorated_jwt(text: &str) -> &str {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.starts_with("-----BEGIN") && line.ends_with("JWT-----") {
            return lines.next().map_or("", str::trim);
        }
    }
    text.trim()
}

/// The role of a public key (by its prefix), if it is one.
pub fn role_of(key: &str) -> Option<NkeyRole> {
    PublicNkey::parse_any(key).map(|(role, _)| role)
}

/// The JWT in a `.creds` file (between the `BEGIN NATS USER JWT` lines).
pub fn jwt_from_creds(creds: &str) -> Option<&str> {
    let start =
        creds.find("-----BEGIN NATS USER JWT-----")? + "-----BEGIN NATS USER JWT-----".len();
    let rest = &creds[start..];
    let end = rest.find("------END NATS USER JWT------")?;
    Some(rest[..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/../../tests/fixtures/operator/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn jwts_made_by_nats_tooling_verify() {
        let operator = decode_and_verify(&fixture("operator.jwt")).unwrap();
        assert_eq!(operator.nats.kind, "operator");
        assert_eq!(operator.iss, operator.sub, "operators sign themselves");
        let creds = fixture("plain.creds");
        let user = decode_and_verify(jwt_from_creds(&creds).unwrap()).unwrap();
        assert_eq!(
            (user.nats.kind.as_str(), user.name.as_str()),
            ("user", "plain")
        );
        assert_eq!(role_of(&user.iss), Some(NkeyRole::Account));
        let deny =
            decode_and_verify(jwt_from_creds(&fixture("publish_deny.creds")).unwrap()).unwrap();
        assert_eq!(deny.nats.publish.deny, Some(vec!["secret.>".to_owned()]));
    }

    #[test]
    fn version_1_jwts_sign_their_payload_alone() {
        use ed25519_dalek::{Signer, SigningKey};
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = crate::nkey::encode_public(NkeyRole::Operator, key.verifying_key().as_bytes());
        let head = BASE64URL_NOPAD.encode(br#"{"typ":"jwt","alg":"ed25519"}"#);
        let claims =
            format!(r#"{{"iss":"{public}","sub":"{public}","type":"operator","name":"old"}}"#);
        let payload = BASE64URL_NOPAD.encode(claims.as_bytes());
        let signature = BASE64URL_NOPAD.encode(&key.sign(payload.as_bytes()).to_bytes());
        let jwt = format!("{head}.{payload}.{signature}");
        let decoded = decode_and_verify(&jwt).unwrap();
        assert_eq!(
            (decoded.nats.kind.as_str(), decoded.name.as_str()),
            ("operator", "old")
        );
        // Signed as version 2 would be, it does not verify.
        let v2_signature =
            BASE64URL_NOPAD.encode(&key.sign(format!("{head}.{payload}").as_bytes()).to_bytes());
        assert_eq!(
            decode_and_verify(&format!("{head}.{payload}.{v2_signature}")),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn decorated_jwts_are_unwrapped() {
        let text =
            "-----BEGIN NATS OPERATOR JWT-----\neyJ.a.b\n------END NATS OPERATOR JWT------\n";
        assert_eq!(decorated_jwt(text), "eyJ.a.b");
        assert_eq!(decorated_jwt("  eyJ.a.b \n"), "eyJ.a.b");
    }

    #[test]
    fn tampering_and_foreign_algorithms_are_refused() {
        let creds = fixture("plain.creds");
        let jwt = jwt_from_creds(&creds).unwrap();
        let (head, rest) = jwt.split_once('.').unwrap();
        let (payload, sig) = rest.split_once('.').unwrap();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&base64url(payload).unwrap()).unwrap();
        claims["name"] = "someone else".into();
        let forged = format!(
            "{head}.{}.{sig}",
            BASE64URL_NOPAD.encode(claims.to_string().as_bytes())
        );
        assert_eq!(decode_and_verify(&forged), Err(JwtError::BadSignature));
        let hs256 = format!(
            "{}.{payload}.{sig}",
            BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#)
        );
        assert_eq!(
            decode_and_verify(&hs256),
            Err(JwtError::Algorithm("HS256".into()))
        );
        assert_eq!(decode_and_verify("a.b"), Err(JwtError::Malformed));
    }
}
