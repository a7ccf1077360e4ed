//! What an account of the `accounts` block sets besides users, exports,
//! imports and mappings: `limits` (nats-server's `parseAccountLimits`) and
//! its `nkey` (an account public key, as nats-server checks it).

use starling_conf::{ConfError, Value, ValueKind};

use crate::nkey::{NkeyRole, PublicNkey};

/// An account's limits; `None` is no limit (a negative value, or none
/// given), 0 allows none, as in nats-server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountLimits {
    /// `max_connections` (`max_conn`): clients and accepted leaf links.
    pub max_connections: Option<u32>,
    /// `max_subscriptions` (`max_subs`): per connection.
    pub max_subscriptions: Option<u32>,
    /// `max_payload` (`max_pay`): per message.
    pub max_payload: Option<u32>,
    /// `max_leafnodes` (`max_leafs`): accepted leaf links.
    pub max_leafnodes: Option<u32>,
}

impl AccountLimits {
    /// True when nothing is limited.
    pub fn is_unlimited(&self) -> bool {
        *self == Self::default()
    }
}

/// Reads `limits { max_connections, max_subscriptions, max_payload,
/// max_leafnodes }`.
pub(crate) fn read_limits(value: &Value) -> Result<AccountLimits, ConfError> {
    let ValueKind::Map(map) = &value.kind else {
        return Err(value.error(format!(
            "Expected account limits to be a map/struct, got {}",
            value.kind_name()
        )));
    };
    let mut limits = AccountLimits::default();
    for (key, field) in map.options() {
        let name = key.name.to_ascii_lowercase();
        let slot = match name.as_str() {
            "max_connections" | "max_conn" => &mut limits.max_connections,
            "max_subscriptions" | "max_subs" => &mut limits.max_subscriptions,
            "max_payload" | "max_pay" => &mut limits.max_payload,
            "max_leafnodes" | "max_leafs" => &mut limits.max_leafnodes,
            _ => {
                return Err(ConfError::at(
                    &key.span,
                    format!("Unknown field {:?} parsing account limits", key.name),
                ));
            }
        };
        let number = field.as_integer(&name)?;
        // nats-server keeps an int32: -1 (any negative) is no limit.
        *slot = if number < 0 {
            None
        } else {
            Some(u32::try_from(number).map_err(|_| field.error(format!("{name}: too large")))?)
        };
    }
    Ok(limits)
}

/// Checks an account's `nkey` (a public account key).
pub(crate) fn read_account_nkey(value: &Value) -> Result<String, ConfError> {
    let text = match &value.kind {
        ValueKind::String(text) => text.as_str(),
        _ => "",
    };
    if PublicNkey::parse(text, NkeyRole::Account).is_none() {
        return Err(value.error(format!("Not a valid public nkey for an account: {text:?}")));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(text: &str) -> Result<AccountLimits, String> {
        let root = starling_conf::parse_str(text).unwrap();
        let value = root.as_map("root").unwrap().get("limits").unwrap().clone();
        read_limits(&value).map_err(|e| e.message)
    }

    #[test]
    fn limits_read_as_nats_server_reads_them() {
        assert_eq!(
            limits("limits { max_conn: 2, max_subs: -1, max_pay: 0, max_leafs: 1 }").unwrap(),
            AccountLimits {
                max_connections: Some(2),
                max_subscriptions: None,
                max_payload: Some(0),
                max_leafnodes: Some(1),
            }
        );
        assert_eq!(
            limits("limits { bogus: 1 }").unwrap_err(),
            "Unknown field \"bogus\" parsing account limits"
        );
    }
}
