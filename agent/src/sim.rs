//! A simulated screen for the fleet bench (`ledcast-tests --bin fleet`):
//! many of them run in one tokio runtime.
//!
//! Each one uses the agent's real parts: enrollment over [`Link`], the
//! driver's MQTT task ([`crate::driver::start_mqtt`]: client options, signed
//! Last Will, reconnect backoff with jitter), the [`Player`] core (signature,
//! version and screen checks, slot choice, acks) and the signed `state` and
//! `plays` messages. What it leaves out: the display (a null sink: a `Show`
//! is only reported), the disk (media lives in an in-memory cache that still
//! checks SHA-256 when an item enters it and again each time it is shown;
//! rotations and the highest version are kept in memory) and the journal
//! (play records for the ingest scenario are made up on request, signed and
//! sent in batches exactly as the driver sends journal batches).
//!
//! Media bytes are fetched over HTTP through [`Link::open_media`] once per
//! item for the whole fleet ([`MediaPool`]); every screen verifies its own
//! copy. The simulator reports what happened as [`SimReport`]s with a
//! monotonic timestamp so the bench can time fan-out, alerts and reconnects.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use ledcast_protocol::v1::{
    self, AgentState, BootId, CacheStatus, EnrollRequest, MediaRef, PlayBatch, PlayOutcome,
    PlayRecord, Presence, Sha256, Timestamp, Topic, TopicKind, TrustedKey,
};
use rumqttc::QoS;
use sha2::Digest;
use tokio::sync::{mpsc, OnceCell};

use crate::clock;
use crate::config::{AgentConfig, HttpConfig};
use crate::driver::{start_mqtt, MqttEvent};
use crate::identity::{Identity, IdentityError, Loaded};
use crate::link::Link;
use crate::player::{Action, Content, Input, Player, PlayerConfig, RotationSource};

/// Enrolls with `code` like [`crate::identity::enroll`] but keeps the
/// identity in memory.
pub fn enroll_in_memory(
    link: &Link,
    server_url: &str,
    code: &str,
) -> Result<Loaded, IdentityError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| IdentityError::Random(e.to_string()))?;
    let device_key = SigningKey::from_bytes(&seed);
    let request = EnrollRequest {
        code: code.trim().to_owned(),
        device_public_key_hex: hex::encode(device_key.verifying_key().as_bytes()),
    };
    let enrollment = link.enroll(server_url, &request)?;
    let server_key = TrustedKey::from_hex(&enrollment.server_public_key_hex).ok_or_else(|| {
        IdentityError::Invalid {
            path: format!("{server_url}/api/v1/enroll").into(),
            message: "server_public_key_hex is not an ed25519 key".to_owned(),
        }
    })?;
    Ok(Loaded {
        screen_id: enrollment.screen_id.clone(),
        identity: Identity {
            server_url: server_url.trim_end_matches('/').to_owned(),
            enrollment,
        },
        device_key,
        server_key,
    })
}

/// One pooled media item, filled by the first download that succeeds.
type Slot = OnceCell<Arc<Vec<u8>>>;

/// Media bytes shared by the simulated fleet: fetched over HTTP once per
/// item; screens asking while the download runs wait for it (asynchronously).
#[derive(Debug)]
pub struct MediaPool {
    link: Link,
    items: Mutex<HashMap<Sha256, Arc<Slot>>>,
}

impl MediaPool {
    /// An empty pool using `link`.
    pub fn new(link: Link) -> MediaPool {
        MediaPool {
            link,
            items: Mutex::new(HashMap::new()),
        }
    }

    /// How many items were downloaded.
    pub fn len(&self) -> usize {
        self.items
            .lock()
            .map(|i| i.values().filter(|c| c.initialized()).count())
            .unwrap_or(0)
    }

    /// True when nothing was downloaded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of `media`, at most the signed size. Not verified here:
    /// each screen verifies its copy. A failed download is not remembered.
    async fn fetch(&self, base_url: &str, media: &MediaRef) -> Result<Arc<Vec<u8>>, String> {
        let cell = {
            let mut items = self.items.lock().map_err(|e| e.to_string())?;
            items.entry(media.sha256).or_default().clone()
        };
        let (link, base, media) = (self.link.clone(), base_url.to_owned(), media.clone());
        cell.get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || {
                let (reader, _) = link
                    .open_media(&base, &media.sha256, 0)
                    .map_err(|e| e.to_string())?;
                let mut bytes = Vec::with_capacity(media.size_bytes as usize);
                reader
                    .take(media.size_bytes)
                    .read_to_end(&mut bytes)
                    .map_err(|e| e.to_string())?;
                Ok(Arc::new(bytes))
            })
            .await
            .map_err(|e| e.to_string())?
        })
        .await
        .cloned()
    }
}

