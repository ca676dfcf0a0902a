//! The server's MQTT client: publishes signed rotations (retained) and
//! commands, ingests signed state reports and play batches, and acks them.
//!
//! One task polls the rumqttc event loop (and re-subscribes on every
//! connect); one worker task verifies and stores what arrives, so a slow
//! database never stalls keep-alives. Publishing is idempotent: a rotation is
//! retained under its screen's topic, so publishing the same version twice
//! changes nothing for an agent (it refuses replays).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ed25519_dalek::SigningKey;
use ledcast_protocol::v1 as protocol;
use protocol::{Topic, TopicKind};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::DeliveryStore;

/// How to reach the broker.
#[derive(Clone)]
pub struct DeliveryOptions {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub broker_url: String,
    /// Broker user name, if the broker wants one.
    pub username: Option<String>,
    /// Broker password, if the broker wants one.
    pub password: Option<String>,
    /// MQTT client id of this server replica.
    pub client_id: String,
    /// The key every outgoing message is signed with.
    pub server_key: SigningKey,
    /// Use `$share/{group}/…` for play ingest so replicas split the load.
    pub shared_subscription_group: Option<String>,
    /// How long to collect retained rotations from the broker at start-up
    /// before republishing what it lacks.
    pub reconcile_window: Duration,
    /// Where publish and ingest times (and delivery's counters) are reported.
    pub telemetry: Arc<crate::telemetry::Telemetry>,
}

/// Counters for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct DeliveryMetrics {
    /// Rotations published.
    pub rotations_published: AtomicU64,
    /// Rotations republished after a (re)connect because the broker lacked them.
    pub rotations_republished: AtomicU64,
    /// Rotations republished because the broker's retained copy was replaced
    /// (junk, another version) or deleted while the server was connected.
    pub rotations_healed: AtomicU64,
    /// Stored rotations published because the broker still lacked them
    /// after the grace (the replica that stored them stopped first).
    pub rotations_caught_up: AtomicU64,
    /// Play records stored (new ones only).
    pub play_records_inserted: AtomicU64,
    /// Play records refused one by one (absurd seq or times); acked, not stored.
    pub play_records_refused: AtomicU64,
    /// Play batches that were already stored (acked again, nothing inserted).
    pub play_batches_duplicate: AtomicU64,
    /// Acks published.
    pub acks_published: AtomicU64,
    /// State reports recorded.
    pub states_recorded: AtomicU64,
    /// State reports ignored because they were older than the last one kept
    /// for their screen (a replayed Last Will, a late retained copy).
    pub states_ignored_older: AtomicU64,
    /// Messages from unknown or revoked devices, dropped.
    pub dropped_unknown_device: AtomicU64,
    /// Messages that failed verification (forged, other screen, malformed), dropped.
    pub dropped_rejected: AtomicU64,
    /// Times the connection to the broker was (re)established.
    pub connects: AtomicU64,
}

impl DeliveryMetrics {
    /// Every counter as `(name, help, value)`, for `/metrics`.
    pub fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        vec![
            (
                "delivery_rotations_published",
                "Rotations published",
                read(&self.rotations_published),
            ),
            (
                "delivery_rotations_republished",
                "Rotations republished after a connect because the broker lacked them",
                read(&self.rotations_republished),
            ),
            (
                "delivery_rotations_healed",
                "Rotations republished because the broker's retained copy was replaced or deleted",
                read(&self.rotations_healed),
            ),
            (
                "delivery_rotations_caught_up",
                "Stored rotations published because another replica stopped before publishing them",
                read(&self.rotations_caught_up),
            ),
            (
                "delivery_play_records_inserted",
                "Play records stored",
                read(&self.play_records_inserted),
            ),
            (
                "delivery_play_records_refused",
                "Play records refused one by one (acked, not stored)",
                read(&self.play_records_refused),
            ),
            (
                "delivery_play_batches_duplicate",
                "Play batches already stored (acked again)",
                read(&self.play_batches_duplicate),
            ),
            (
                "delivery_acks_published",
                "Acks published",
                read(&self.acks_published),
            ),
            (
                "delivery_states_recorded",
                "Agent state reports recorded",
                read(&self.states_recorded),
            ),
            (
                "delivery_states_ignored_older",
                "Agent state reports older than the one kept",
                read(&self.states_ignored_older),
            ),
            (
                "delivery_dropped_unknown_device",
                "Messages from unknown or revoked devices",
                read(&self.dropped_unknown_device),
            ),
            (
                "delivery_dropped_rejected",
                "Messages that failed verification",
                read(&self.dropped_rejected),
            ),
            (
                "delivery_connects",
                "Connections to the broker",
                read(&self.connects),
            ),
        ]
    }
}

