//! The agent's only reader of the wall clock and the monotonic clock.
//!
//! Everything else receives time as a value. It does not correct or judge
//! the time: the player notices a clock that steps back.
#![allow(clippy::disallowed_methods)]

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ledcast_protocol::v1::Timestamp;

/// The wall clock now, in ms since the Unix epoch.
pub fn now() -> Timestamp {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => Timestamp(d.as_millis() as i64),
        Err(e) => Timestamp(-(e.duration().as_millis() as i64)),
    }
}

/// The monotonic clock now.
pub fn monotonic() -> Instant {
    Instant::now()
}