/// What a simulated screen did, and when (monotonic clock).
#[derive(Clone, Debug)]
pub struct SimReport {
    /// Which screen (the index given to [`run`]).
    pub index: usize,
    /// When.
    pub at: Instant,
    /// What.
    pub event: SimEvent,
}

/// Events the bench times.
#[derive(Clone, Debug, PartialEq)]
pub enum SimEvent {
    /// The broker connection came up.
    Connected,
    /// The connection failed or dropped (one per failed attempt).
    Disconnected,
    /// A `state` report was queued for the broker with this playing version.
    StateSent {
        /// `rotation_version` in the report.
        version: Option<u64>,
    },
    /// Something went on the (null) screen.
    Shown {
        /// Its material.
        material_id: String,
        /// The rotation it came from.
        rotation_version: Option<u64>,
    },
    /// The server acknowledged made-up play records up to this sequence number.
    Acked {
        /// Highest acknowledged.
        upto_seq: u64,
    },
    /// A message or a media item was refused.
    Refused {
        /// Why.
        reason: String,
    },
}

/// What the bench asks of a simulated screen.
#[derive(Clone, Debug)]
pub enum SimCommand {
    /// Make up `count` completed play records and send them in batches
    /// (one in flight, as the driver does), until all are acknowledged.
    SendPlays {
        /// How many.
        count: u64,
    },
}

/// A media download that finished.
struct Fetched {
    media: MediaRef,
    result: Result<Arc<Vec<u8>>, String>,
}

/// One simulated screen.
struct Sim {
    index: usize,
    config: AgentConfig,
    loaded: Loaded,
    boot_id: BootId,
    player: Player,
    pool: Arc<MediaPool>,
    mqtt: rumqttc::AsyncClient,
    cache: HashMap<Sha256, Arc<Vec<u8>>>,
    fetching: HashSet<Sha256>,
    fetched_tx: mpsc::UnboundedSender<Fetched>,
    reports: mpsc::UnboundedSender<SimReport>,
    connected: bool,
    /// When the current broker connection began (see `AgentState::connected_at`).
    connected_at: Option<Timestamp>,
    state_dirty: bool,
    last_state: Instant,
    /// Made-up records not yet acknowledged, and the next sequence number.
    plays_pending: VecDeque<PlayRecord>,
    next_play_seq: u64,
    /// `(upto_seq, sent_at)` of the batch in flight.
    in_flight: Option<(u64, Instant)>,
}

/// Runs one simulated screen until `shutdown` resolves; it reports to `reports`.
pub async fn run(
    index: usize,
    loaded: Loaded,
    config: AgentConfig,
    pool: Arc<MediaPool>,
    reports: mpsc::UnboundedSender<SimReport>,
    mut commands: mpsc::UnboundedReceiver<SimCommand>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
    let boot_id = BootId::from_random(random);
    let player = Player::new(PlayerConfig {
        screen_id: loaded.screen_id.clone(),
        boot_id: boot_id.clone(),
        server_key: loaded.server_key.clone(),
        highest_version_seen: None,
        video_supported: false,
        switch_window_ms: config.player.switch_window_seconds as i64 * 1000,
        builtin_slot_ms: config.player.builtin_slot_seconds.max(1) * 1000,
        cached: HashSet::new(),
    });
    let (mqtt, mut mqtt_events) = start_mqtt(&config, &loaded, &boot_id)?;
    let (fetched_tx, mut fetched_rx) = mpsc::unbounded_channel();
    let mut sim = Sim {
        index,
        config,
        loaded,
        boot_id,
        player,
        pool,
        mqtt,
        cache: HashMap::new(),
        fetching: HashSet::new(),
        fetched_tx,
        reports,
        connected: false,
        connected_at: None,
        state_dirty: true,
        last_state: clock::monotonic(),
        plays_pending: VecDeque::new(),
        next_play_seq: 1,
        in_flight: None,
    };
    sim.input(clock::now(), Input::Timer);
    tokio::pin!(shutdown);
    loop {
        let now = clock::now();
        if sim.player.poll_timeout().is_some_and(|t| t <= now) {
            sim.input(now, Input::Timer);
        }
        sim.on_time();
        let wake = sim.next_wake(now);
        tokio::select! {
            _ = &mut shutdown => break,
            event = mqtt_events.recv() => match event {
                Some(event) => sim.on_mqtt(event),
                None => anyhow::bail!("the MQTT task stopped"),
            },
            Some(done) = fetched_rx.recv() => sim.on_fetched(done),
            Some(command) = commands.recv() => sim.on_command(command),
            _ = tokio::time::sleep(wake) => {}
        }
    }
    let _ = sim.mqtt.try_disconnect();
    Ok(())
}

impl Sim {
    fn report(&self, event: SimEvent) {
        let _ = self.reports.send(SimReport {
            index: self.index,
            at: clock::monotonic(),
            event,
        });
    }

