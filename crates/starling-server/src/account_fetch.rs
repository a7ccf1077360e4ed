//! Accounts fetched when their first user connects: the URL resolver
//! asks its account server (`resolver_url.rs`), a cache resolver the
//! cluster's full resolvers (`system/lookup.rs`, then written to its
//! directory within its `limit` and `ttl`). Either is taken as a claim
//! update is.

use std::path::Path;
use std::sync::Arc;

use starling_auth::Resolver;

use crate::broker::Broker;

/// Where an account not known yet comes from, if anywhere.
enum Source {
    /// The URL resolver's base URL and HTTPS settings.
    Url(String, Option<starling_auth::ResolverTls>),
    /// A cache resolver's directory and bounds: the cluster's full
    /// resolvers are asked.
    Cache(std::path::PathBuf, starling_auth::CacheSettings),
}

impl Broker {
    fn account_source(&self) -> Option<Source> {
        // As reloaded last (`resolver_tls` reloads).
        let options = self.live.options();
        let operator = options.auth.operator.as_ref()?;
        match &operator.resolver {
            Resolver::Url { url } => Some(Source::Url(url.clone(), operator.resolver_tls.clone())),
            Resolver::Directory {
                dir,
                full: false,
                cache,
                ..
            } => Some(Source::Cache(dir.clone(), *cache)),
            _ => None,
        }
    }

    /// The account a user JWT belongs to (its `issuer_account`, else its
    /// issuer), fetched if it is not known yet (URL and cache resolvers).
    pub(crate) async fn resolve_account_of(self: &Arc<Self>, user_jwt: &str) {
        if self.account_source().is_none() {
            return;
        }
        let Ok(claims) = starling_auth::jwt::decode_and_verify(user_jwt) else {
            return;
        };
        let account = if claims.nats.issuer_account.is_empty() {
            claims.iss
        } else {
            claims.nats.issuer_account
        };
        self.resolve_account(&account).await;
    }

    /// Fetches the account of `key` unless it is known (from the account
    /// server, or a full resolver of the cluster), and takes it as a claim
    /// update; a cache writes it to its directory. A failed fetch is
    /// logged; the user is then refused as one of an unknown account.
    pub(crate) async fn resolve_account(self: &Arc<Self>, key: &str) {
        let Some(source) = self.account_source() else {
            return;
        };
        let auth = self.auth();
        if auth
            .config()
            .operator
            .as_ref()
            .is_some_and(|o| o.accounts.contains_key(key))
        {
            return;
        }
        let fetched = match &source {
            Source::Url(base, tls) => {
                crate::resolver_url::fetch(&format!("{base}{key}"), tls.as_ref()).await
            }
            Source::Cache(_, cache) => crate::system::lookup_account(self, key, cache.timeout)
                .await
                .ok_or_else(|| format!("fetching jwt timed out ({key})")),
        };
        let jwt = match fetched {
            Ok(jwt) => jwt.trim().to_owned(),
            Err(error) => {
                tracing::warn!("Account fetch failed: {error}");
                return;
            }
        };
        let subject = starling_auth::jwt::decode_and_verify(&jwt).map(|c| c.sub);
        if subject.as_deref().ok() != Some(key) {
            tracing::warn!(
                "Account fetch failed: the JWT fetched for {key} is not its account JWT"
            );
            return;
        }
        if let Source::Cache(dir, cache) = source {
            let (dir, key, text) = (dir, key.to_owned(), jwt.clone());
            let _ =
                tokio::task::spawn_blocking(move || store_cached(&dir, &key, &text, cache)).await;
        }
        if let Err(error) = self.update_account_claims(&jwt) {
            tracing::warn!("Account fetch failed: {key}: {error}");
        }
    }
}

/// Writes a fetched JWT into a cache's directory, then keeps it within
/// its bounds: JWTs older than `ttl` go, then the oldest past `limit`
/// (nats-server's expiring store; the accounts stay in memory). Blocking.
fn store_cached(dir: &Path, key: &str, jwt: &str, cache: starling_auth::CacheSettings) {
    let stored = dir.join(format!("{key}.jwt"));
    if let Err(error) = std::fs::write(&stored, jwt) {
        tracing::warn!("cache resolver: can't write {key}: {error}");
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = std::time::SystemTime::now();
    let mut kept: Vec<(std::time::SystemTime, std::path::PathBuf)> = Vec::new();
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        if path.extension().is_none_or(|x| x != "jwt") || path == stored {
            continue;
        }
        let written = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .unwrap_or(now);
        let age = now.duration_since(written).unwrap_or_default();
        if cache.ttl.is_some_and(|ttl| age > ttl) {
            let _ = std::fs::remove_file(&path);
        } else {
            kept.push((written, path));
        }
    }
    kept.sort();
    // The one just stored stays: the others make room for it.
    let room = usize::try_from(cache.limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(1);
    let excess = kept.len().saturating_sub(room);
    for (_, path) in kept.into_iter().take(excess) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_keeps_within_its_limit_and_the_newest_stays() {
        let dir = std::env::temp_dir().join(format!("starling-cache-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cache = starling_auth::CacheSettings {
            limit: 2,
            ..starling_auth::CacheSettings::default()
        };
        for key in ["C", "B", "A"] {
            store_cached(&dir, key, "jwt", cache);
        }
        let left = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(left, 2);
        assert!(dir.join("A.jwt").exists(), "the newest stays");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
