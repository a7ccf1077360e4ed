//! What Starling counts beyond nats-server's figures (its `/metrics`
//! shows them): websocket upgrades refused, by reason; connections cut off
//! as slow consumers, by transport and reason; and the largest outbound
//! backlog closed connections had, by transport. All of it is counted
//! where a connection is refused or closes, never on the message path.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use starling_ws::handshake::UpgradeError;

use crate::link::CloseReason;

/// Why a websocket upgrade was refused, as `/metrics` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The upgrade request itself (its `UpgradeError`).
    Request(&'static str),
    /// The TLS handshake failed.
    Tls,
    /// Plain HTTP on the TLS port.
    PlainHttpOnTls,
    /// Not done within the handshake timeout.
    Timeout,
}

impl Refusal {
    /// The refusal of an upgrade request.
    pub(crate) fn of(error: &UpgradeError) -> Self {
        Self::Request(match error {
            UpgradeError::MethodNotAllowed => "method",
            UpgradeError::MissingHost | UpgradeError::MissingRequiredHost => "host",
            UpgradeError::MalformedHost => "host",
            UpgradeError::BadUpgradeHeader => "upgrade_header",
            UpgradeError::BadConnectionHeader => "connection_header",
            UpgradeError::MissingKey => "key",
            UpgradeError::BadVersion => "version",
            UpgradeError::OriginNotAllowed(_) => "origin",
            UpgradeError::DataBeforeHandshake => "data_before_handshake",
            UpgradeError::Malformed => "malformed",
            _ => "other",
        })
    }

    fn label(self) -> &'static str {
        match self {
            Self::Request(reason) => reason,
            Self::Tls => "tls",
            Self::PlainHttpOnTls => "plain_http_on_tls",
            Self::Timeout => "timeout",
        }
    }
}

/// Starling's own counters.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    refusals: Mutex<BTreeMap<&'static str, u64>>,
    slow_consumers: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    high_water: Mutex<BTreeMap<&'static str, u64>>,
}

impl Extra {
    /// A websocket upgrade was refused.
    pub(crate) fn refused(&self, refusal: Refusal) {
        *lock(&self.refusals).entry(refusal.label()).or_default() += 1;
    }

    /// Refused websocket upgrades, by reason.
    pub(crate) fn refusals(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.refusals).clone()
    }

    /// A connection of `transport` closed for `reason`, its outbound
    /// backlog having reached `high_water` bytes at most.
    pub(crate) fn closed(
        &self,
        transport: &'static str,
        reason: Option<CloseReason>,
        high_water: u64,
    ) {
        let slow = match reason {
            Some(CloseReason::SlowConsumerPendingBytes) => Some("pending_bytes"),
            Some(CloseReason::SlowConsumerWriteDeadline) => Some("write_deadline"),
            _ => None,
        };
        if let Some(slow) = slow {
            *lock(&self.slow_consumers)
                .entry((transport, slow))
                .or_default() += 1;
        }
        let mut marks = lock(&self.high_water);
        let mark = marks.entry(transport).or_default();
        *mark = (*mark).max(high_water);
    }

    /// Slow consumers cut off, by transport and reason.
    pub(crate) fn slow_consumers(&self) -> BTreeMap<(&'static str, &'static str), u64> {
        lock(&self.slow_consumers).clone()
    }

    /// The largest outbound backlog of closed connections, by transport.
    pub(crate) fn closed_high_water(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.high_water).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
