//! Publish and subscribe permissions, with nats-server's semantics: an
//! allow list (absent: everything) narrowed by a deny list; subscribe
//! entries may name a queue group (`"subject queue"`); a wildcard
//! subscription is allowed as a subject, and messages its deny entries
//! cover are kept from it at delivery.

use std::time::Duration;

use starling_conf::{ConfError, Value, ValueKind};
use starling_subject::{check_filter, has_wildcard, matches};

/// One permission entry: a subject filter and, for subscribe, an optional
/// queue group (which may itself use wildcards).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionEntry {
    /// The subject filter.
    pub subject: String,
    /// The queue group, for queue-subscribe entries.
    pub queue: Option<String>,
}

/// Allow and deny lists for one direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectPermission {
    /// `None`: everything is allowed (unless denied).
    pub allow: Option<Vec<PermissionEntry>>,
    /// Denied subjects.
    pub deny: Vec<PermissionEntry>,
}

/// `allow_responses`: a user may publish to the reply subject of a
/// message it received, up to `max_msgs` times within `expires`, whatever
/// its publish permissions say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePermission {
    /// Responses allowed per request (nats-server's default: 1).
    pub max_msgs: u32,
    /// How long a request may be answered (default: 2 minutes).
    pub expires: Duration,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        Self {
            max_msgs: 1,
            expires: Duration::from_secs(120),
        }
    }
}

/// A user's permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Publish permissions.
    pub publish: Option<SubjectPermission>,
    /// Subscribe permissions.
    pub subscribe: Option<SubjectPermission>,
    /// Replies allowed to received requests.
    pub responses: Option<ResponsePermission>,
}

impl Permissions {
    /// May the user publish to `subject`?
    pub fn can_publish(&self, subject: &[u8]) -> bool {
        let Some(rule) = &self.publish else {
            return true;
        };
        let allowed = rule.allow.as_ref().is_none_or(|allow| {
            allow
                .iter()
                .any(|e| e.queue.is_none() && matches(e.subject.as_bytes(), subject))
        });
        allowed
            && !rule
                .deny
                .iter()
                .any(|e| e.queue.is_none() && matches(e.subject.as_bytes(), subject))
    }

    /// May the user subscribe to `filter` (in `queue`)? As nats-server's
    /// `canSubscribe`: the filter is matched against the entries as a
    /// subject, so `foo.>` allows `foo.*` but `foo.bar` does not.
    pub fn can_subscribe(&self, filter: &[u8], queue: Option<&[u8]>) -> bool {
        let Some(rule) = &self.subscribe else {
            return true;
        };
        let mut allowed = true;
        if let Some(allow) = &rule.allow {
            let plain = allow
                .iter()
                .any(|e| e.queue.is_none() && matches(e.subject.as_bytes(), filter));
            allowed = plain;
            let queued: Vec<&PermissionEntry> = allow
                .iter()
                .filter(|e| e.queue.is_some() && matches(e.subject.as_bytes(), filter))
                .collect();
            if let Some(queue) = queue
                && !queued.is_empty()
            {
                allowed = queued.iter().any(|e| queue_matches(e, queue));
            }
        }
        if allowed {
            allowed = !rule
                .deny
                .iter()
                .any(|e| e.queue.is_none() && matches(e.subject.as_bytes(), filter));
            let queued: Vec<&PermissionEntry> = rule
                .deny
                .iter()
                .filter(|e| e.queue.is_some() && matches(e.subject.as_bytes(), filter))
                .collect();
            if let Some(queue) = queue
                && !queued.is_empty()
            {
                allowed = !queued.iter().any(|e| queue_matches(e, queue));
            }
        }
        allowed
    }

    /// For a wildcard subscription: is a message on `subject` denied to it
    /// (a deny entry inside the subscription's scope)?
    pub fn denies_delivery(&self, subscription: &[u8], subject: &[u8]) -> bool {
        let Some(rule) = &self.subscribe else {
            return false;
        };
        has_wildcard(subscription)
            && rule
                .deny
                .iter()
                .any(|e| e.queue.is_none() && matches(e.subject.as_bytes(), subject))
    }

