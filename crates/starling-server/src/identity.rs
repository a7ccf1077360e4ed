//! Server ids and the cheap randomness the broker needs (ids, queue-member
//! choice, ping jitter). None of it is secret, so std's randomly keyed
//! hasher is a sufficient source; nonces for authentication will need a real
//! one.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// A random 64-bit value from std's per-process random keys.
pub(crate) fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0x5354_4152_4c49_4e47);
    hasher.finish()
}

/// A fast generator for choices that need to be spread, not secret.
#[derive(Debug, Clone)]
pub(crate) struct FastRng(u64);

impl FastRng {
    pub(crate) fn new() -> Self {
        Self(random_u64() | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Sixteen letters and digits: a reply-subject token.
    pub(crate) fn token(&mut self) -> String {
        const ALPHABET: &[u8; 62] =
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..16)
            .map(|_| char::from(ALPHABET[self.below(ALPHABET.len())]))
            .collect()
    }
}

/// A nonce for a client to sign (nkey and JWT authentication): 16 random
/// bytes from the operating system, base64url without padding, as
/// nats-server makes them. `None` if the system has no randomness to give.
pub(crate) fn nonce() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(data_encoding::BASE64URL_NOPAD.encode(&bytes))
}

/// A server id shaped like nats-server's: a server nkey (56 base32
/// characters, prefix `N`, CRC16 checksum). The key bytes are random but
/// not an ed25519 key: the id names the server, nothing verifies with it.
pub(crate) fn server_id() -> String {
    let mut key = [0u8; 32];
    for chunk in key.chunks_mut(8) {
        chunk.copy_from_slice(&random_u64().to_le_bytes());
    }
    starling_auth::nkey::encode_public(starling_auth::nkey::NkeyRole::Server, &key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ids_look_like_nkeys() {
        let id = server_id();
        assert_eq!(id.len(), 56);
        assert!(id.starts_with('N'));
        assert_ne!(id, server_id());
    }

    #[test]
    fn nonces_are_fresh() {
        let (a, b) = (nonce().unwrap(), nonce().unwrap());
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }

    #[test]
    fn rng_spreads() {
        let mut rng = FastRng::new();
        let mut seen = [0u32; 3];
        for _ in 0..3000 {
            seen[rng.below(3)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }
}
