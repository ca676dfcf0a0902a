//! Ingest of what agents send: the worker takes state reports and play
//! batches off the connection in groups, opens each with its screen's
//! device key, stores a group in one transaction and acks each batch only
//! after the commit.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use ledcast_protocol::v1 as protocol;
use protocol::TopicKind;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::link::{Delivery, Incoming};
use super::DeliveryStore;

/// Messages from agents (state, plays) waiting for the ingest worker.
pub(super) const INCOMING_QUEUE: usize = 32_768;

/// Most play batches stored in one transaction. Whatever has queued up
/// while the previous transaction ran is taken together (up to this many),
/// so one commit (one fsync on SQLite) covers a burst of batches.
const MAX_BATCHES_PER_TRANSACTION: usize = 256;

/// Most state reports recorded in one transaction (the same idea: a
/// fan-out makes every screen report at once).
const MAX_STATES_PER_TRANSACTION: usize = 1024;

pub(super) async fn run_worker(
    mut incoming: mpsc::Receiver<Incoming>,
    store: Arc<dyn DeliveryStore>,
    delivery: Delivery,
    server_key: SigningKey,
) {
    while let Some(first) = incoming.recv().await {
        let mut plays = Vec::new();
        let mut states = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message.topic.kind {
                TopicKind::Plays => plays.push(message),
                TopicKind::State => states.push(message),
                TopicKind::Rotation | TopicKind::Command | TopicKind::Ack => {}
            }
            if plays.len() < MAX_BATCHES_PER_TRANSACTION
                && states.len() < MAX_STATES_PER_TRANSACTION
            {
                next = incoming.try_recv().ok();
            }
        }
        if !states.is_empty() {
            let started = Instant::now();
            if let Err(error) = ingest_states(&store, &delivery, states).await {
                tracing::error!(%error, "state ingest failed; the agents report again");
            }
            delivery.telemetry.ingest_group("states", started.elapsed());
        }
        if !plays.is_empty() {
            let started = Instant::now();
            if let Err(error) = ingest_plays(&store, &delivery, &server_key, plays).await {
                tracing::error!(%error, "play ingest failed; nothing acked, the agents will resend");
            }
            delivery.telemetry.ingest_group("plays", started.elapsed());
        }
    }
}

/// Opens each device-signed message with its screen's device key (one key
/// lookup for the group), counting and logging what is dropped: messages
/// from unknown or revoked devices and ones whose signature fails.
async fn open_from_devices<T: protocol::Signed>(
    store: &Arc<dyn DeliveryStore>,
    delivery: &Delivery,
    messages: Vec<Incoming>,
) -> anyhow::Result<Vec<(protocol::ScreenId, T)>> {
    let mut screens: Vec<protocol::ScreenId> =
        messages.iter().map(|m| m.topic.screen_id.clone()).collect();
    screens.sort();
    screens.dedup();
    let keys = store.device_keys(&screens).await?;
    let metrics = &delivery.metrics;
    let mut opened = Vec::with_capacity(messages.len());
    for message in messages {
        let screen_id = message.topic.screen_id;
        let Some(device_key) = keys.get(&screen_id) else {
            metrics
                .dropped_unknown_device
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(screen = %screen_id, kind = ?message.topic.kind, "message from an unknown or revoked device dropped");
            continue;
        };
        match protocol::open::<T>(&message.payload, device_key) {
            Ok(body) => opened.push((screen_id, body)),
            Err(rejected) => {
                metrics.dropped_rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(screen = %screen_id, %rejected, "device message refused");
            }
        }
    }
    Ok(opened)
}

