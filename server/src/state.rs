//! The state every part of a running server shares: the store, the media
//! and screenshot stores, the configuration, the signing key, the event
//! channel to delivery, the metrics, the compile gate, and the clock.
//!
//! The bottom of the server's layers (issue 18, item 1): domain operations
//! (`service`, `recompiler`, `packs`, `schedule_impact`, `legibility`),
//! delivery (`push/`) and the HTTP and web layers all take an `AppState`;
//! it imports none of them (the compile gate's type lives in
//! `recompiler`, re-exported by `service`).

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use tokio::sync::broadcast;

use crate::config::Config;
use crate::events::ServerEvent;
use crate::media_store::ContentStore;
use crate::store::Store;

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Content-addressed media (`/media/{sha256}`).
    pub media: ContentStore,
    /// Content-addressed screenshots (served only to users of the screen's site).
    pub screenshots: ContentStore,
    /// The configuration in effect.
    pub config: Arc<Config>,
    /// The server signing key (rotations, commands).
    pub signing_key: Arc<SigningKey>,
    /// Events for the MQTT publisher.
    pub events: broadcast::Sender<ServerEvent>,
    /// Base URL handed to agents (media) and used in links.
    pub public_url: Arc<str>,
    /// Counters and latency histograms for `/metrics`.
    pub metrics: Arc<crate::telemetry::Telemetry>,
    /// Serialises compiles (one at a time per process; across replicas
    /// through the database's compile lease) and coalesces requests.
    pub compile_lock: Arc<crate::compile_gate::CompileGate>,
    /// Newest rotation version announced on `events`, per screen (so versions
    /// stored by another process, e.g. `ledcast-server apply`, are announced once).
    pub announced: Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>>,
    /// Where "now" comes from: the system clock, or a test's pinned instant.
    pub clock: crate::clock::Clock,
}
