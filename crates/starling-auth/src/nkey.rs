//! NATS nkeys: ed25519 public keys written as base32 with a role prefix
//! and a CRC16 (`U…` for users, `A…` accounts, `O…` operators, `N…`
//! servers), and the signatures made with them.

use data_encoding::{BASE32_NOPAD, BASE64, BASE64URL_NOPAD};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// The role an nkey's first character names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NkeyRole {
    /// `U`: a user.
    User,
    /// `A`: an account.
    Account,
    /// `O`: an operator.
    Operator,
    /// `N`: a server.
    Server,
}

impl NkeyRole {
    fn prefix_byte(self) -> u8 {
        match self {
            Self::User => 20 << 3,
            Self::Account => 0,
            Self::Operator => 14 << 3,
            Self::Server => 13 << 3,
        }
    }
}

/// A decoded public nkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicNkey {
    key: VerifyingKey,
}

impl PublicNkey {
    /// Decodes a public nkey of `role`; `None` when it is not one
    /// (wrong role, length, base32 or checksum, or not a curve point).
    pub fn parse(text: &str, role: NkeyRole) -> Option<Self> {
        let raw = BASE32_NOPAD.decode(text.as_bytes()).ok()?;
        let [prefix, key @ .., c0, c1] = raw.as_slice() else {
            return None;
        };
        if *prefix != role.prefix_byte() || key.len() != 32 {
            return None;
        }
        if crc16(&raw[..raw.len() - 2]) != u16::from_le_bytes([*c0, *c1]) {
            return None;
        }
        let key = VerifyingKey::from_bytes(key.try_into().ok()?).ok()?;
        Some(Self { key })
    }

    /// Decodes a public nkey of any role, returning the role too.
    pub fn parse_any(text: &str) -> Option<(NkeyRole, Self)> {
        [
            NkeyRole::User,
            NkeyRole::Account,
            NkeyRole::Operator,
            NkeyRole::Server,
        ]
        .into_iter()
        .find_map(|role| Self::parse(text, role).map(|key| (role, key)))
    }

    /// Verifies a signature over `message`, given as nats clients send it:
    /// base64url without padding (standard base64 accepted as fallback).
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let decoded = BASE64URL_NOPAD
            .decode(signature.as_bytes())
            .or_else(|_| BASE64.decode(signature.as_bytes()));
        let Ok(bytes) = decoded else { return false };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.key.verify(message, &signature).is_ok()
    }
}

/// A user's nkey seed (`SU…`): the private key a creds file carries, which
/// signs the nonce a server sends (a leaf link dialling a hub).
pub struct UserSeed {
    key: SigningKey,
}

impl std::fmt::Debug for UserSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserSeed([REDACTED])")
    }
}

/// The seed prefix byte's top five bits (`S`).
const SEED_PREFIX: u8 = 18 << 3;

impl UserSeed {
    /// Decodes a user seed; `None` when it is not one (wrong prefix or
    /// role, length, base32 or checksum).
    pub fn parse(text: &str) -> Option<Self> {
        let raw = BASE32_NOPAD.decode(text.trim().as_bytes()).ok()?;
        let [b0, b1, seed @ .., c0, c1] = raw.as_slice() else {
            return None;
        };
        let role = ((b0 & 7) << 5) | ((b1 & 248) >> 3);
        if b0 & 248 != SEED_PREFIX || role != NkeyRole::User.prefix_byte() || seed.len() != 32 {
            return None;
        }
        if crc16(&raw[..raw.len() - 2]) != u16::from_le_bytes([*c0, *c1]) {
            return None;
        }
        Some(Self {
            key: SigningKey::from_bytes(seed.try_into().ok()?),
        })
    }

    /// Signs `message` (a server's nonce) as nats clients send it:
    /// base64url without padding.
    pub fn sign(&self, message: &[u8]) -> String {
        BASE64URL_NOPAD.encode(&self.key.sign(message).to_bytes())
    }

    /// The matching public key (`U…`).
    pub fn public_key(&self) -> String {
        encode_public(NkeyRole::User, self.key.verifying_key().as_bytes())
    }
}

/// A NATS creds file's user JWT and seed (the blocks between the
/// `-----BEGIN NATS USER JWT-----` and `-----BEGIN USER NKEY SEED-----`
/// lines and their ends); `None` when either is missing or the seed is
/// not a user seed.
pub fn parse_creds(text: &str) -> Option<(String, UserSeed)> {
    let block = |begin: &str| {
        let start = text.find(begin)? + begin.len();
        let rest = &text[start..];
        let body = &rest[rest.find('\n')? + 1..];
        let end = body.find("---")?;
        Some(body[..end].trim().to_owned()).filter(|b| !b.is_empty())
    };
    let jwt = block("BEGIN NATS USER JWT")?;
    let seed = UserSeed::parse(&block("BEGIN USER NKEY SEED")?)?;
    Some((jwt, seed))
}

/// Writes a public nkey of `role` for a 32-byte ed25519 public key (role
/// prefix, key, CRC16, base32), as the nkeys libraries write them.
pub fn encode_public(role: NkeyRole, key: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(35);
    raw.push(role.prefix_byte());
    raw.extend_from_slice(key);
    let crc = crc16(&raw);
    raw.extend_from_slice(&crc.to_le_bytes());
    BASE32_NOPAD.encode(&raw)
}

/// CRC-16/XMODEM, the nkey checksum.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user nkey from the nats-io nkeys documentation.
    const USER: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

    #[test]
    fn a_creds_file_signs_what_its_public_key_verifies() {
        let creds = include_str!("../../../tests/fixtures/operator/plain.creds");
        let (jwt, seed) = parse_creds(creds).expect("a creds file");
        assert!(jwt.starts_with("eyJ") && jwt.matches('.').count() == 2);
        let public = PublicNkey::parse(&seed.public_key(), NkeyRole::User).expect("a user key");
        assert!(public.verify(b"nonce", &seed.sign(b"nonce")));
        assert!(parse_creds("no blocks").is_none());
        assert!(
            UserSeed::parse(&seed.public_key()).is_none(),
            "a public key is no seed"
        );
    }

    #[test]
    fn encoding_round_trips() {
        let key = PublicNkey::parse(USER, NkeyRole::User).unwrap();
        assert_eq!(encode_public(NkeyRole::User, key.key.as_bytes()), USER);
        assert!(encode_public(NkeyRole::Server, &[7; 32]).starts_with('N'));
    }

    #[test]
    fn parses_real_nkeys_and_refuses_damaged_ones() {
        assert!(PublicNkey::parse(USER, NkeyRole::User).is_some());
        assert!(
            PublicNkey::parse(USER, NkeyRole::Account).is_none(),
            "wrong role"
        );
        let mut damaged = USER.to_owned();
        damaged.replace_range(10..11, if &USER[10..11] == "A" { "B" } else { "A" });
        assert!(
            PublicNkey::parse(&damaged, NkeyRole::User).is_none(),
            "checksum"
        );
        assert!(PublicNkey::parse("U", NkeyRole::User).is_none());
        assert!(PublicNkey::parse("not base32!", NkeyRole::User).is_none());
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }
}
