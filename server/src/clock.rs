//! The server's only reader of the wall clock. Everything else takes `now`
//! as an argument, so tests can pin time.

use ledcast_protocol::v1 as protocol;

/// The current instant, in milliseconds since the Unix epoch.
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
