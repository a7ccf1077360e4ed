//! Gives memory that closed connections freed back to the operating system.
//!
//! glibc's allocator keeps what a thread frees in that thread's arena, for
//! the thread to use again, and returns memory to the system only from the
//! top of a heap. After thousands of connections leave (each freed its read
//! and write buffers, tens of kilobytes for one caught mid-message), the
//! process would keep that memory for good: measured, 148 MB after 4,000
//! clients left in the middle of a 60 KB message (docs/benchmarks.md).
//! `malloc_trim` returns the free pages inside the arenas too. It runs on
//! the blocking pool, at most every [`EVERY`], and only when connections
//! closed since the last time, so a server whose clients stay never pays
//! for it. With another allocator (an embedding program's own global
//! allocator, or no glibc) it trims only glibc's unused heap: harmless.
//!
//! The allocator was chosen on the figures (docs/benchmarks.md): jemalloc
//! returned the memory by itself, but cost up to 45 % of the 1 KB pub/sub
//! rate and half the connect rate of a flood on this machine; glibc with
//! this trim keeps both and returns the memory.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::broker::Broker;

/// How often the closed-connection count is looked at.
const EVERY: Duration = Duration::from_secs(5);

/// Trims after connections closed, once per [`EVERY`] at most, until the
/// server stops.
pub(crate) async fn release_after_closes(broker: Arc<Broker>, mut stopped: watch::Receiver<bool>) {
    let mut trimmed_at = broker.stats.closed_count();
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tick.tick() => {}
        }
        let closed = broker.stats.closed_count();
        if closed != trimmed_at {
            trimmed_at = closed;
            let _ = tokio::task::spawn_blocking(release_free_memory).await;
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(
    unsafe_code,
    reason = "glibc's malloc_trim has no safe binding; it takes a number and touches only the allocator's own state"
)]
fn release_free_memory() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: malloc_trim(3) is thread-safe (it locks each arena in turn),
    // reads no memory of ours, and any pad value is valid.
    unsafe {
        malloc_trim(0);
    }
}

/// Other C libraries return memory by themselves or have no such call.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}
