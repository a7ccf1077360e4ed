//! What the system service announces of connections: the connect and
//! disconnect events of a batch, then the connection counts of the
//! accounts they touched (`account_connections`, once each).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{Service, SystemEvent, events};
use crate::broker::stats::unix_nanos_now;
use crate::monitor::Query;

impl Service {
    /// The `account_connections` bodies of `accounts` (only those with
    /// connections unless `unused`).
    pub(super) async fn account_conns(
        &mut self,
        accounts: Vec<String>,
        unused: bool,
    ) -> Vec<(String, Map<String, Value>)> {
        let rows = self
            .blocking(move |monitor| {
                let mut query = Query::internal(Default::default());
                query.accounts = Some(accounts);
                if unused {
                    query.set("unused", "true");
                }
                monitor.data("/accstatz", &query, unix_nanos_now())
            })
            .await
            .flatten()
            .and_then(Result::ok);
        let Some(Value::Array(rows)) =
            rows.and_then(|mut v| v.get_mut("account_statz").map(Value::take))
        else {
            return Vec::new();
        };
        let now = unix_nanos_now();
        rows.iter()
            .map(|row| {
                let account = row["acc"].as_str().unwrap_or_default().to_owned();
                let id = events::event_id(&mut self.rng);
                (account, events::account_conns(row, id, now))
            })
            .collect()
    }

    /// Announces a batch of connection events, then the connection counts
    /// of the accounts they touched (once each).
    pub(super) async fn announce(&mut self, batch: Vec<SystemEvent>) {
        let mut touched = BTreeSet::new();
        for event in batch {
            let now = unix_nanos_now();
            let id = events::event_id(&mut self.rng);
            let (subject, body) = match &event {
                SystemEvent::Connected(connection) => events::connected(connection, id, now),
                SystemEvent::Closed(connection) => {
                    let lost = self.latency.closed(&self.broker, connection.link.cid);
                    self.publish_latency(lost);
                    events::closed(&self.broker, connection, id, now)
                }
                SystemEvent::Latency(_) => {
                    if let SystemEvent::Latency(event) = event {
                        let ready = self.latency.event(&self.broker, event);
                        self.publish_latency(ready.into_iter().collect());
                    }
                    continue;
                }
            };
            if let Some(account) = body
                .get("client")
                .and_then(|c| c["acc"].as_str())
                .filter(|a| *a != crate::account::GLOBAL_ACCOUNT)
            {
                touched.insert(account.to_owned());
            }
            if self.listened(&subject) {
                self.publish_event(&subject, body);
            }
        }
        let listened: Vec<String> = touched
            .into_iter()
            .filter(|account| {
                self.listened(&format!("$SYS.ACCOUNT.{account}.SERVER.CONNS"))
                    || self.listened(&format!("$SYS.SERVER.ACCOUNT.{account}.CONNS"))
            })
            .collect();
        if listened.is_empty() {
            return;
        }
        // Also an account whose last connection left: its counts say so.
        let rows = self.account_conns(listened, true).await;
        for (account, body) in rows {
            self.publish_event(
                &format!("$SYS.SERVER.ACCOUNT.{account}.CONNS"),
                body.clone(),
            );
            self.publish_event(&format!("$SYS.ACCOUNT.{account}.SERVER.CONNS"), body);
        }
    }
}
