//! The clocks as the state machine is handed them.

use std::time::Instant;

/// A moment, as the state machine sees it: the monotonic clock for
/// deadlines and Unix seconds for credentials (JWT times).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Time {
    pub(crate) instant: Instant,
    pub(crate) unix: i64,
}

impl Time {
    /// The system's clocks, now (the driver's job; tests make their own).
    pub(crate) fn now() -> Self {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Self {
            instant: Instant::now(),
            unix,
        }
    }
}