    /// True when subscriptions may need [`denies_delivery`](Self::denies_delivery).
    pub fn has_subscribe_denies(&self) -> bool {
        self.subscribe.as_ref().is_some_and(|r| !r.deny.is_empty())
    }
}

fn queue_matches(entry: &PermissionEntry, queue: &[u8]) -> bool {
    entry
        .queue
        .as_ref()
        .is_some_and(|q| matches(q.as_bytes(), queue))
}

/// Reads a `permissions` block (`publish`/`pub`/`import`,
/// `subscribe`/`sub`/`export`, `allow_responses`).
///
/// # Errors
///
/// An unknown key, a bad subject, a bad `allow_responses`.
pub fn read_permissions(value: &Value) -> Result<Permissions, ConfError> {
    let map = value.as_map("permissions")?;
    let mut permissions = Permissions::default();
    for (key, value) in map.options() {
        match key.name.to_ascii_lowercase().as_str() {
            "publish" | "pub" | "import" => {
                permissions.publish = Some(subject_permission(value, false)?)
            }
            "subscribe" | "sub" | "export" => {
                permissions.subscribe = Some(subject_permission(value, true)?)
            }
            "allow_responses" | "publish_allow_responses" | "allow_resp" => {
                permissions.responses = responses(value)?;
            }
            _ => {
                return Err(ConfError::unknown_field(key));
            }
        }
    }
    if permissions.responses.is_some() {
        // nats-server: response permissions turn off a blanket publish allow.
        let publish = permissions
            .publish
            .get_or_insert_with(SubjectPermission::default);
        publish.allow.get_or_insert_with(Vec::new);
    }
    Ok(permissions)
}

/// `allow_responses: true`, or `{ max: 5, expires: "1m" }`.
fn responses(value: &Value) -> Result<Option<ResponsePermission>, ConfError> {
    match &value.kind {
        ValueKind::Bool(false) => Ok(None),
        ValueKind::Bool(true) => Ok(Some(ResponsePermission::default())),
        ValueKind::Map(map) => {
            let mut response = ResponsePermission::default();
            for (key, value) in map.options() {
                match key.name.to_ascii_lowercase().as_str() {
                    "max" | "max_msgs" | "max_messages" | "max_responses" => {
                        let max = value.as_integer("max")?;
                        if max > 0 {
                            response.max_msgs =
                                u32::try_from(max).map_err(|_| value.error("max: too large"))?;
                        }
                    }
                    "expires" | "expiration" | "ttl" => {
                        let expires = value.as_duration("expires")?;
                        if !expires.is_zero() {
                            response.expires = expires;
                        }
                    }
                    _ => {
                        return Err(ConfError::unknown_field(key));
                    }
                }
            }
            Ok(Some(response))
        }
        _ => Err(value.error(format!(
            "allow_responses: expected a boolean or a map, got {}",
            value.kind_name()
        ))),
    }
}

/// `"subj"`, `["a", "b"]`, or `{ allow: ..., deny: ... }`.
fn subject_permission(value: &Value, subscribe: bool) -> Result<SubjectPermission, ConfError> {
    match &value.kind {
        ValueKind::Map(map) => {
            let mut rule = SubjectPermission::default();
            for (key, value) in map.options() {
                match key.name.to_ascii_lowercase().as_str() {
                    "allow" => rule.allow = Some(entries(value, subscribe)?),
                    "deny" => rule.deny = entries(value, subscribe)?,
                    _ => {
                        return Err(ConfError::unknown_field(key));
                    }
                }
            }
            Ok(rule)
        }
        _ => Ok(SubjectPermission {
            allow: Some(entries(value, subscribe)?),
            deny: Vec::new(),
        }),
    }
}

