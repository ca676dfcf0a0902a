//! What the broker holds on the rotation topics, and keeping it right:
//! every message on a rotation topic is read back and checked against what
//! the server published; a replaced or deleted retained rotation is
//! republished; after every (re)connect the broker's copies are reconciled
//! with the store; and a version another replica stored but never
//! published is caught up from the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ledcast_protocol::v1 as protocol;
use protocol::{Topic, TopicKind};
use rumqttc::QoS;
use tokio::sync::{mpsc, Mutex};
use tokio::time::Instant;

use super::link::{digest, Delivery, ReadBack};
use super::DeliveryStore;

/// What the broker holds on the rotation topics, as seen since the last connect.
#[derive(Default)]
pub(super) struct RetainedRotations {
    /// Newest version seen per screen (signature checked).
    versions: Mutex<HashMap<protocol::ScreenId, u64>>,
    /// Digest of the last message seen per screen's rotation topic, whatever
    /// it held (an empty payload is a deleted retained message).
    last_seen: Mutex<HashMap<protocol::ScreenId, [u8; 32]>>,
    /// Screens whose topic last showed something other than what the server
    /// published, with when that was first noticed.
    suspect: Mutex<HashMap<protocol::ScreenId, Instant>>,
    /// Set once the first reconciliation has loaded what every screen's
    /// topic should hold; from then on every mismatch is healed.
    armed: AtomicBool,
    /// The event loop dropped rotation messages (the watcher fell behind).
    pub(super) overflowed: AtomicBool,
    /// A reconciliation is running (a flapping connection starts one per connect).
    reconciling: AtomicBool,
    /// Retained rotation messages processed so far (valid or not).
    read: AtomicU64,
}

/// Records every message on a rotation topic: its digest, and its version
/// when it carries the server's signature for its own screen. Once armed,
/// a message that is not what the server published marks its screen suspect.
pub(super) async fn read_back(
    mut incoming: mpsc::Receiver<ReadBack>,
    server_trusted: protocol::TrustedKey,
    retained: Arc<RetainedRotations>,
    delivery: Delivery,
) {
    while let Some(message) = incoming.recv().await {
        let message = match message {
            ReadBack::Connected => {
                retained.versions.lock().await.clear();
                retained.last_seen.lock().await.clear();
                continue;
            }
            ReadBack::Message(message) => message,
        };
        retained.read.fetch_add(1, Ordering::Relaxed);
        let screen_id = message.topic.screen_id;
        let seen = digest(&message.payload);
        retained
            .last_seen
            .lock()
            .await
            .insert(screen_id.clone(), seen);
        if retained.armed.load(Ordering::Relaxed) {
            let mut suspect = retained.suspect.lock().await;
            if delivery.expected_retained(&screen_id) == Some(seen) {
                suspect.remove(&screen_id);
            } else {
                suspect
                    .entry(screen_id.clone())
                    .or_insert_with(Instant::now);
            }
        }
        let Ok(rotation) = protocol::open::<protocol::Rotation>(&message.payload, &server_trusted)
        else {
            continue;
        };
        if rotation.screen_id == screen_id {
            retained
                .versions
                .lock()
                .await
                .insert(screen_id, rotation.version);
        }
    }
}

/// How often suspect rotation topics are looked at.
const HEAL_TICK: Duration = Duration::from_millis(500);

/// How long a topic must keep showing something else before it is healed:
/// the server's own publishes come back in order, so an older one seen just
/// before the newest is not yet a reason to publish again.
const HEAL_SETTLE: Duration = Duration::from_millis(800);

/// How often the stored versions are compared with the broker's.
const CATCH_UP_EVERY: Duration = Duration::from_secs(2);

/// How long the broker may hold an older version than the store before
/// this server publishes the stored one: the replica that stored it
/// publishes within milliseconds, unless it died first.
const CATCH_UP_GRACE: Duration = Duration::from_secs(3);

/// Keeps every screen's retained rotation the server's current sealed one
/// (issue 17): a topic that shows junk, another version, or was deleted
/// (an empty retained publish) gets the latest stored rotation again within
/// about a second, whatever the screen reports. The store decides what is
/// current, so a newer version another replica published is left alone.
///
/// It also catches up after another replica (issue 21): a version stored
/// but still not on the broker after [`CATCH_UP_GRACE`] (its replica died
/// between storing and publishing, e.g. killed during an urgent alert) is
/// published from the store.
pub(super) async fn heal_retained(
    delivery: Delivery,
    store: Arc<dyn DeliveryStore>,
    retained: Arc<RetainedRotations>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(HEAL_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut catch_up = tokio::time::interval(CATCH_UP_EVERY);
    catch_up.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Screens whose stored version the broker lacks: (version, since).
    let mut behind: HashMap<protocol::ScreenId, (u64, Instant)> = HashMap::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = catch_up.tick() => {
                if retained.armed.load(Ordering::Relaxed) {
                    catch_up_with_store(&delivery, &store, &retained, &mut behind).await;
                }
                continue;
            }
            _ = stop.changed() => return,
        }
        if retained.overflowed.swap(false, Ordering::Relaxed) {
            // Some messages were dropped unseen: have the broker hand over
            // its retained rotations again.
            let filter = Topic::filter_all(TopicKind::Rotation);
            let _ = delivery.client.unsubscribe(filter.clone()).await;
            let _ = delivery.client.subscribe(filter, QoS::AtMostOnce).await;
        }
        let due: Vec<protocol::ScreenId> = {
            let mut suspect = retained.suspect.lock().await;
            let due: Vec<_> = suspect
                .iter()
                .filter(|(_, since)| since.elapsed() >= HEAL_SETTLE)
                .map(|(screen, _)| screen.clone())
                .collect();
            for screen in &due {
                suspect.remove(screen);
            }
            due
        };
        for screen_id in due {
            let seen = retained.last_seen.lock().await.get(&screen_id).copied();
            if seen.is_some() && seen == delivery.expected_retained(&screen_id) {
                continue;
            }
            let current = match store.latest_rotation(&screen_id).await {
                Ok(Some((_, _, envelope))) => envelope,
                Ok(None) => continue, // not a screen with a rotation
                Err(error) => {
                    tracing::error!(screen = %screen_id, %error, "cannot load the rotation to heal its retained copy");
                    continue;
                }
            };
            let current_digest = digest(&current);
            if seen == Some(current_digest) {
                // Another replica published the newest one.
                delivery.expect_retained(&screen_id, current_digest);
                continue;
            }
            tracing::warn!(
                screen = %screen_id,
                "the broker's retained rotation was not the current one (junk, another version or deleted); republished"
            );
            match delivery.publish_rotation(&screen_id, current).await {
                Ok(()) => {
                    delivery
                        .metrics
                        .rotations_healed
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    tracing::error!(screen = %screen_id, %error, "republishing a healed rotation failed");
                }
            }
        }
    }
}

