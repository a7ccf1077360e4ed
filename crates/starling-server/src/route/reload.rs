//! A reload's change to the `cluster` block.

use std::sync::Arc;

use crate::ClusterOptions;
use crate::broker::Broker;
use crate::link::CloseReason;

/// Takes the reloadable part of a `cluster` block (the rest is
/// checked unchanged): routes taken out of `routes` are closed and no
/// longer dialled, new ones dialled; the `authorization` and `tls` apply
/// to the routes that come next; a new `name` or `permissions` closes
/// every route, to be made again under them (nats-server's
/// `clusterOption` and `routesOption`).
pub(crate) fn reload(broker: &Arc<Broker>, new: Option<&ClusterOptions>) {
    let (Some(cluster), Some(new)) = (&broker.cluster, new) else {
        return;
    };
    let old = cluster.options();
    if *old == *new {
        return;
    }
    cluster.set_options(new.clone());
    let renamed = new.name.is_some() && old.name != new.name;
    let permitted = old.permissions != new.permissions;
    if renamed || permitted {
        // Every route is made again under the new name and permissions
        // (nats-server's way with peers that take no INFO update; it
        // updates newer ones in place). A rename also closes the leaf
        // links this server dialled, which say the cluster's name.
        cluster.reconfigure(new);
        for route in cluster.routes() {
            route.link.close(CloseReason::RouteRemoved);
        }
        if renamed {
            broker.close_solicited_leafs();
        }
    }
    if renamed
        || permitted
        || old.user != new.user
        || old.auth_timeout != new.auth_timeout
        || old.no_advertise != new.no_advertise
        || old.tls != new.tls
    {
        tracing::info!("Reloaded: cluster");
    }
    let removed: Vec<&String> = old
        .routes
        .iter()
        .filter(|u| !new.routes.contains(u))
        .collect();
    let added: Vec<&String> = new
        .routes
        .iter()
        .filter(|u| !old.routes.contains(u))
        .collect();
    for url in &removed {
        for route in cluster.routes() {
            if route.url.as_ref() == Some(*url) {
                route.link.close(CloseReason::RouteRemoved);
                tracing::info!("Removed route {url}");
            }
        }
    }
    for url in &added {
        super::dial_configured(broker, (*url).clone());
    }
    if !removed.is_empty() || !added.is_empty() {
        tracing::info!("Reloaded: cluster routes");
    }
}
