//! The process's own figures for `/varz`: resident memory and CPU use,
//! read from `/proc/self` (Linux; zero elsewhere).

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Clock ticks per second of `/proc/self/stat` (Linux's `USER_HZ`).
const TICKS_PER_SECOND: f64 = 100.0;
/// Bytes per page of `/proc/self/statm`.
const PAGE_SIZE: u64 = 4096;

/// CPU use is the change since the previous reading (or since start).
pub(super) struct ProcessStats {
    last: Mutex<(Instant, u64)>,
}

impl ProcessStats {
    pub(super) fn new() -> Self {
        Self {
            last: Mutex::new((Instant::now(), cpu_ticks())),
        }
    }

    /// Resident set size in bytes.
    pub(super) fn resident_bytes(&self) -> u64 {
        std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |pages| pages * PAGE_SIZE)
    }

    /// CPU in percent of one core since the previous call, one decimal.
    pub(super) fn cpu_percent(&self) -> f64 {
        let now = (Instant::now(), cpu_ticks());
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.0.duration_since(last.0).as_secs_f64();
        let ticks = now.1.saturating_sub(last.1) as f64;
        *last = now;
        if elapsed <= 0.0 {
            return 0.0;
        }
        (ticks / TICKS_PER_SECOND / elapsed * 1000.0).round() / 10.0
    }
}

/// User and system ticks of this process.
fn cpu_ticks() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // Fields after the command name (which may hold spaces) in its
    // parentheses: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}