/// One [`CATCH_UP_EVERY`] pass of [`heal_retained`]'s catch-up.
async fn catch_up_with_store(
    delivery: &Delivery,
    store: &Arc<dyn DeliveryStore>,
    retained: &RetainedRotations,
    behind: &mut HashMap<protocol::ScreenId, (u64, Instant)>,
) {
    let stored = match store.latest_versions().await {
        Ok(stored) => stored,
        Err(error) => {
            tracing::warn!(%error, "cannot compare stored rotation versions with the broker's");
            return;
        }
    };
    let seen = retained.versions.lock().await.clone();
    let now = Instant::now();
    let mut still_behind = HashMap::new();
    for (screen_id, version) in stored {
        if seen.get(&screen_id).is_some_and(|&v| v >= version) {
            continue;
        }
        let since = match behind.get(&screen_id) {
            Some(&(v, since)) if v == version => since,
            _ => now,
        };
        if now.duration_since(since) < CATCH_UP_GRACE {
            still_behind.insert(screen_id, (version, since));
            continue;
        }
        let envelope = match store.latest_rotation(&screen_id).await {
            Ok(Some((_, v, envelope))) if v == version => envelope,
            Ok(_) => continue, // moved on meanwhile; the next pass looks again
            Err(error) => {
                tracing::error!(screen = %screen_id, %error, "cannot load a rotation to catch up");
                continue;
            }
        };
        tracing::warn!(
            screen = %screen_id,
            version,
            "a stored rotation was not on the broker (the replica that stored it stopped before publishing?); published it"
        );
        match delivery.publish_rotation(&screen_id, envelope).await {
            Ok(()) => {
                delivery
                    .metrics
                    .rotations_caught_up
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::error!(screen = %screen_id, %error, "publishing a caught-up rotation failed");
                still_behind.insert(screen_id, (version, since));
            }
        }
    }
    *behind = still_behind;
}

/// Longest the reconciliation keeps reading retained rotations.
const RECONCILE_MAX: Duration = Duration::from_secs(30);

/// After a connect (the rotation topics are subscribed with it): waits
/// `window` and then until no retained rotation has arrived for another
/// `window` (a broker holding thousands takes a while to hand them over),
/// then republishes the latest stored rotation of every screen whose
/// retained copy is missing, older, or not the stored one, and arms the
/// watcher that heals later changes.
pub(super) async fn reconcile(
    delivery: Delivery,
    store: Arc<dyn DeliveryStore>,
    broker_versions: Arc<RetainedRotations>,
    window: Duration,
) {
    if broker_versions.reconciling.swap(true, Ordering::AcqRel) {
        return; // the running one reads what this connection hands over too
    }
    reconcile_once(&delivery, store, &broker_versions, window).await;
    broker_versions.reconciling.store(false, Ordering::Release);
}

async fn reconcile_once(
    delivery: &Delivery,
    store: Arc<dyn DeliveryStore>,
    broker_versions: &RetainedRotations,
    window: Duration,
) {
    tokio::time::sleep(window).await;
    let mut waited = window;
    loop {
        let before = broker_versions.read.load(Ordering::Relaxed);
        tokio::time::sleep(window).await;
        waited += window;
        if broker_versions.read.load(Ordering::Relaxed) == before || waited >= RECONCILE_MAX {
            break;
        }
    }
    let latest = match store.latest_rotations().await {
        Ok(latest) => latest,
        Err(error) => {
            tracing::error!(%error, "cannot load rotations to republish");
            return;
        }
    };
    let seen = broker_versions.versions.lock().await.clone();
    let seen_digests = broker_versions.last_seen.lock().await.clone();
    let mut republished = 0u64;
    let mut already = 0usize;
    for (screen_id, version, envelope) in latest {
        let stored = digest(&envelope);
        if seen_digests.get(&screen_id) == Some(&stored)
            || seen.get(&screen_id).is_some_and(|&v| v > version)
        {
            // The broker holds it (or a newer one another replica published).
            if delivery.expected_retained(&screen_id).is_none() {
                delivery.expect_retained(&screen_id, stored);
            }
            already += 1;
            continue;
        }
        if let Err(error) = delivery.publish_rotation(&screen_id, envelope).await {
            tracing::error!(screen = %screen_id, %error, "republish failed");
            continue;
        }
        republished += 1;
    }
    broker_versions.armed.store(true, Ordering::Relaxed);
    delivery
        .metrics
        .rotations_republished
        .fetch_add(republished, Ordering::Relaxed);
    tracing::info!(
        republished,
        already_on_broker = already,
        "rotations reconciled with the broker"
    );
}
