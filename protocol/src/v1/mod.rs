//! Protocol version 1: types, topics, the signed envelope, rotation acceptance,
//! the deterministic playback position and the scroll geometry ([`scroll`]:
//! reading speed, passes, text slot durations).
//!
//! Additive changes only: new optional fields (`#[serde(default)]`) and new
//! enum variants that old agents can ignore. Wire types never use
//! `deny_unknown_fields`, so an old agent reads a newer server's message.

mod accept;
mod envelope;
mod ids;
mod playback;
pub mod scroll;
mod time;
mod topics;
mod types;
mod upload;

pub use accept::{
    accept_rotation, accept_rotation_with_limits, check_structure, AcceptLimits, Rejected,
};
pub use envelope::{
    key_id_for, open, open_with_limits, seal, Envelope, OpenLimits, Signed, TrustedKey,
    DEFAULT_MAX_ENVELOPE_BYTES,
};
pub use ids::{BootId, IdError, ScreenId, Sha256};
pub use playback::{BrightnessAt, SlotPosition};
pub use time::Timestamp;
pub use topics::{
    agent_client_id, agent_client_screen, DeviceAccess, Topic, TopicKind, TOPIC_PREFIX,
};
pub use types::*;
pub use upload::{sign_upload, verify_upload, HEADER_KEY_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