    fn input(&mut self, now: Timestamp, input: Input) {
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            self.player.handle(now, input);
            while let Some(action) = self.player.poll_action() {
                if let Some(follow_up) = self.act(action) {
                    inputs.push_back(follow_up);
                }
            }
        }
        self.maybe_publish_state(now);
    }

    fn act(&mut self, action: Action) -> Option<Input> {
        match action {
            Action::Fetch { media } => self.fetch(media),
            Action::Show(showing) => {
                if let Content::Media { media, .. } = &showing.content {
                    // Verified again at play time, as the driver does.
                    let ok = self.cache.get(media).is_some_and(|bytes| {
                        Sha256(sha2::Sha256::digest(&bytes[..]).into()) == *media
                    });
                    if !ok {
                        self.cache.remove(media);
                        self.report(SimEvent::Refused {
                            reason: format!("cached {media} unusable at play time"),
                        });
                        return Some(Input::MediaGone { media: *media });
                    }
                }
                self.report(SimEvent::Shown {
                    material_id: showing.material_id.clone(),
                    rotation_version: showing.rotation_version,
                });
            }
            Action::PublishState => self.state_dirty = true,
            Action::Acked {
                boot_id, upto_seq, ..
            } => {
                if boot_id == self.boot_id {
                    while self
                        .plays_pending
                        .front()
                        .is_some_and(|r| r.seq <= upto_seq)
                    {
                        self.plays_pending.pop_front();
                    }
                    if self.in_flight.is_some_and(|(upto, _)| upto_seq >= upto) {
                        self.in_flight = None;
                    }
                    self.report(SimEvent::Acked { upto_seq });
                    self.maybe_send_plays();
                }
            }
            Action::Rejected { refusal, .. } => self.report(SimEvent::Refused {
                reason: refusal.to_string(),
            }),
            // No journal, no disk, no screenshots, no HTTP resync in the simulator.
            Action::JournalStart(_)
            | Action::JournalEnd { .. }
            | Action::Persist(_)
            | Action::Screenshot
            | Action::Resync
            | Action::Brightness { .. }
            | Action::Accepted { .. } => {}
        }
        None
    }

    fn fetch(&mut self, media: MediaRef) {
        if self.cache.contains_key(&media.sha256) {
            let _ = self.fetched_tx.send(Fetched {
                result: Ok(self.cache[&media.sha256].clone()),
                media,
            });
            return;
        }
        if !self.fetching.insert(media.sha256) {
            return;
        }
        let pool = self.pool.clone();
        let base = self.loaded.identity.enrollment.media_base_url.clone();
        let tx = self.fetched_tx.clone();
        tokio::spawn(async move {
            let result = pool.fetch(&base, &media).await;
            let _ = tx.send(Fetched { media, result });
        });
    }

    fn on_fetched(&mut self, done: Fetched) {
        self.fetching.remove(&done.media.sha256);
        let now = clock::now();
        let sha = done.media.sha256;
        let verified = done.result.and_then(|bytes| {
            let actual = Sha256(sha2::Sha256::digest(&bytes[..]).into());
            if bytes.len() as u64 != done.media.size_bytes || actual != sha {
                Err(format!("checksum mismatch: expected {sha}, got {actual}"))
            } else {
                Ok(bytes)
            }
        });
        match verified {
            Ok(bytes) => {
                self.cache.insert(sha, bytes);
                self.state_dirty = true;
                self.input(now, Input::MediaReady { media: sha });
            }
            Err(error) => {
                self.report(SimEvent::Refused {
                    reason: error.clone(),
                });
                self.input(now, Input::MediaFailed { media: sha, error });
            }
        }
    }

    fn on_mqtt(&mut self, event: MqttEvent) {
        let now = clock::now();
        match event {
            MqttEvent::Connected { since } => {
                self.connected = true;
                self.connected_at = Some(since);
                for kind in [TopicKind::Rotation, TopicKind::Command, TopicKind::Ack] {
                    let topic = Topic::name(&self.loaded.screen_id, kind);
                    let _ = self.mqtt.try_subscribe(topic, QoS::AtLeastOnce);
                }
                self.in_flight = None;
                self.state_dirty = true;
                self.report(SimEvent::Connected);
                self.maybe_publish_state(now);
                self.maybe_send_plays();
            }
            MqttEvent::Disconnected { .. } => {
                self.connected = false;
                self.report(SimEvent::Disconnected);
            }
            MqttEvent::Message { topic, payload } => {
                let Some(parsed) = Topic::parse(&topic) else {
                    return;
                };
                if parsed.screen_id != self.loaded.screen_id {
                    return;
                }
                let input = match parsed.kind {
                    TopicKind::Rotation => Input::Rotation {
                        envelope: payload,
                        source: RotationSource::Mqtt,
                    },
                    TopicKind::Command => Input::Command { envelope: payload },
                    TopicKind::Ack => Input::Ack { envelope: payload },
                    TopicKind::State | TopicKind::Plays => return,
                };
                self.input(now, input);
            }
        }
    }

    fn on_command(&mut self, command: SimCommand) {
        match command {
            SimCommand::SendPlays { count } => {
                let now = clock::now();
                let media = Sha256(sha2::Sha256::digest(b"fleet-sim").into());
                for _ in 0..count {
                    let seq = self.next_play_seq;
                    self.next_play_seq += 1;
                    let started = Timestamp(now.0 - 10_000 + (seq % 1000) as i64);
                    self.plays_pending.push_back(PlayRecord {
                        seq,
                        media,
                        material_id: "fleet-sim".to_owned(),
                        rotation_version: None,
                        is_warning: true,
                        started_at: started,
                        ended_at: Some(Timestamp(started.0 + 1)),
                        outcome: PlayOutcome::Completed,
                        clock_suspect: false,
                        bridge: None,
                    });
                }
                self.maybe_send_plays();
            }
        }
    }

    fn maybe_send_plays(&mut self) {
        if !self.connected || self.in_flight.is_some() || self.plays_pending.is_empty() {
            return;
        }
        let max = self.config.plays.batch_max_records.max(1);
        let records: Vec<PlayRecord> = self.plays_pending.iter().take(max).cloned().collect();
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return;
        };
        let batch = PlayBatch {
            screen_id: self.loaded.screen_id.clone(),
            boot_id: self.boot_id.clone(),
            first_seq: first.seq,
            last_seq: last.seq,
            records: records.clone(),
        };
        let upto = last.seq;
        let payload = v1::seal(&batch, &self.loaded.device_key);
        let topic = Topic::name(&self.loaded.screen_id, TopicKind::Plays);
        if self
            .mqtt
            .try_publish(topic, QoS::AtLeastOnce, false, payload)
            .is_ok()
        {
            self.in_flight = Some((upto, clock::monotonic()));
        }
    }

    fn on_time(&mut self) {
        let instant = clock::monotonic();
        let timeout = Duration::from_secs(self.config.plays.ack_timeout_seconds);
        if self
            .in_flight
            .is_some_and(|(_, sent)| instant.duration_since(sent) >= timeout)
        {
            self.in_flight = None;
        }
        self.maybe_send_plays();
        if instant.duration_since(self.last_state)
            >= Duration::from_secs(self.config.mqtt.state_interval_seconds)
        {
            self.state_dirty = true;
        }
        self.maybe_publish_state(clock::now());
    }

    fn next_wake(&self, now: Timestamp) -> Duration {
        let mut wake = Duration::from_secs(5);
        if let Some(t) = self.player.poll_timeout() {
            wake = wake.min(Duration::from_millis(
                t.millis_since(now).clamp(0, i64::MAX) as u64,
            ));
        }
        if let Some((_, sent)) = self.in_flight {
            let due = sent + Duration::from_secs(self.config.plays.ack_timeout_seconds);
            wake = wake.min(due.saturating_duration_since(clock::monotonic()));
        }
        wake
    }

    fn maybe_publish_state(&mut self, now: Timestamp) {
        if !self.state_dirty || !self.connected {
            return;
        }
        let player = self.player.status();
        let version = player.rotation_version;
        let state = AgentState {
            screen_id: self.loaded.screen_id.clone(),
            boot_id: self.boot_id.clone(),
            status: Presence::Online,
            reported_at: now,
            rotation_version: player.rotation_version,
            pending_version: player.pending_version,
            now_playing: player.now_playing,
            stale: player.stale,
            cache: CacheStatus {
                items: self.cache.len() as u64,
                bytes: self.cache.values().map(|b| b.len() as u64).sum(),
                missing: player.missing,
            },
            journal_pending: self.plays_pending.len() as u64,
            journal_alarm: false,
            last_error: player.last_error,
            warnings: player.warnings,
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            bridge: None,
            connected_at: self.connected_at,
            clock_suspect: player.clock_suspect,
            display_missing: player.display_missing,
        };
        let payload = v1::seal(&state, &self.loaded.device_key);
        let topic = Topic::name(&self.loaded.screen_id, TopicKind::State);
        if self
            .mqtt
            .try_publish(topic, QoS::AtLeastOnce, true, payload)
            .is_ok()
        {
            self.state_dirty = false;
            self.last_state = clock::monotonic();
            self.report(SimEvent::StateSent { version });
        }
    }
}

/// The agent's HTTP client with default timeouts, for [`enroll_in_memory`]
/// and [`MediaPool::new`].
pub fn default_link() -> Link {
    Link::new(&HttpConfig::default())
}
