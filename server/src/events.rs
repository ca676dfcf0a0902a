//! Events the server core emits for the delivery side (MQTT publisher) to
//! act on. The core only sends; it does not know who listens.

use std::sync::Arc;

use ledcast_protocol::v1 as protocol;

/// Something delivery should publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A new rotation version was stored: publish it retained on the screen's `rotation` topic.
    RotationStored {
        /// The screen.
        screen_id: protocol::ScreenId,
        /// The stored version.
        version: u64,
        /// The signed envelope bytes, exactly as stored.
        envelope: Arc<Vec<u8>>,
    },
    /// A signed command for a screen: publish it on the screen's `command` topic.
    Command {
        /// The screen.
        screen_id: protocol::ScreenId,
        /// The signed envelope bytes.
        envelope: Arc<Vec<u8>>,
    },
}

/// Capacity of the event channel; a lagging subscriber must re-read the
/// store (`Store::latest_rotations`).
pub const EVENT_CHANNEL_CAPACITY: usize = 4096;
