//! A full resolver's periodic sync with the other full resolvers of the
//! cluster, as nats-server's `DirAccResolver` does it: every `interval`
//! it asks `$SYS.REQ.CLAIMS.PACK` (queue group `responder`) with the hash
//! of its directory (the XOR of each JWT's SHA-256); a server whose hash
//! differs answers with its JWTs, one `<key>|<jwt>` message each, then an
//! empty message, and the asker keeps each one that is newer than its own
//! (by `iat`; the same `jti` is the same JWT). A server whose hash is the
//! same answers only the empty message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Service;
use crate::broker::Broker;

/// The pack request's subject.
pub(super) const PACK_SUBJECT: &str = "$SYS.REQ.CLAIMS.PACK";
/// Its queue group (one server of the cluster answers).
pub(super) const PACK_QUEUE: &str = "responder";

/// A full resolver's directory and sync interval.
pub(super) fn sync_settings(broker: &Broker) -> Option<(PathBuf, Duration)> {
    match &broker.auth().config().operator.as_ref()?.resolver {
        starling_auth::Resolver::Directory {
            dir,
            full: true,
            cache,
            ..
        } => Some((dir.clone(), cache.interval)),
        _ => None,
    }
}

impl Service {
    /// Asks the cluster's full resolvers for what this one lacks.
    pub(super) async fn request_pack(&mut self) {
        let Some((dir, _, inbox)) = self.sync.clone() else {
            return;
        };
        let Ok(hash) = tokio::task::spawn_blocking(move || directory_hash(&dir)).await else {
            return;
        };
        tracing::debug!("Checking store state");
        self.client.publish(PACK_SUBJECT, Some(&inbox), None, &hash);
    }
}

/// The account JWTs in `dir`, by key, in key order.
fn jwts(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut all: Vec<(String, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(".jwt")?.to_owned();
            let text = std::fs::read_to_string(e.path()).ok()?;
            Some((name, text))
        })
        .collect();
    all.sort();
    all
}

/// nats-server's `DirJWTStore.Hash`: the XOR of every JWT's SHA-256.
pub(super) fn directory_hash(dir: &Path) -> [u8; 32] {
    let mut hash = [0u8; 32];
    for (_, text) in jwts(dir) {
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        for (h, d) in hash.iter_mut().zip(digest.as_ref()) {
            *h ^= d;
        }
    }
    hash
}

/// The answer to a pack request carrying `their` hash: nothing when the
/// directories match, else every JWT (then the empty end message).
pub(super) fn pack(dir: &Path, their: &[u8]) -> Vec<Vec<u8>> {
    if their == directory_hash(dir) {
        tracing::debug!("pack request matches hash");
        return Vec::new();
    }
    jwts(dir)
        .into_iter()
        .map(|(key, text)| format!("{key}|{text}").into_bytes())
        .collect()
}

/// One pack message from another server: each JWT newer than this
/// directory's copy is written and applied (nats-server's `Merge` and
/// `saveIfNewer`); one that does not verify is refused and logged.
pub(super) fn merge(broker: &Broker, dir: &Path, message: &[u8]) {
    let text = String::from_utf8_lossy(message);
    for line in text.split('\n').filter(|l| !l.is_empty()) {
        if let Err(error) = merge_one(broker, dir, line) {
            tracing::error!("Merging resulted in error: {error}");
            return;
        }
    }
}

fn merge_one(broker: &Broker, dir: &Path, line: &str) -> Result<(), String> {
    use starling_auth::jwt::{decode_and_verify, role_of};
    let fields: Vec<&str> = line.split('|').collect();
    let [key, jwt] = fields[..] else {
        return Err(format!(
            "line in package didn't contain 2 entries: {line:?}"
        ));
    };
    if role_of(key) != Some(starling_auth::nkey::NkeyRole::Account) {
        return Err("key to merge is not a valid public account key".into());
    }
    let new = decode_and_verify(jwt).map_err(|e| e.to_string())?;
    let file = dir.join(format!("{key}.jwt"));
    if let Ok(existing) = std::fs::read_to_string(&file)
        && let Ok(old) = decode_and_verify(existing.trim())
    {
        if old.jti == new.jti || old.iat > new.iat {
            return Ok(());
        }
        if new.sub != key {
            return Err("jwt subject nkey and provided nkey do not match".into());
        }
    }
    let auth = broker.auth();
    let operator = auth
        .config()
        .operator
        .as_ref()
        .ok_or("no operator to check the JWT")?;
    let account = operator.account_jwt(None, jwt)?;
    if account.key != key {
        return Err("jwt subject nkey and provided nkey do not match".into());
    }
    std::fs::write(&file, jwt).map_err(|e| e.to_string())?;
    broker.update_account_claims(jwt)?;
    tracing::debug!("Merging succeeded for {key}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_an_xor_of_each_jwt() {
        let dir = std::env::temp_dir().join(format!("starling-pack-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(directory_hash(&dir), [0; 32]);
        std::fs::write(dir.join("A.jwt"), "one").unwrap();
        let one = directory_hash(&dir);
        std::fs::write(dir.join("B.jwt"), "two").unwrap();
        std::fs::write(dir.join("note.txt"), "not a jwt").unwrap();
        let both = directory_hash(&dir);
        assert_ne!(one, both);
        assert!(pack(&dir, &both).is_empty());
        assert_eq!(pack(&dir, &one), vec![b"A|one".to_vec(), b"B|two".to_vec()]);
        std::fs::remove_file(dir.join("B.jwt")).unwrap();
        assert_eq!(directory_hash(&dir), one);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