fn entries(value: &Value, subscribe: bool) -> Result<Vec<PermissionEntry>, ConfError> {
    value
        .one_or_many()
        .iter()
        .map(|item| {
            let text = item.as_str("permissions")?;
            let mut parts = text.split_whitespace();
            let subject = parts.next().unwrap_or_default().to_owned();
            let queue = parts.next().map(str::to_owned);
            let valid = check_filter(subject.as_bytes()).is_ok()
                && parts.next().is_none()
                && (subscribe || queue.is_none())
                && queue
                    .as_ref()
                    .is_none_or(|q| check_filter(q.as_bytes()).is_ok());
            if valid {
                Ok(PermissionEntry { subject, queue })
            } else {
                Err(item.error(format!("invalid permission subject {text:?}")))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(text: &str) -> Permissions {
        let root = starling_conf::parse_str(&format!("p {{ {text} }}")).unwrap();
        read_permissions(root.as_map("").unwrap().get("p").unwrap()).unwrap()
    }

    #[test]
    fn publish() {
        let p = perms("publish: { allow: [\"ok.>\"], deny: [\"ok.secret\"] }");
        assert!(
            p.can_publish(b"ok.fine") && !p.can_publish(b"ok.secret") && !p.can_publish(b"no.way")
        );
        let list = perms("publish: [\"a\", \"b.*\"]");
        assert!(list.can_publish(b"b.c") && !list.can_publish(b"c"));
        let deny_only = perms("publish: { deny: \"x.>\" }");
        assert!(deny_only.can_publish(b"y") && !deny_only.can_publish(b"x.y"));
        assert!(Permissions::default().can_publish(b"anything"));
    }

    #[test]
    fn subscribe_with_queues_and_wildcards() {
        let p = perms(
            "subscribe: { allow: [\"ok.>\", \"jobs.* workers\"], deny: [\"ok.secret\", \"ok.q banned\"] }",
        );
        assert!(p.can_subscribe(b"ok.x", None));
        assert!(p.can_subscribe(b"ok.*", None), "foo.> allows foo.*");
        assert!(!p.can_subscribe(b"ok.secret", None));
        assert!(!p.can_subscribe(b"no.way", None));
        assert!(p.can_subscribe(b"jobs.a", Some(b"workers")));
        assert!(!p.can_subscribe(b"jobs.a", Some(b"others")));
        assert!(
            !p.can_subscribe(b"jobs.a", None),
            "only as the queue the entry names"
        );
        assert!(!p.can_subscribe(b"ok.q", Some(b"banned")));
        assert!(p.can_subscribe(b"ok.q", Some(b"fine")));
        assert!(p.denies_delivery(b"ok.>", b"ok.secret"));
        assert!(!p.denies_delivery(b"ok.>", b"ok.open"));
    }

    #[test]
    fn allow_responses_turns_off_the_blanket_publish_allow() {
        let p = perms("allow_responses: true");
        assert_eq!(p.responses, Some(ResponsePermission::default()));
        assert!(!p.can_publish(b"anything"));
        let p = perms("allow_responses: { max: 3, expires: \"5s\" }, publish: \"ok.>\"");
        assert_eq!(
            p.responses,
            Some(ResponsePermission {
                max_msgs: 3,
                expires: Duration::from_secs(5)
            })
        );
        assert!(p.can_publish(b"ok.1") && !p.can_publish(b"other"));
    }

    #[test]
    fn bad_entries_are_refused() {
        let root = starling_conf::parse_str("p { publish: \"a..b\" }").unwrap();
        assert!(read_permissions(root.as_map("").unwrap().get("p").unwrap()).is_err());
        let root = starling_conf::parse_str("p { publish: \"a q\" }").unwrap();
        assert!(
            read_permissions(root.as_map("").unwrap().get("p").unwrap()).is_err(),
            "queues only for subscribe"
        );
        let root = starling_conf::parse_str("p { allow_responses: 7 }").unwrap();
        assert!(read_permissions(root.as_map("").unwrap().get("p").unwrap()).is_err());
    }
}
