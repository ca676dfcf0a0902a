//! The server's MQTT client: publishes signed rotations (retained) and
//! commands, and hands signed state reports and play batches to the ingest
//! worker (`ingest.rs`), which stores and acks them; `retained.rs` keeps
//! the broker's retained rotations right.
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
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::ingest::{run_worker, INCOMING_QUEUE};
use super::retained::{heal_retained, read_back, reconcile, RetainedRotations};
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

impl crate::telemetry::CounterSource for DeliveryMetrics {
    /// Every counter as `(name, help, value)`, for `/metrics`.
    fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
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
    pub(super) client: AsyncClient,
    pub(super) connected: Arc<AtomicBool>,
    pub(super) metrics: Arc<DeliveryMetrics>,
    pub(super) telemetry: Arc<crate::telemetry::Telemetry>,
    /// SHA-256 of the rotation envelope last published (or found current)
    /// per screen: what its retained topic should hold.
    pub(super) published: Arc<std::sync::Mutex<HashMap<protocol::ScreenId, [u8; 32]>>>,
}

/// SHA-256 of a message payload.
pub(super) fn digest(payload: &[u8]) -> [u8; 32] {
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
    pub(super) async fn publish(
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
    pub(super) fn expect_retained(&self, screen_id: &protocol::ScreenId, digest: [u8; 32]) {
        self.published
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(screen_id.clone(), digest);
    }

    /// What `screen_id`'s retained rotation topic should hold, if known.
    pub(super) fn expected_retained(&self, screen_id: &protocol::ScreenId) -> Option<[u8; 32]> {
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
pub(super) struct Incoming {
    pub(super) topic: Topic,
    pub(super) payload: Vec<u8>,
}

/// What the event loop hands the retained-rotation watcher, in order.
pub(super) enum ReadBack {
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
