//! Delivery over MQTT: the embedded broker, the signed publisher, presence and
//! play-record ingest (DESIGN.md §5, §6).
//!
//! This module owns everything that talks MQTT. It does not own HTTP routes
//! (enrollment, rotation fetch, screenshots live in the HTTP layer), nor the
//! database: it reaches the store through the small [`DeliveryStore`] seam.
//! The broker is untrusted transport: everything that comes in is opened with
//! the device key the server recorded at enrollment, everything that goes out
//! is signed with the server key.

mod broker;
mod ingest;
pub mod key_transfer;
mod link;
pub mod mosquitto;
pub mod presence;
mod retained;
pub(crate) mod server_glue;
mod store_adapter;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use ledcast_protocol::v1 as protocol;

pub use broker::{
    device_may_publish, device_may_subscribe, start_embedded_broker, BrokerAuth, BrokerError,
    BrokerLogin, EmbeddedBroker,
};
pub use link::{
    mqtt_options, plays_username, start, Delivery, DeliveryMetrics, DeliveryOptions, INGEST_DRAIN,
    PLAYS_CLIENTS,
};
pub use server_glue::{broker_auth, prepare, run, Prepared, SERVER_BROKER_USERNAME};

/// A boxed, sendable future (the store seam is object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What delivery needs from the store. Implemented by the server's store;
/// tests may implement it in memory.
pub trait DeliveryStore: Send + Sync + 'static {
    /// The device key recorded at enrollment, or `None` for an unknown or
    /// revoked screen.
    fn device_key(
        &self,
        screen_id: &protocol::ScreenId,
    ) -> BoxFuture<'_, anyhow::Result<Option<protocol::TrustedKey>>>;

    /// Stores a verified batch idempotently on `(screen, boot_id, seq)` in one
    /// transaction; returns how many records were new.
    fn insert_play_batch(
        &self,
        screen_id: &protocol::ScreenId,
        batch: &protocol::PlayBatch,
    ) -> BoxFuture<'_, anyhow::Result<u64>>;

    /// The device keys of several screens at once (screens without a live
    /// key are left out). The default asks [`DeliveryStore::device_key`]
    /// for each.
    fn device_keys<'a>(
        &'a self,
        screen_ids: &'a [protocol::ScreenId],
    ) -> BoxFuture<'a, anyhow::Result<HashMap<protocol::ScreenId, protocol::TrustedKey>>> {
        Box::pin(async move {
            let mut keys = HashMap::new();
            for screen_id in screen_ids {
                if let Some(key) = self.device_key(screen_id).await? {
                    keys.insert(screen_id.clone(), key);
                }
            }
            Ok(keys)
        })
    }

    /// Stores several verified batches idempotently, all in ONE transaction
    /// (nothing is stored if it fails); returns each batch's new-record
    /// count. The default stores them one by one (each atomic), which keeps
    /// the same ack-after-commit guarantee per batch.
    fn insert_play_batches<'a>(
        &'a self,
        batches: &'a [(protocol::ScreenId, protocol::PlayBatch)],
    ) -> BoxFuture<'a, anyhow::Result<Vec<u64>>> {
        Box::pin(async move {
            let mut inserted = Vec::with_capacity(batches.len());
            for (screen_id, batch) in batches {
                inserted.push(self.insert_play_batch(screen_id, batch).await?);
            }
            Ok(inserted)
        })
    }

    /// Records a verified state report (presence transitions, reported
    /// version) unless it is older than the last one kept for its screen
    /// (`AgentState::supersedes`). Returns whether it was recorded.
    fn record_agent_state(
        &self,
        screen_id: &protocol::ScreenId,
        state: &protocol::AgentState,
        received_at: protocol::Timestamp,
    ) -> BoxFuture<'_, anyhow::Result<bool>>;

    /// Records several verified state reports in arrival order, in ONE
    /// transaction where the store can; returns how many were ignored as
    /// older than the last one kept. The default records them one by one.
    fn record_agent_states<'a>(
        &'a self,
        states: &'a [(protocol::ScreenId, protocol::AgentState)],
        received_at: protocol::Timestamp,
    ) -> BoxFuture<'a, anyhow::Result<u64>> {
        Box::pin(async move {
            let mut ignored = 0;
            for (screen_id, state) in states {
                if !self
                    .record_agent_state(screen_id, state, received_at)
                    .await?
                {
                    ignored += 1;
                }
            }
            Ok(ignored)
        })
    }

    /// The latest signed rotation envelope of every screen.
    fn latest_rotations(&self) -> BoxFuture<'_, anyhow::Result<Vec<LatestRotation>>>;

    /// The newest stored version of every screen. The default picks them
    /// out of [`DeliveryStore::latest_rotations`].
    fn latest_versions(&self) -> BoxFuture<'_, anyhow::Result<Vec<(protocol::ScreenId, u64)>>> {
        Box::pin(async move {
            Ok(self
                .latest_rotations()
                .await?
                .into_iter()
                .map(|(id, version, _)| (id, version))
                .collect())
        })
    }

    /// The latest signed rotation envelope of one screen, if it has one.
    /// The default picks it out of [`DeliveryStore::latest_rotations`].
    fn latest_rotation<'a>(
        &'a self,
        screen_id: &'a protocol::ScreenId,
    ) -> BoxFuture<'a, anyhow::Result<Option<LatestRotation>>> {
        Box::pin(async move {
            Ok(self
                .latest_rotations()
                .await?
                .into_iter()
                .find(|(id, _, _)| id == screen_id))
        })
    }
}

/// `(screen, version, signed envelope bytes)`.
pub type LatestRotation = (protocol::ScreenId, u64, Vec<u8>);
