//! Why a connection ends: nats-server's close reasons, the websocket close
//! frame each one sends, and whether the backlog is still written.

use starling_ws::{CloseCode, FrameError};

/// Why a connection ended; the texts are nats-server's close reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    ClientClosed,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    WriteError,
    ReadError,
    ParseError,
    StaleConnection,
    ProtocolViolation,
    BadClientProtocolVersion,
    MaxConnectionsExceeded,
    MaxAccountConnectionsExceeded,
    MaxPayloadExceeded,
    MaxControlLineExceeded,
    AuthenticationViolation,
    NoRespondersRequiresHeaders,
    ServerShutdown,
    /// The client sent a websocket close frame (echoed back).
    WebsocketClose(Option<CloseCode>),
    /// A malformed websocket frame.
    WebsocketFrame(FrameError),
    /// A websocket frame left half-sent for longer than write_deadline.
    WebsocketStalled,
    /// No CONNECT within the authorization timeout.
    AuthenticationTimeout,
    /// The user's JWT expired while connected.
    AuthenticationExpired,
    /// A leaf link replaced by a newer one from the same server.
    DuplicateRemoteLeafnode,
    /// A second route to a server already routed to (or to this one).
    DuplicateRoute,
    /// A route to a member of another cluster.
    ClusterNameConflict,
    /// A route peer with this server's own name.
    DuplicateServerName,
    /// A configured route a reload took out of `routes`.
    RouteRemoved,
    /// A claim update revoked the user's JWT.
    Revocation,
}

impl CloseReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ClientClosed => "Client Closed",
            Self::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            Self::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            Self::WriteError => "Write Error",
            Self::ReadError => "Read Error",
            Self::ParseError => "Parse Error",
            Self::StaleConnection => "Stale Connection",
            Self::ProtocolViolation => "Protocol Violation",
            Self::BadClientProtocolVersion => "Bad Client Protocol Version",
            Self::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            Self::MaxAccountConnectionsExceeded => "Maximum Account Connections Exceeded",
            Self::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            Self::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            Self::AuthenticationViolation => "Authentication Failure",
            Self::NoRespondersRequiresHeaders => "No Responders Requires Headers",
            Self::ServerShutdown => "Server Shutdown",
            Self::WebsocketClose(_) => "Client Closed",
            Self::WebsocketFrame(FrameError::MessageTooBig) => "Maximum Message Payload Exceeded",
            Self::WebsocketFrame(_) => "Protocol Violation",
            Self::WebsocketStalled => "Stale Connection",
            Self::AuthenticationTimeout => "Authentication Timeout",
            Self::AuthenticationExpired => "Authentication Expired",
            Self::DuplicateRemoteLeafnode => "Duplicate Remote LeafNode Connection",
            Self::DuplicateRoute => "Duplicate Route",
            Self::ClusterNameConflict => "Cluster Name Conflict",
            Self::DuplicateServerName => "Duplicate Server Name",
            Self::RouteRemoved => "Route Removed",
            Self::Revocation => "Credentials Revoked",
        }
    }

    /// The close frame a websocket client gets for this reason (nats-server's
    /// codes; none where the socket is already unusable).
    pub(crate) fn websocket_close(self) -> Option<(CloseCode, &'static str)> {
        let code = match self {
            Self::WebsocketClose(code) => return Some((code.unwrap_or(CloseCode::Normal), "")),
            Self::WebsocketFrame(error) => error.close_code(),
            Self::ClientClosed => CloseCode::Normal,
            Self::ServerShutdown => CloseCode::GoingAway,
            Self::ParseError | Self::ProtocolViolation | Self::BadClientProtocolVersion => {
                CloseCode::ProtocolError
            }
            Self::MaxPayloadExceeded => CloseCode::MessageTooBig,
            Self::AuthenticationViolation
            | Self::MaxConnectionsExceeded
            | Self::MaxAccountConnectionsExceeded
            | Self::MaxControlLineExceeded
            | Self::StaleConnection
            | Self::WebsocketStalled
            | Self::AuthenticationTimeout
            | Self::AuthenticationExpired
            | Self::DuplicateRemoteLeafnode
            | Self::DuplicateRoute
            | Self::ClusterNameConflict
            | Self::DuplicateServerName
            | Self::RouteRemoved
            | Self::Revocation => CloseCode::PolicyViolation,
            Self::NoRespondersRequiresHeaders => CloseCode::InternalError,
            Self::SlowConsumerPendingBytes
            | Self::SlowConsumerWriteDeadline
            | Self::ReadError
            | Self::WriteError => {
                return None;
            }
        };
        Some((code, self.as_str()))
    }

    /// Cut off for not keeping up (counted as a slow consumer).
    pub(crate) fn is_slow_consumer(self) -> bool {
        matches!(
            self,
            Self::SlowConsumerPendingBytes | Self::SlowConsumerWriteDeadline
        )
    }

    /// Whether what is already queued should still be written before closing
    /// (an `-ERR` explaining the close, or messages before a shutdown).
    pub(crate) fn flushes(self) -> bool {
        !matches!(
            self,
            Self::SlowConsumerPendingBytes
                | Self::SlowConsumerWriteDeadline
                | Self::WriteError
                | Self::ReadError
                | Self::ClientClosed
        )
    }
}