/// Verifies each batch with its screen's device key, stores every valid one
/// in one transaction, and acks each only after that commit.
async fn ingest_plays(
    store: &Arc<dyn DeliveryStore>,
    delivery: &Delivery,
    server_key: &SigningKey,
    messages: Vec<Incoming>,
) -> anyhow::Result<()> {
    let metrics = &delivery.metrics;
    let opened = open_from_devices::<protocol::PlayBatch>(store, delivery, messages).await?;
    // Each record is checked on its own: an absurd one is refused with its
    // reason in the ack, and the rest of its batch is stored.
    let mut verified = Vec::with_capacity(opened.len());
    let mut refusals = Vec::with_capacity(opened.len());
    let mut all_refused = Vec::new();
    for (screen_id, mut batch) in opened {
        if batch.screen_id != screen_id || batch.records.is_empty() {
            metrics.dropped_rejected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(screen = %screen_id, "play batch for another screen or without records refused");
            continue;
        }
        let refused = batch.take_refused();
        if !refused.is_empty() {
            metrics
                .play_records_refused
                .fetch_add(refused.len() as u64, Ordering::Relaxed);
            tracing::warn!(
                screen = %screen_id,
                boot = %batch.boot_id,
                refused = refused.len(),
                first = %refused[0].seq,
                reason = refused[0].reason.describe(),
                "play records refused; the rest of the batch is stored"
            );
        }
        if batch.records.is_empty() {
            all_refused.push((screen_id, batch, refused));
        } else {
            verified.push((screen_id, batch));
            refusals.push(refused);
        }
    }
    // Batches with nothing left to store are acked (with their refusals) at once.
    for (screen_id, batch, refused) in all_refused {
        publish_ack(delivery, server_key, &screen_id, &batch, refused).await?;
    }
    if verified.is_empty() {
        return Ok(());
    }
    let inserted = match store.insert_play_batches(&verified).await {
        Ok(inserted) => inserted,
        Err(error) if verified.len() > 1 => {
            // One bad batch must not hold back the rest: store them one by
            // one and ack those that committed.
            tracing::warn!(%error, batches = verified.len(), "grouped play insert failed; storing batch by batch");
            let mut stored = Vec::with_capacity(verified.len());
            let mut kept = Vec::with_capacity(verified.len());
            let mut kept_refusals = Vec::with_capacity(verified.len());
            for ((screen_id, batch), refused) in verified.into_iter().zip(refusals) {
                match store.insert_play_batch(&screen_id, &batch).await {
                    Ok(n) => {
                        stored.push(n);
                        kept.push((screen_id, batch));
                        kept_refusals.push(refused);
                    }
                    Err(error) => {
                        tracing::error!(screen = %screen_id, %error, "play batch not stored; not acked, the agent will resend");
                    }
                }
            }
            verified = kept;
            refusals = kept_refusals;
            stored
        }
        Err(error) => return Err(error),
    };
    // Committed: now, and only now, ack.
    for (((screen_id, batch), inserted), refused) in
        verified.into_iter().zip(inserted).zip(refusals)
    {
        if inserted == 0 {
            metrics
                .play_batches_duplicate
                .fetch_add(1, Ordering::Relaxed);
        }
        metrics
            .play_records_inserted
            .fetch_add(inserted, Ordering::Relaxed);
        publish_ack(delivery, server_key, &screen_id, &batch, refused).await?;
    }
    Ok(())
}

/// Acks every record of `batch` up to its `last_seq`, naming those refused.
async fn publish_ack(
    delivery: &Delivery,
    server_key: &SigningKey,
    screen_id: &protocol::ScreenId,
    batch: &protocol::PlayBatch,
    refused: Vec<protocol::RefusedRecord>,
) -> anyhow::Result<()> {
    let ack = protocol::Ack {
        screen_id: screen_id.clone(),
        boot_id: batch.boot_id.clone(),
        upto_seq: batch.last_seq,
        refused,
    };
    delivery
        .publish(
            screen_id,
            TopicKind::Ack,
            false,
            protocol::seal(&ack, server_key),
        )
        .await?;
    delivery
        .metrics
        .acks_published
        .fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Verifies each state report with its screen's device key and records all
/// valid ones in arrival order, in one transaction; if that fails, one by
/// one, so one bad report does not hold back the rest.
async fn ingest_states(
    store: &Arc<dyn DeliveryStore>,
    delivery: &Delivery,
    messages: Vec<Incoming>,
) -> anyhow::Result<()> {
    let metrics = &delivery.metrics;
    // An empty payload is a cleared retained message, not a report.
    let messages = messages
        .into_iter()
        .filter(|m| !m.payload.is_empty())
        .collect();
    let mut verified = open_from_devices::<protocol::AgentState>(store, delivery, messages).await?;
    verified.retain(|(screen_id, state)| {
        let ok = state.screen_id == *screen_id;
        if !ok {
            metrics.dropped_rejected.fetch_add(1, Ordering::Relaxed);
        }
        ok
    });
    if verified.is_empty() {
        return Ok(());
    }
    let now = crate::clock::now();
    let (recorded, ignored) = match store.record_agent_states(&verified, now).await {
        Ok(ignored) => (verified.len() as u64 - ignored, ignored),
        Err(error) if verified.len() > 1 => {
            tracing::warn!(%error, states = verified.len(), "grouped state write failed; recording one by one");
            let (mut recorded, mut ignored) = (0, 0);
            for (screen_id, state) in &verified {
                match store.record_agent_state(screen_id, state, now).await {
                    Ok(true) => recorded += 1,
                    Ok(false) => ignored += 1,
                    Err(error) => {
                        tracing::error!(screen = %screen_id, %error, "state not recorded; the agent reports again");
                    }
                }
            }
            (recorded, ignored)
        }
        Err(error) => return Err(error),
    };
    metrics
        .states_recorded
        .fetch_add(recorded, Ordering::Relaxed);
    if ignored > 0 {
        metrics
            .states_ignored_older
            .fetch_add(ignored, Ordering::Relaxed);
        tracing::debug!(
            ignored,
            "state reports older than the last one kept ignored"
        );
    }
    Ok(())
}
