//! The kinds of connection a user may be restricted to.

use std::fmt;

/// How a client reached the server (nats-server's connection types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionKind {
    /// A NATS client over TCP (`STANDARD`).
    Standard,
    /// A NATS client over websocket (`WEBSOCKET`).
    Websocket,
    /// A leaf node (`LEAFNODE`).
    Leafnode,
    /// A leaf node over websocket (`LEAFNODE_WS`).
    LeafnodeWs,
    /// An MQTT client (`MQTT`).
    Mqtt,
    /// An MQTT client over websocket (`MQTT_WS`).
    MqttWs,
}

impl ConnectionKind {
    /// Parses a connection type name, in any case.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "STANDARD" => Self::Standard,
            "WEBSOCKET" => Self::Websocket,
            "LEAFNODE" => Self::Leafnode,
            "LEAFNODE_WS" => Self::LeafnodeWs,
            "MQTT" => Self::Mqtt,
            "MQTT_WS" => Self::MqttWs,
            _ => return None,
        })
    }

    /// The name nats-server uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::Websocket => "WEBSOCKET",
            Self::Leafnode => "LEAFNODE",
            Self::LeafnodeWs => "LEAFNODE_WS",
            Self::Mqtt => "MQTT",
            Self::MqttWs => "MQTT_WS",
        }
    }
}

impl fmt::Display for ConnectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
