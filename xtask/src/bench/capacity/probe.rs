//! The capacity probes and their labels.

/// A capacity probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Probe {
    IdleTcp,
    IdleWs,
    ConnectRateTcp,
    UpgradeRateWs,
    SlowReaders,
    StuckReader,
    BcryptFlood,
    FloodTcp,
    FloodWs,
    LeftMidMessage,
    VarzTime,
    ConnzTime,
    MetricsTime,
    LeafHop16,
    LeafHop1K,
    LeafHopWs1K,
    CrossNode16,
    CrossNode1K,
}

impl Probe {
    pub(crate) const ALL: [Self; 18] = [
        Self::IdleTcp,
        Self::IdleWs,
        Self::ConnectRateTcp,
        Self::UpgradeRateWs,
        Self::SlowReaders,
        Self::StuckReader,
        Self::BcryptFlood,
        Self::FloodTcp,
        Self::FloodWs,
        Self::LeftMidMessage,
        Self::VarzTime,
        Self::ConnzTime,
        Self::MetricsTime,
        Self::LeafHop16,
        Self::LeafHop1K,
        Self::LeafHopWs1K,
        Self::CrossNode16,
        Self::CrossNode1K,
    ];

    /// A probe of something nats-server does not have.
    pub(crate) fn starling_only(self) -> bool {
        self == Self::MetricsTime
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::IdleTcp => "memory per idle TCP connection (1,000)",
            Self::IdleWs => "memory per idle websocket connection (1,000)",
            Self::ConnectRateTcp => "TCP connects (CONNECT, PING/PONG) per second",
            Self::UpgradeRateWs => "websocket upgrades (CONNECT, PING/PONG) per second",
            Self::SlowReaders => "publisher rate, two readers at 50 MB/s",
            Self::StuckReader => "publisher held behind a stuck reader",
            Self::BcryptFlood => "PING p99 while 100 wrong bcrypt logins arrive",
            Self::FloodTcp => "TCP flood answering 1 s pings, memory each",
            Self::FloodWs => "websocket flood answering 1 s pings, memory each",
            Self::LeftMidMessage => "memory kept after 4,000 clients left mid-message",
            Self::VarzTime => "/varz answer with 10,000 clients",
            Self::ConnzTime => "/connz of 10,000 connections",
            Self::MetricsTime => "/metrics with 10,000 connections",
            Self::LeafHop16 => "leaf hop (hub publisher, leaf subscriber) 16 B",
            Self::LeafHop1K => "leaf hop (hub publisher, leaf subscriber) 1 KB",
            Self::LeafHopWs1K => "leaf hop over websocket 1 KB",
            Self::CrossNode16 => "cross-node (publisher and subscriber on two members) 16 B",
            Self::CrossNode1K => "cross-node (publisher and subscriber on two members) 1 KB",
        }
    }
}
