//! The server's only reader of the wall clock. Everything else takes `now`
//! as an argument or asks the [`Clock`] in `AppState`, so tests can pin time.
//!
//! A [`Clock`] is either the system clock or a pinned instant that a test
//! sets and advances; a test that exercises "now" (an approval, an expiry,
//! a login lockout) builds its state with [`Clock::pinned`] so that it
//! behaves the same on whatever day it runs.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use ledcast_protocol::v1 as protocol;

/// The current instant, in milliseconds since the Unix epoch, from the system
/// clock. Code with an `AppState` asks `state.clock` instead.
#[allow(clippy::disallowed_methods)]
pub fn now() -> protocol::Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    protocol::Timestamp(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}

/// A monotonic instant, for measuring how long work took (logs, benches).
#[allow(clippy::disallowed_methods)]
pub fn monotonic() -> std::time::Instant {
    std::time::Instant::now()
}

/// Sleeps `every` on tokio's timer; false when `stopping` turns true first
/// (the background loops' pause, so a stop does not have to abort them).
pub async fn pause(
    stopping: &tokio::sync::watch::Receiver<bool>,
    every: std::time::Duration,
) -> bool {
    let mut stopping = stopping.clone();
    tokio::select! {
        () = tokio::time::sleep(every) => true,
        _ = stopping.wait_for(|stop| *stop) => false,
    }
}

/// Where the server's "now" comes from: the system clock, or an instant a
/// test pinned (shared by every clone, so a test can move it).
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// The pinned instant (ms since the epoch); `None` reads the system clock.
    pinned: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self { pinned: None }
    }

    /// A clock that reads `at` until it is [`set`](Self::set) or
    /// [`advance`](Self::advance)d.
    pub fn pinned(at: protocol::Timestamp) -> Self {
        Self {
            pinned: Some(Arc::new(AtomicI64::new(at.as_millis()))),
        }
    }

    /// The current instant.
    pub fn now(&self) -> protocol::Timestamp {
        match &self.pinned {
            Some(at) => protocol::Timestamp(at.load(Ordering::SeqCst)),
            None => now(),
        }
    }

    /// Moves a pinned clock to `at`; a system clock is not moved.
    pub fn set(&self, at: protocol::Timestamp) {
        if let Some(pinned) = &self.pinned {
            pinned.store(at.as_millis(), Ordering::SeqCst);
        }
    }

    /// Moves a pinned clock forward by `ms`; a system clock is not moved.
    pub fn advance(&self, ms: i64) {
        if let Some(pinned) = &self.pinned {
            pinned.fetch_add(ms, Ordering::SeqCst);
        }
    }

    /// Whether this clock is pinned (a test's), not the system's.
    pub fn is_pinned(&self) -> bool {
        self.pinned.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_clock_moves_only_when_told_and_every_clone_sees_it() {
        let clock = Clock::pinned(protocol::Timestamp(1_000));
        let clone = clock.clone();
        assert_eq!(clone.now(), protocol::Timestamp(1_000));
        clock.advance(500);
        assert_eq!(clone.now(), protocol::Timestamp(1_500));
        clone.set(protocol::Timestamp(42));
        assert_eq!(clock.now(), protocol::Timestamp(42));
        let system = Clock::system();
        system.set(protocol::Timestamp(42));
        assert!(system.now().as_millis() > 1_700_000_000_000);
    }
}
