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

/// Signs `action` for `screen_id` (valid for 5 minutes from `now`) and hands
/// it to delivery. Returns the command and how many publishers took it.
pub fn send_command(
    events: &tokio::sync::broadcast::Sender<ServerEvent>,
    signing_key: &ed25519_dalek::SigningKey,
    screen_id: protocol::ScreenId,
    action: protocol::CommandAction,
    now: protocol::Timestamp,
) -> (protocol::Command, usize) {
    let command = protocol::Command {
        screen_id: screen_id.clone(),
        command_id: crate::auth::random_hex::<12>(),
        issued_at: now,
        expires_at: now.plus_ms(COMMAND_LIFETIME_MS),
        action,
    };
    let envelope = protocol::seal(&command, signing_key);
    let listeners = events
        .send(ServerEvent::Command {
            screen_id,
            envelope: Arc::new(envelope),
        })
        .unwrap_or(0);
    (command, listeners)
}

/// How long an agent may act on a command after it was issued.
pub const COMMAND_LIFETIME_MS: i64 = 5 * 60_000;