/// A handle to publish through the server's MQTT connection. Cheap to clone.
#[derive(Clone)]
pub struct Delivery {
    client: AsyncClient,
    connected: Arc<AtomicBool>,
    metrics: Arc<DeliveryMetrics>,
    telemetry: Arc<crate::telemetry::Telemetry>,
    /// SHA-256 of the rotation envelope last published (or found current)
    /// per screen: what its retained topic should hold.
    published: Arc<std::sync::Mutex<HashMap<protocol::ScreenId, [u8; 32]>>>,
}

/// SHA-256 of a message payload.
fn digest(payload: &[u8]) -> [u8; 32] {
    Sha256::digest(payload).into()
}

impl Delivery {
    /// Publishes a signed rotation envelope, retained, QoS 1.
    pub async fn publish_rotation(
        &self,
        screen_id: &protocol::ScreenId,
        envelope: Vec<u8>,
    ) -> anyhow::Result<()> {
        self.expect_retained(screen_id, digest(&envelope));
        let started = Instant::now();
        self.publish(screen_id, TopicKind::Rotation, true, envelope)
            .await?;
        self.telemetry
            .publish
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .rotations_published
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Publishes a signed command envelope, QoS 1, not retained.
    pub async fn publish_command(
        &self,
        screen_id: &protocol::ScreenId,
        envelope: Vec<u8>,
    ) -> anyhow::Result<()> {
        self.publish(screen_id, TopicKind::Command, false, envelope)
            .await
    }

    /// Publishes a signed command envelope, QoS 1, retained (a server key
    /// transfer must reach agents that are offline now).
    pub async fn publish_command_retained(
        &self,
        screen_id: &protocol::ScreenId,
        envelope: Vec<u8>,
    ) -> anyhow::Result<()> {
        self.publish(screen_id, TopicKind::Command, true, envelope)
            .await
    }

    /// Queues a signed envelope for `screen_id`'s `kind` topic, QoS 1.
    async fn publish(
        &self,
        screen_id: &protocol::ScreenId,
        kind: TopicKind,
        retained: bool,
        envelope: Vec<u8>,
    ) -> anyhow::Result<()> {
        self.client
            .publish(
                Topic::name(screen_id, kind),
                QoS::AtLeastOnce,
                retained,
                envelope,
            )
            .await
            .with_context(|| format!("queueing a {kind:?} message for the MQTT broker"))
    }

    /// Whether the broker connection is up right now.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Counters.
    pub fn metrics(&self) -> &DeliveryMetrics {
        &self.metrics
    }

    /// Records what `screen_id`'s retained rotation topic should hold.
    fn expect_retained(&self, screen_id: &protocol::ScreenId, digest: [u8; 32]) {
        self.published
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(screen_id.clone(), digest);
    }

    /// What `screen_id`'s retained rotation topic should hold, if known.
    fn expected_retained(&self, screen_id: &protocol::ScreenId) -> Option<[u8; 32]> {
        self.published
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(screen_id)
            .copied()
    }
}

/// Builds rumqttc options from `mqtt://host:port` / `mqtts://host:port`.
pub fn mqtt_options(url: &str, client_id: &str) -> anyhow::Result<MqttOptions> {
    let mut options = ledcast_mqtt::options(url, client_id)?;
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(
        super::broker::MAX_PAYLOAD_BYTES,
        super::broker::MAX_PAYLOAD_BYTES,
    );
    options.set_clean_session(true);
    Ok(options)
}

/// A message taken off the broker for the worker.
struct Incoming {
    topic: Topic,
    payload: Vec<u8>,
}

/// What the event loop hands the retained-rotation watcher, in order.
enum ReadBack {
    /// A new connection: what was seen on the broker before no longer counts.
    Connected,
    /// A message on some screen's rotation topic.
    Message(Incoming),
}

/// Connects to the broker and starts the event-loop and worker tasks. They
/// run until `shutdown` resolves; the returned handle completes after the
/// worker has drained what it had received.
pub async fn start(
    options: DeliveryOptions,
    store: Arc<dyn DeliveryStore>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(Delivery, JoinHandle<()>)> {
    let (client, mut eventloop) = connect(&options, &options.client_id, 1024)?;

    let metrics = Arc::new(DeliveryMetrics::default());
    let connected = Arc::new(AtomicBool::new(false));
    let delivery = Delivery {
        client: client.clone(),
        connected: connected.clone(),
        metrics: metrics.clone(),
        telemetry: options.telemetry.clone(),
        published: Arc::default(),
    };
    options.telemetry.watch_delivery(metrics.clone());
    // The event loop must keep reading: while it waits for room here the
    // broker queues for us, and Mosquitto drops QoS 1 messages past its
    // per-client queue (1000 by default; 5,000 screens sending one play
    // batch each lost batches until the agents resent them 30 s later). The
    // protocol bounds what can pile up: one play batch in flight per screen,
    // plus its state reports.
    let (incoming_tx, incoming_rx) = mpsc::channel::<Incoming>(INCOMING_QUEUE);
    let broker_versions: Arc<RetainedRotations> = Arc::default();

    let plays_filter = match &options.shared_subscription_group {
        Some(group) => format!("$share/{group}/{}", Topic::filter_all(TopicKind::Plays)),
        None => Topic::filter_all(TopicKind::Plays),
    };
    let server_key = options.server_key.clone();
    let server_trusted = protocol::TrustedKey::new(server_key.verifying_key());
    // On an external broker, play batches come in over several connections
    // sharing one subscription: a broker queues only so much for one client
    // (Mosquitto: 1000 messages, then it drops them), and a whole fleet
    // sends at once. State reports stay on the main connection, in order.
    let (stop_plays, plays_stopped) = tokio::sync::watch::channel(false);
    let plays_on_main = options.shared_subscription_group.is_none();
    if !plays_on_main {
        for k in 0..PLAYS_CLIENTS {
            spawn_plays_client(
                &options,
                k,
                &plays_filter,
                incoming_tx.clone(),
                plays_stopped.clone(),
            )?;
        }
    }

    let mut worker = tokio::spawn(run_worker(
        incoming_rx,
        store.clone(),
        delivery.clone(),
        server_key,
    ));
    // Every message on a rotation topic (the retained copies handed over at
    // each connect, the server's own publishes coming back, anything another
    // client writes there) is checked on its own task, so thousands of them
    // never queue up state and play ingest.
    let (read_back_tx, read_back_rx) = mpsc::channel::<ReadBack>(4096);
    tokio::spawn(read_back(
        read_back_rx,
        server_trusted,
        broker_versions.clone(),
        delivery.clone(),
    ));
    tokio::spawn(heal_retained(
        delivery.clone(),
        store.clone(),
        broker_versions.clone(),
        plays_stopped.clone(),
    ));

    let event_task = {
        let delivery = delivery.clone();
        let reconcile_window = options.reconcile_window;
        let broker_url = options.broker_url.clone();
        tokio::spawn(async move {
            tokio::pin!(shutdown);
            let mut was_up = false;
            loop {
                tokio::select! {
                    event = eventloop.poll() => match event {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            connected.store(true, Ordering::Relaxed);
                            metrics.connects.fetch_add(1, Ordering::Relaxed);
                            if !was_up {
                                tracing::info!(broker = %broker_url, "connected to MQTT broker");
                            }
                            was_up = true;
                            // What the broker held before this connection no longer counts.
                            if read_back_tx.send(ReadBack::Connected).await.is_err() {
                                break;
                            }
                            // Re-subscribe on every connect (clean session).
                            // Rotations at QoS 0: Mosquitto queues at most
                            // `max_queued_messages` (1,000) QoS 1 messages per
                            // client and drops the rest, so a QoS 1 read-back of
                            // more retained rotations than that lost some; QoS 0
                            // retained messages are written out as the socket
                            // takes them.
                            let mut filters = vec![
                                rumqttc::SubscribeFilter::new(
                                    Topic::filter_all(TopicKind::State),
                                    QoS::AtLeastOnce,
                                ),
                                rumqttc::SubscribeFilter::new(
                                    Topic::filter_all(TopicKind::Rotation),
                                    QoS::AtMostOnce,
                                ),
                            ];
                            if plays_on_main {
                                filters.push(rumqttc::SubscribeFilter::new(plays_filter.clone(), QoS::AtLeastOnce));
                            }
                            if let Err(error) = client.try_subscribe_many(filters) {
                                tracing::error!(%error, "cannot subscribe to state, plays and rotations");
                            }
                            // After every connect (the broker may have restarted
                            // and forgotten its retained messages), republish
                            // what it lacks.
                            tokio::spawn(reconcile(
                                delivery.clone(),
                                store.clone(),
                                broker_versions.clone(),
                                reconcile_window,
                            ));
                        }
                        Ok(Event::Incoming(Packet::Publish(publish))) => {
                            let Some(topic) = Topic::parse(&publish.topic) else { continue };
                            let incoming = Incoming { topic, payload: publish.payload.to_vec() };
                            if incoming.topic.kind == TopicKind::Rotation {
                                // Never stall the connection (acks, publishes) on the
                                // read-back. If it falls behind, the retained copies
                                // are read again (see `heal_retained`).
                                if read_back_tx.try_send(ReadBack::Message(incoming)).is_err() {
                                    broker_versions.overflowed.store(true, Ordering::Relaxed);
                                }
                                continue;
                            }
                            if incoming_tx.send(incoming).await.is_err() {
                                break;
                            }
                        }
                        Ok(_) => {}
                        Err(error) => {
                            connected.store(false, Ordering::Relaxed);
                            if was_up {
                                tracing::warn!(broker = %broker_url, %error, "lost the MQTT broker; reconnecting");
                            }
                            was_up = false;
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    },
                    () = &mut shutdown => break,
                }
            }
            // Stopping. Take no more messages: the play connections leave
            // (a batch they had not handed over is redelivered to another
            // server sharing the subscription, or resent by its agent, which
            // resends until acked), and the main connection unsubscribes.
            let _ = stop_plays.send(true);
            let mut topics = vec![Topic::filter_all(TopicKind::State)];
            if plays_on_main {
                topics.push(plays_filter.clone());
            }
            for topic in topics {
                let _ = client.try_unsubscribe(topic);
            }
            // The worker finishes what it holds (the group it is storing and
            // everything queued) and acks it; the connection stays up and
            // polled until then, so those acks reach the agents. Dropping the
            // sender ends the worker once the queue is empty.
            drop(incoming_tx);
            let drained = tokio::time::timeout(INGEST_DRAIN, async {
                loop {
                    tokio::select! {
                        _ = &mut worker => break,
                        event = eventloop.poll() => if event.is_err() {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        },
                    }
                }
            })
            .await;
            if drained.is_err() {
                tracing::warn!(
                    seconds = INGEST_DRAIN.as_secs(),
                    "play ingest still running at shutdown; what is not acked is resent by the agents"
                );
            }
            let _ = client.try_disconnect();
            // Let the disconnect and the last publishes go out.
            let flush = async { while eventloop.poll().await.is_ok() {} };
            let _ = tokio::time::timeout(Duration::from_secs(2), flush).await;
            worker.abort();
        })
    };

    Ok((delivery, event_task))
}

/// How long a stopping server keeps storing and acking what agents sent
/// before it disconnects (the rest is resent by the agents to whichever
/// server runs next). With the HTTP drain this stays inside the systemd
/// unit's `TimeoutStopSec`.
pub const INGEST_DRAIN: Duration = Duration::from_secs(10);

/// A client for `options`' broker and login as `client_id` (TCP_NODELAY,
/// 10 s connect timeout); `capacity` bounds its request queue.
fn connect(
    options: &DeliveryOptions,
    client_id: &str,
    capacity: usize,
) -> anyhow::Result<(AsyncClient, rumqttc::EventLoop)> {
    let mut mqtt = mqtt_options(&options.broker_url, client_id)?;
    if let (Some(user), Some(pass)) = (&options.username, &options.password) {
        mqtt.set_credentials(user, pass);
    }
    let (client, mut eventloop) = AsyncClient::new(mqtt, capacity);
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    network.set_connection_timeout(10);
    eventloop.set_network_options(network);
    Ok((client, eventloop))
}

/// Connections that share the play subscription on an external broker.
pub const PLAYS_CLIENTS: usize = 8;

/// The broker login of play connection `k` of the server that logs in as
/// `server_username`. Each connection has its own login because the
/// generated Mosquitto configuration makes the login the client id
/// (`use_username_as_clientid`), so no client can take over another's.
pub fn plays_username(server_username: &str, k: usize) -> String {
    format!("{server_username}.plays-{k}")
}

/// Starts one of the connections that take play batches off a shared
/// subscription and hand them to the worker; it ends when `stop` changes
/// (shutdown) or the worker is gone.
fn spawn_plays_client(
    options: &DeliveryOptions,
    k: usize,
    filter: &str,
    incoming: mpsc::Sender<Incoming>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut options = options.clone();
    options.username = options.username.map(|user| plays_username(&user, k));
    let (client, mut eventloop) =
        connect(&options, &format!("{}-plays-{k}", options.client_id), 64)?;
    let filter = filter.to_owned();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                event = eventloop.poll() => match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Err(error) = client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                            tracing::error!(%error, "cannot subscribe to plays");
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let Some(topic) = Topic::parse(&publish.topic) else { continue };
                        if topic.kind != TopicKind::Plays {
                            continue;
                        }
                        let incoming_message = Incoming { topic, payload: publish.payload.to_vec() };
                        if incoming.send(incoming_message).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                },
                _ = stop.changed() => {
                    let _ = client.try_disconnect();
                    break;
                }
            }
        }
    });
    Ok(())
}

/// What the broker holds on the rotation topics, as seen since the last connect.
#[derive(Default)]
struct RetainedRotations {
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
    overflowed: AtomicBool,
    /// A reconciliation is running (a flapping connection starts one per connect).
    reconciling: AtomicBool,
    /// Retained rotation messages processed so far (valid or not).
    read: AtomicU64,
}

/// Records every message on a rotation topic: its digest, and its version
/// when it carries the server's signature for its own screen. Once armed,
/// a message that is not what the server published marks its screen suspect.
async fn read_back(
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
async fn heal_retained(
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
async fn reconcile(
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

/// Messages from agents (state, plays) waiting for the ingest worker.
const INCOMING_QUEUE: usize = 32_768;

/// Most play batches stored in one transaction. Whatever has queued up
/// while the previous transaction ran is taken together (up to this many),
/// so one commit (one fsync on SQLite) covers a burst of batches.
const MAX_BATCHES_PER_TRANSACTION: usize = 256;

/// Most state reports recorded in one transaction (the same idea: a
/// fan-out makes every screen report at once).
const MAX_STATES_PER_TRANSACTION: usize = 1024;

async fn run_worker(
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
