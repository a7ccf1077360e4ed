//! NATS JWTs and creds files made in a test (operator mode): the keys and
//! their signing stay with the test (nkeys), this writes the formats.

use data_encoding::BASE64URL_NOPAD;

/// A version 2 JWT of `claims`, issued by the key `issuer` and signed by
/// `sign` (its seed's signature of the bytes given).
pub fn encode(
    issuer: &str,
    sign: impl Fn(&[u8]) -> Vec<u8>,
    mut claims: serde_json::Value,
) -> String {
    claims["iss"] = issuer.into();
    let head = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
    let signed = format!("{head}.{body}");
    format!(
        "{signed}.{}",
        BASE64URL_NOPAD.encode(&sign(signed.as_bytes()))
    )
}

/// A creds file: the user JWT and the user's seed.
pub fn creds(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    )
}
