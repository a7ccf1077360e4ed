//! Route TLS (`cluster.md` §8.2): mutual both ways, as nats-server forces
//! it whatever `verify` says: the accepting side requires and verifies
//! the peer's certificate against `ca_file` (the system's roots without
//! one), the dialling side presents this server's and verifies the
//! peer's the same way (unless `insecure`).

use super::{TlsError, connector, mutual_acceptor};
use crate::broker::RouteTls;
use crate::{ClusterTls, RemoteTls};

/// Builds both sides from the cluster's `tls` block (files read once, at
/// start-up).
pub(crate) fn route(tls: &ClusterTls) -> Result<RouteTls, TlsError> {
    let acceptor = mutual_acceptor(&starling_ws::TlsOptions {
        ca_file: tls.ca_file.clone(),
        verify: true,
        timeout: tls.timeout,
        tuning: tls.tuning.clone(),
        ..starling_ws::TlsOptions::new(&tls.cert_file, &tls.key_file)
    })?;
    let connector = connector(&RemoteTls {
        ca_file: tls.ca_file.clone(),
        cert: Some((tls.cert_file.clone(), tls.key_file.clone())),
        insecure: tls.insecure,
        timeout: tls.timeout,
        tuning: tls.tuning.clone(),
    })?;
    if tls.insecure {
        tracing::warn!(
            "TLS certificate chain and hostname of solicited routes will not be verified. DO NOT USE IN PRODUCTION!"
        );
    }
    Ok(RouteTls {
        acceptor,
        connector,
        timeout: tls.timeout,
    })
}
