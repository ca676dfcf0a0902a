//! The database store as delivery's [`DeliveryStore`] seam.

use std::collections::HashMap;

use ledcast_protocol::v1 as protocol;

use super::{BoxFuture, DeliveryStore};
use crate::store::Store;

impl DeliveryStore for Store {
    fn device_key(
        &self,
        screen_id: &protocol::ScreenId,
    ) -> BoxFuture<'_, anyhow::Result<Option<protocol::TrustedKey>>> {
        let screen_id = screen_id.as_str().to_owned();
        Box::pin(async move {
            let hex = self.device_public_key_hex(&screen_id).await?;
            Ok(hex.as_deref().and_then(protocol::TrustedKey::from_hex))
        })
    }

    fn insert_play_batch(
        &self,
        screen_id: &protocol::ScreenId,
        batch: &protocol::PlayBatch,
    ) -> BoxFuture<'_, anyhow::Result<u64>> {
        let screen_id = screen_id.as_str().to_owned();
        let batch = batch.clone();
        Box::pin(async move {
            Ok(Store::insert_play_batch(self, &screen_id, &batch, crate::clock::now()).await?)
        })
    }

    fn device_keys<'a>(
        &'a self,
        screen_ids: &'a [protocol::ScreenId],
    ) -> BoxFuture<'a, anyhow::Result<HashMap<protocol::ScreenId, protocol::TrustedKey>>> {
        Box::pin(async move {
            let ids: Vec<&str> = screen_ids.iter().map(|s| s.as_str()).collect();
            let found = self.device_public_keys_hex(&ids).await?;
            Ok(screen_ids
                .iter()
                .filter_map(|s| {
                    let key = protocol::TrustedKey::from_hex(found.get(s.as_str())?)?;
                    Some((s.clone(), key))
                })
                .collect())
        })
    }

    fn insert_play_batches<'a>(
        &'a self,
        batches: &'a [(protocol::ScreenId, protocol::PlayBatch)],
    ) -> BoxFuture<'a, anyhow::Result<Vec<u64>>> {
        Box::pin(async move {
            let batches: Vec<(&str, &protocol::PlayBatch)> =
                batches.iter().map(|(s, b)| (s.as_str(), b)).collect();
            Ok(Store::insert_play_batches(self, &batches, crate::clock::now()).await?)
        })
    }

    fn record_agent_state(
        &self,
        screen_id: &protocol::ScreenId,
        state: &protocol::AgentState,
        received_at: protocol::Timestamp,
    ) -> BoxFuture<'_, anyhow::Result<bool>> {
        let screen_id = screen_id.as_str().to_owned();
        let state = state.clone();
        Box::pin(async move {
            let recorded =
                Store::record_agent_states(self, &[(&screen_id, &state)], received_at).await?;
            Ok(recorded.ignored == 0)
        })
    }

    fn record_agent_states<'a>(
        &'a self,
        states: &'a [(protocol::ScreenId, protocol::AgentState)],
        received_at: protocol::Timestamp,
    ) -> BoxFuture<'a, anyhow::Result<u64>> {
        Box::pin(async move {
            let states: Vec<(&str, &protocol::AgentState)> =
                states.iter().map(|(s, st)| (s.as_str(), st)).collect();
            Ok(Store::record_agent_states(self, &states, received_at)
                .await?
                .ignored)
        })
    }

    fn latest_rotation<'a>(
        &'a self,
        screen_id: &'a protocol::ScreenId,
    ) -> BoxFuture<'a, anyhow::Result<Option<super::LatestRotation>>> {
        Box::pin(async move {
            Ok(Store::latest_rotation(self, screen_id.as_str())
                .await?
                .map(|r| (screen_id.clone(), r.version, r.envelope)))
        })
    }

    fn latest_versions(&self) -> BoxFuture<'_, anyhow::Result<Vec<(protocol::ScreenId, u64)>>> {
        Box::pin(async move {
            Ok(Store::latest_versions(self)
                .await?
                .into_iter()
                .filter_map(|(screen, version)| {
                    Some((protocol::ScreenId::new(&screen).ok()?, version))
                })
                .collect())
        })
    }

    fn latest_rotations(&self) -> BoxFuture<'_, anyhow::Result<Vec<super::LatestRotation>>> {
        Box::pin(async move {
            let stored = Store::latest_rotations(self).await?;
            Ok(stored
                .into_iter()
                .filter_map(|r| {
                    let screen_id = protocol::ScreenId::new(&r.screen_id).ok()?;
                    Some((screen_id, r.version, r.envelope))
                })
                .collect())
        })
    }
}
