//! A cache resolver's lookup of an account it lacks (nats-server's
//! `fetch`): `$SYS.REQ.ACCOUNT.<key>.CLAIMS.LOOKUP` asked of the system
//! account (the full resolvers of the cluster answer, over routes and
//! leaf links), the first answer taken, within the resolver's `timeout`.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;

use crate::broker::Broker;
use crate::client::InternalClient;

/// The JWT a full resolver answers for `key`, if one does in time.
pub(crate) async fn lookup_account(
    broker: &Arc<Broker>,
    key: &str,
    wait: Duration,
) -> Option<String> {
    let system = broker.system.as_ref()?;
    let mut client = InternalClient::new(Arc::clone(broker), Arc::clone(&system.account));
    let inbox = format!("_INBOX.{}", crate::identity::nonce()?);
    client.subscribe(&inbox, None, 1);
    let subject = format!("$SYS.REQ.ACCOUNT.{key}.CLAIMS.LOOKUP");
    client.publish(&subject, Some(&inbox), None, b"");
    let link = Arc::clone(&client.link);
    let deadline = tokio::time::Instant::now() + wait;
    let mut spare = BytesMut::new();
    let found = loop {
        let woken = link.writer_wake.notified();
        link.take_outbound(&mut spare);
        let answer = super::inbox::deliveries(&spare)
            .into_iter()
            .find(|d| !d.payload.is_empty());
        link.progress(spare.len());
        spare.clear();
        link.written();
        if let Some(answer) = answer {
            break String::from_utf8(answer.payload).ok();
        }
        if tokio::time::timeout_at(deadline, woken).await.is_err() {
            break None;
        }
    };
    client.unsubscribe(1);
    found
}
