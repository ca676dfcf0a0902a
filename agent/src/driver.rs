//! The driver: the agent's one event loop and its only `tokio::select!`.
//!
//! It turns MQTT messages, finished downloads and HTTP calls, timers and the
//! shutdown future into player [`Input`]s, and the player's [`Action`]s into
//! I/O: journal appends (fsynced before the frame is shown), atomic persists,
//! cache downloads on the blocking pool, frames on the display sink, signed
//! `state` and `plays` publications, and acks that delete journal segments.
//!
//! It decides nothing about playback or trust (the player does) and keeps no
//! state that must survive a crash outside the journal, the cache and the
//! persisted files, so `kill -9` at any instant loses nothing fsynced.
//!
//! The same loop runs the fleet bench's simulated screens ([`crate::sim`]):
//! what differs — the glass, the media store, the journal, the state files,
//! and who hears about transitions — comes in as `Parts` (the seams and
//! the device's implementations are in `driver/parts.rs`). Topic dispatch,
//! downloads and their retries, acks, batches and state reports exist once.

mod parts;

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::time::Duration;

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use ledcast_protocol::v1::{
    self, AgentState, BootId, CacheStatus, MediaRef, PlayBatch, Presence, ScreenId, Sha256,
    SlotKind, Timestamp, Topic, TopicKind,
};
use rumqttc::{AsyncClient, Event, LastWill, NetworkOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::backoff::{backoff, random_sample, BackoffPolicy};
use crate::cache::{Cache, CacheError};
use crate::clock;
use crate::config::AgentConfig;
use crate::display::Screen;
use crate::identity::{self, Loaded, PinnedKey};
use crate::journal::{Journal, JournalLimits};
use crate::link::{Link, LinkError};
use crate::player::{Action, Content, Input, Persist, Player, PlayerConfig, RotationSource};

pub(crate) use parts::{DownloadDone, Glass, MediaStore, Observer, Parts, PlayLog, StateFiles};

/// The longest the loop sleeps without re-reading the clock (bounds the
/// reaction to a wall clock that steps).
const MAX_SLEEP: Duration = Duration::from_secs(5);

/// Runs the agent with `config` until `shutdown` completes, then ends the
/// current play record, publishes `offline` and returns.
pub async fn run(config: AgentConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let mut driver = Driver::start(config)?;
    let result = driver.run_loop(shutdown).await;
    driver.finish().await;
    result
}

/// Runs the driver over `parts` (the fleet bench's simulated screen) until
/// `shutdown` completes, like [`run`]: the same startup, loop and finish.
/// `started` gets a [`BatchWaker`] once the loop is set up.
pub(crate) async fn run_with_parts(
    config: AgentConfig,
    loaded: Loaded,
    boot_id: BootId,
    parts: Parts,
    started: impl FnOnce(BatchWaker),
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let link = Link::new(&config.http);
    let mut driver = Driver::new(config, loaded, boot_id, parts, link, None)?;
    started(BatchWaker(driver.done_tx.clone()));
    driver.boot();
    let result = driver.run_loop(shutdown).await;
    driver.finish().await;
    result
}

/// Tells a running driver that records were added to its journal from
/// outside the player (the fleet bench's made-up records), so it sends a
/// batch now instead of at the next flush interval.
#[derive(Clone, Debug)]
pub(crate) struct BatchWaker(mpsc::UnboundedSender<Done>);

impl BatchWaker {
    /// Wakes the driver; false once it has stopped.
    pub(crate) fn wake(&self) -> bool {
        self.0.send(Done::PlaysWaiting).is_ok()
    }
}

/// How often a running video player is checked (a crash shows the
/// fallback within this time).
const VIDEO_CHECK: Duration = Duration::from_millis(250);
/// How often a missing display device is looked for again.
const DISPLAY_RETRY: Duration = Duration::from_secs(5);

/// After each CONNACK, `online` is published again this long later: a Last
/// Will of the previous connection that the broker delivers late (after a
/// quick reconnect, the old session's takeover races the new `online`)
/// must not leave the screen shown offline.
const WILL_SETTLE: Duration = Duration::from_secs(2);

/// The highest rotation version seen. (The state files lie under
/// `{data_dir}/state/` on a device.)
const HIGHEST_VERSION: &str = "highest_version";
/// The rotation on air.
const ROTATION_CURRENT: &str = "rotation-current.env";
/// The rotation waiting for its media.
const ROTATION_PENDING: &str = "rotation-pending.env";

/// What the MQTT task reports.
#[derive(Debug)]
enum MqttEvent {
    /// Connected (ConnAck); `since` is the connection's `connected_at`,
    /// the instant its signed Last Will carries.
    Connected { since: Timestamp },
    /// A message arrived.
    Message { topic: String, payload: Vec<u8> },
    /// The connection failed or dropped; the task retries after `retry_in`.
    Disconnected { error: String, retry_in: Duration },
}

/// Blocking work that finished.
#[derive(Debug)]
enum Done {
    /// A media download.
    Download {
        media: MediaRef,
        result: Result<(), CacheError>,
    },
    /// A rotation fetched over HTTP.
    Rotation(Result<Vec<u8>, LinkError>),
    /// A screenshot upload.
    Screenshot(Result<(), LinkError>),
    /// A bridge job (upload or readback of the controller card) ended.
    Bridge(crate::bridge::Outcome),
    /// Records were added to the journal from outside ([`BatchWaker`]).
    PlaysWaiting,
}

/// A batch published and not yet acknowledged.
#[derive(Debug)]
struct InFlight {
    boot_id: BootId,
    upto_seq: u64,
    sent_at: Instant,
}

/// The driver's state (everything else lives in the player).
struct Driver {
    /// Configuration.
    config: AgentConfig,
    /// Enrollment.
    loaded: Loaded,
    /// This run.
    boot_id: BootId,
    /// The decisions.
    player: Player,
    /// Play records.
    journal: Box<dyn PlayLog>,
    /// Media.
    media: Box<dyn MediaStore>,
    /// The display.
    glass: Box<dyn Glass>,
    /// Rotations, highest version, pinned key.
    files: Box<dyn StateFiles>,
    /// Hears about transitions.
    observer: Box<dyn Observer>,
    /// HTTP.
    link: Link,
    /// MQTT requests.
    mqtt: AsyncClient,
    /// MQTT events.
    mqtt_events: mpsc::Receiver<MqttEvent>,
    /// Finished blocking work.
    done_tx: mpsc::UnboundedSender<Done>,
    /// Finished blocking work.
    done_rx: mpsc::UnboundedReceiver<Done>,
    /// Whether the broker connection is up.
    connected: bool,
    /// When the current (or last) broker connection began: every state
    /// report carries it, like that connection's Last Will.
    connected_at: Option<Timestamp>,
    /// Since when it is down.
    disconnected_since: Instant,
    /// Last HTTP rotation poll.
    last_rotation_poll: Option<Instant>,
    /// Downloads waiting.
    download_queue: VecDeque<MediaRef>,
    /// The download running.
    download_active: Option<Sha256>,
    /// Failed downloads and when to retry them.
    download_retry: Vec<(Instant, MediaRef)>,
    /// Consecutive failures per media.
    download_attempts: HashMap<Sha256, u32>,
    /// The batch waiting for an ack.
    in_flight: Option<InFlight>,
    /// When a batch was last considered.
    last_batch_check: Instant,
    /// Send the next batch without waiting for the flush interval.
    batch_now: bool,
    /// State must be published.
    state_dirty: bool,
    /// Last state publication.
    last_state: Instant,
    /// Next scroll frame.
    next_frame_at: Option<Timestamp>,
    /// systemd watchdog interval.
    watchdog: Option<Duration>,
    /// Last watchdog ping.
    last_watchdog: Instant,
    /// Last reported journal alarm (to log transitions only).
    journal_alarm: bool,
    /// Videos whose hash was checked in this run.
    verified_videos: HashSet<Sha256>,
    /// When to publish `online` again after a connect (see [`WILL_SETTLE`]).
    republish_at: Vec<Instant>,
    /// The controller card, when the sink is `bridge`.
    bridge: Option<crate::bridge::Bridge>,
    /// The bridged record on screen: its seq, whether the card confirmed its
    /// loop at the start, and the bridge's epoch then.
    bridge_record: Option<(u64, bool, u64)>,
    /// When a missing display device was last looked for.
    last_display_retry: Instant,
}

impl Driver {
    /// The device: enrollment, cache, journal and display from `config`.
    fn start(config: AgentConfig) -> anyhow::Result<Driver> {
        let loaded = identity::load(&config.data_dir)
            .with_context(|| format!("loading enrollment from {}", config.data_dir.display()))?;
        let mut random = [0u8; 16];
        getrandom::getrandom(&mut random)
            .map_err(|e| anyhow::anyhow!("reading randomness for the boot id: {e}"))?;
        let boot_id = BootId::from_random(random);
        let cache_dir = config.cache_dir();
        let cache = Cache::open(
            &cache_dir,
            config.cache.max_bytes,
            config.cache.min_free_bytes,
        )
        .with_context(|| format!("opening media cache {}", cache_dir.display()))?;
        let journal = Journal::open(
            &config.data_dir.join("journal"),
            boot_id.clone(),
            JournalLimits {
                max_bytes: config.journal.max_bytes,
                alarm_percent: config.journal.alarm_percent,
                segment_records: config.journal.segment_records.max(1),
            },
        )
        .context("opening the play-record journal")?;
        for repair in &journal.repairs {
            warn!(%repair, "journal repaired after an unclean stop");
        }
        let screen = Screen::from_config(&config.display, &config.png_path())
            .context("opening the display sink (check [display] in the config)")?;
        let link = Link::new(&config.http);
        let parts = Parts {
            glass: Box::new(screen),
            media: Box::new(parts::DiskMedia {
                cache,
                link: link.clone(),
                base_url: loaded.identity.enrollment.media_base_url.clone(),
            }),
            journal: Box::new(journal),
            files: Box::new(parts::DiskFiles {
                data_dir: config.data_dir.clone(),
            }),
            observer: Box::new(()),
        };
        let mut watchdog_usec = 0;
        let watchdog = sd_notify::watchdog_enabled(false, &mut watchdog_usec)
            .then(|| Duration::from_micros(watchdog_usec / 2));
        let mut driver = Driver::new(config, loaded, boot_id, parts, link, watchdog)?;
        driver.boot();
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        Ok(driver)
    }

    /// The driver over `parts`: the player, the MQTT task, the bridge (when
    /// the sink is `bridge`). Nothing is fed yet ([`Driver::boot`]).
    fn new(
        config: AgentConfig,
        loaded: Loaded,
        boot_id: BootId,
        parts: Parts,
        link: Link,
        watchdog: Option<Duration>,
    ) -> anyhow::Result<Driver> {
        let highest_version_seen = match parts.files.read(HIGHEST_VERSION) {
            Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).trim().parse().ok(),
            Ok(None) => None,
            Err(e) => {
                warn!(error = %e, "highest rotation version unreadable; the rotation files bound it");
                None
            }
        };
        let player = Player::new(PlayerConfig {
            screen_id: loaded.screen_id.clone(),
            boot_id: boot_id.clone(),
            server_key: loaded.server_key.clone(),
            highest_version_seen,
            video_supported: parts.glass.video_supported(),
            switch_window_ms: config.player.switch_window_seconds as i64 * 1000,
            builtin_slot_ms: config.player.builtin_slot_seconds.max(1) * 1000,
            cached: parts.media.ids(),
        });
        let (mqtt, mqtt_events) = start_mqtt(&config, &loaded, &boot_id)?;
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let bridge = if config.display.sink == crate::config::SinkKind::Bridge {
            if let Err(problems) = crate::bridge::Bridge::validate(&config.display.bridge) {
                bail!("display.sink = \"bridge\": {problems}");
            }
            let tx = done_tx.clone();
            Some(
                crate::bridge::Bridge::start(&config.display.bridge, move |outcome| {
                    let _ = tx.send(Done::Bridge(outcome));
                })
                .context("starting the bridge worker")?,
            )
        } else {
            None
        };
        let now = Instant::now();
        info!(screen = %loaded.screen_id, boot = %boot_id, "agent starting");
        let Parts {
            glass,
            media,
            journal,
            files,
            observer,
        } = parts;
        Ok(Driver {
            config,
            loaded,
            boot_id,
            player,
            journal,
            media,
            glass,
            files,
            observer,
            link,
            mqtt,
            mqtt_events,
            done_tx,
            done_rx,
            connected: false,
            connected_at: None,
            disconnected_since: now,
            last_rotation_poll: None,
            download_queue: VecDeque::new(),
            download_active: None,
            download_retry: Vec::new(),
            download_attempts: HashMap::new(),
            in_flight: None,
            last_batch_check: now,
            batch_now: true,
            state_dirty: true,
            last_state: now,
            next_frame_at: None,
            watchdog,
            last_watchdog: now,
            journal_alarm: false,
            verified_videos: HashSet::new(),
            republish_at: Vec::new(),
            bridge,
            bridge_record: None,
            last_display_retry: now,
        })
    }

    /// The first inputs: a missing display, the persisted rotations.
    fn boot(&mut self) {
        let now = clock::now();
        // A missing display (no /dev/fb0 yet): stay up, journal nothing,
        // say so in state, look again every few seconds.
        if let Some(error) = self.glass.display_missing().map(str::to_owned) {
            warn!(%error, "display missing; nothing is shown or recorded until it appears");
            self.input(now, Input::DisplayLost { error });
        }
        // Startup is an update: persisted rotations go through the same input.
        for name in [ROTATION_CURRENT, ROTATION_PENDING] {
            match self.files.read(name) {
                Ok(Some(envelope)) => self.input(
                    now,
                    Input::Rotation {
                        envelope,
                        source: RotationSource::Disk,
                    },
                ),
                Ok(None) => {}
                Err(e) => {
                    warn!(error = %e, "persisted rotation unreadable; waiting for the broker")
                }
            }
        }
        self.input(now, Input::Timer);
    }

    async fn run_loop(&mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        tokio::pin!(shutdown);
        loop {
            let now = clock::now();
            self.on_time(now);
            let wake = self.next_wake(now);
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                event = self.mqtt_events.recv() => match event {
                    Some(event) => self.on_mqtt(event),
                    None => bail!("the MQTT task stopped"),
                },
                Some(done) = self.done_rx.recv() => self.on_done(done),
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Ends the current record, publishes `offline`, disconnects.
    async fn finish(&mut self) {
        let now = clock::now();
        self.input(now, Input::Shutdown);
        self.glass.stop_video();
        if self.connected {
            let state = self.agent_state(now, Presence::Offline);
            let payload = v1::seal(&state, &self.loaded.device_key);
            let topic = Topic::name(&self.loaded.screen_id, TopicKind::State);
            let _ = self
                .mqtt
                .try_publish(topic, QoS::AtLeastOnce, true, payload);
            let _ = self.mqtt.try_disconnect();
            // Let the MQTT task flush the publication and the disconnect.
            let deadline = Instant::now() + Duration::from_secs(2);
            while let Ok(Some(event)) =
                tokio::time::timeout_at(deadline, self.mqtt_events.recv()).await
            {
                if matches!(event, MqttEvent::Disconnected { .. }) {
                    break;
                }
            }
        }
        info!(screen = %self.loaded.screen_id, "agent stopped");
    }

    /// Feeds one input and carries out every resulting action.
    fn input(&mut self, now: Timestamp, input: Input) {
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            self.player.handle(now, input);
            while let Some(action) = self.player.poll_action() {
                if let Some(follow_up) = self.act(now, action) {
                    inputs.push_back(follow_up);
                }
            }
        }
        self.maybe_publish_state(now);
    }

    /// Carries out one action; may return an input to feed back (a corrupt file).
    fn act(&mut self, now: Timestamp, action: Action) -> Option<Input> {
        match action {
            Action::Fetch { media } => {
                if !self.download_queue.iter().any(|m| m.sha256 == media.sha256)
                    && self.download_active != Some(media.sha256)
                {
                    self.download_queue.push_back(media);
                }
                self.start_download();
            }
            Action::JournalStart(mut record) => {
                self.mark_bridged(now, &mut record);
                if let Err(e) = self.journal.start(&record) {
                    error!(error = %e, seq = record.seq, "cannot write play record; playing on");
                }
            }
            Action::JournalEnd {
                seq,
                ended_at,
                outcome,
            } => {
                let bridge_confirmed = self.bridge.as_ref().map(|bridge| {
                    matches!(self.bridge_record, Some((s, confirmed, epoch))
                        if s == seq && confirmed && epoch == bridge.epoch())
                });
                if let Err(e) = self
                    .journal
                    .end_bridged(seq, ended_at, outcome, bridge_confirmed)
                {
                    error!(error = %e, seq, "cannot write play record end; playing on");
                }
            }
            Action::Show(showing) => {
                let follow_up = self.show(now, &showing);
                self.sync_bridge(now);
                return follow_up;
            }
            Action::Brightness { percent } => {
                info!(percent, "panel brightness set by the rotation's schedule");
                // A bridged card follows the same level, without a new upload.
                self.sync_bridge(now);
                let result = self.glass.set_brightness(percent);
                self.next_frame_at = self.glass.next_frame_at(now);
                if let Err(e) = result {
                    warn!(error = %e, "display lost; nothing is shown or recorded until it is back");
                    self.last_display_retry = Instant::now();
                    return Some(Input::DisplayLost {
                        error: e.to_string(),
                    });
                }
            }
            Action::Persist(persist) => self.persist(persist),
            Action::PublishState => self.state_dirty = true,
            Action::Acked {
                boot_id,
                upto_seq,
                refused,
            } => {
                // Refused records are acknowledged too: resending them would
                // be refused again, forever. Say which and why, once.
                for record in &refused {
                    warn!(boot = %boot_id, seq = record.seq, reason = record.reason.describe(), "server refused a play record; dropping it from the journal");
                }
                if let Err(e) = self.journal.ack(&boot_id, upto_seq) {
                    error!(error = %e, "cannot record ack; records will be resent");
                }
                if self
                    .in_flight
                    .as_ref()
                    .is_some_and(|f| f.boot_id == boot_id && upto_seq >= f.upto_seq)
                {
                    self.in_flight = None;
                    self.batch_now = true;
                }
                self.state_dirty = true;
            }
            Action::Screenshot => match self.bridge.as_mut() {
                // The card's own screenshot is the evidence of what it shows.
                Some(bridge) => {
                    bridge.request_screenshot();
                    bridge.poll(now);
                }
                None => self.screenshot(now),
            },
            Action::Resync => self.poll_rotation(),
            Action::Rejected { message, refusal } => {
                warn!(?message, %refusal, "refused a message from the broker; screen unchanged");
                self.observer.refused(&refusal.to_string());
            }
            Action::Accepted { version, switched } => {
                if switched {
                    info!(version, "playing rotation");
                } else {
                    info!(version, "rotation accepted; waiting for its media");
                }
            }
        }
        None
    }

    fn show(&mut self, now: Timestamp, showing: &crate::player::Showing) -> Option<Input> {
        let result = match &showing.content {
            Content::Media { media, kind } => {
                let path = self.media.path(media);
                if *kind == SlotKind::Video {
                    // Checked once per run (streaming): videos are large.
                    if !self.verified_videos.contains(media) {
                        if let Err(e) = self.media.verify_streaming(media) {
                            warn!(error = %e, "cached video unusable at play time; fallback while refetching");
                            self.observer.refused(&e.to_string());
                            return Some(Input::MediaGone { media: *media });
                        }
                        self.verified_videos.insert(*media);
                    }
                    self.glass.show(showing, None, path.as_deref(), now)
                } else {
                    match self.media.read_verified(media) {
                        Ok(bytes) => self.glass.show(showing, Some(&bytes), path.as_deref(), now),
                        Err(e) => {
                            warn!(error = %e, "cached media unusable at play time; fallback while refetching");
                            self.observer.refused(&e.to_string());
                            return Some(Input::MediaGone { media: *media });
                        }
                    }
                }
            }
            _ => self.glass.show(showing, None, None, now),
        };
        self.next_frame_at = self.glass.next_frame_at(now);
        match result {
            Ok(()) => None,
            Err(crate::display::ShowError::Sink(e)) => {
                warn!(error = %e, "display lost; nothing is shown or recorded until it is back");
                self.last_display_retry = Instant::now();
                Some(Input::DisplayLost {
                    error: e.to_string(),
                })
            }
            // The record ends now and the player picks a fallback for the
            // rest of the slot: the journal names what the glass showed.
            Err(e) => {
                error!(error = %e, material = %showing.material_id, "cannot show item; showing a fallback");
                Some(Input::ShowFailed {
                    seq: showing.seq,
                    error: e.to_string(),
                })
            }
        }
    }

    /// Watches the video player and the display device.
    fn check_display(&mut self, now: Timestamp) {
        if let Some(error) = self.glass.video_exited() {
            let seq = self.player.showing().map(|s| s.seq).unwrap_or(0);
            warn!(%error, seq, "video stopped before its slot ended; showing a fallback");
            self.input(now, Input::ShowFailed { seq, error });
        }
        if self.glass.display_missing().is_some() {
            let instant = Instant::now();
            if instant.duration_since(self.last_display_retry) >= DISPLAY_RETRY {
                self.last_display_retry = instant;
                if self.glass.retry_display() {
                    info!("display back");
                    self.input(now, Input::DisplayBack);
                }
            }
        }
    }

    fn persist(&mut self, persist: Persist) {
        let result = match &persist {
            Persist::HighestVersion(v) => {
                self.files.write(HIGHEST_VERSION, v.to_string().as_bytes())
            }
            Persist::CurrentRotation { envelope } => self.files.write(ROTATION_CURRENT, envelope),
            Persist::PendingRotation { envelope: Some(e) } => self.files.write(ROTATION_PENDING, e),
            Persist::PendingRotation { envelope: None } => self.files.remove(ROTATION_PENDING),
            Persist::ServerKey {
                key_id,
                public_key_hex,
            } => {
                info!(%key_id, "server key rotated");
                self.files.pin_server_key(&PinnedKey {
                    key_id: key_id.clone(),
                    public_key_hex: public_key_hex.clone(),
                })
            }
        };
        if let Err(e) = result {
            error!(error = %e, ?persist, "cannot persist agent state");
        }
    }

    fn on_time(&mut self, now: Timestamp) {
        if self.player.poll_timeout().is_some_and(|t| t <= now) {
            self.input(now, Input::Timer);
        }
        if self.next_frame_at.is_some_and(|t| t <= now) {
            let ticked = self.glass.tick(now);
            self.next_frame_at = self.glass.next_frame_at(now);
            if let Err(e) = ticked {
                warn!(error = %e, "display lost; nothing is shown or recorded until it is back");
                self.last_display_retry = Instant::now();
                self.next_frame_at = None;
                self.input(
                    now,
                    Input::DisplayLost {
                        error: e.to_string(),
                    },
                );
            }
        }
        self.check_display(now);
        let instant = Instant::now();
        let due: Vec<MediaRef> = {
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.download_retry)
                .into_iter()
                .partition(|(at, _)| *at <= instant);
            self.download_retry = later;
            due.into_iter().map(|(_, m)| m).collect()
        };
        if !due.is_empty() {
            let needed = self.player.needed_media();
            for media in due {
                if needed.contains(&media.sha256) && !self.media.contains(&media.sha256) {
                    self.download_queue.push_back(media);
                }
            }
            self.start_download();
        }
        if let Some(f) = &self.in_flight {
            if instant.duration_since(f.sent_at)
                >= Duration::from_secs(self.config.plays.ack_timeout_seconds)
            {
                debug!(boot = %f.boot_id, upto = f.upto_seq, "no ack in time; resending batch");
                self.in_flight = None;
                self.batch_now = true;
            }
        }
        self.maybe_send_batch(now);
        if self.bridge.is_some() {
            self.sync_bridge(now);
            if let Some(bridge) = self.bridge.as_mut() {
                bridge.poll(now);
            }
        }
        let offline_for = instant.duration_since(self.disconnected_since);
        if !self.connected
            && offline_for >= Duration::from_secs(self.config.mqtt.rotation_poll_after_seconds)
            && self.last_rotation_poll.is_none_or(|t| {
                instant.duration_since(t)
                    >= Duration::from_secs(self.config.mqtt.rotation_poll_interval_seconds)
            })
        {
            self.poll_rotation();
        }
        if instant.duration_since(self.last_state)
            >= Duration::from_secs(self.config.mqtt.state_interval_seconds)
        {
            self.state_dirty = true;
        }
        let before = self.republish_at.len();
        self.republish_at.retain(|at| *at > instant);
        if self.republish_at.len() != before && self.connected {
            self.state_dirty = true;
        }
        self.maybe_publish_state(now);
        if let Some(interval) = self.watchdog {
            if instant.duration_since(self.last_watchdog) >= interval {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
                self.last_watchdog = instant;
            }
        }
    }

    fn next_wake(&self, now: Timestamp) -> Instant {
        let instant = Instant::now();
        let mut wake = instant + MAX_SLEEP;
        let from_wall = |t: Timestamp| {
            instant + Duration::from_millis(t.millis_since(now).clamp(0, i64::MAX) as u64)
        };
        let mut candidates: Vec<Instant> = Vec::new();
        if let Some(t) = self.player.poll_timeout() {
            candidates.push(from_wall(t));
        }
        if let Some(t) = self.next_frame_at {
            candidates.push(from_wall(t));
        }
        candidates.extend(self.download_retry.iter().map(|(at, _)| *at));
        candidates.extend(self.bridge.as_ref().and_then(|b| b.next_wake()));
        if let Some(f) = &self.in_flight {
            candidates.push(f.sent_at + Duration::from_secs(self.config.plays.ack_timeout_seconds));
        } else if self.connected {
            candidates.push(
                self.last_batch_check + Duration::from_millis(self.config.plays.flush_interval_ms),
            );
        }
        if let Some(interval) = self.watchdog {
            candidates.push(self.last_watchdog + interval);
        }
        if self.glass.video_running() {
            candidates.push(instant + VIDEO_CHECK);
        }
        if self.glass.display_missing().is_some() {
            candidates.push(self.last_display_retry + DISPLAY_RETRY);
        }
        candidates.extend(self.republish_at.iter().copied());
        for c in candidates {
            wake = wake.min(c);
        }
        wake
    }

    fn on_mqtt(&mut self, event: MqttEvent) {
        let now = clock::now();
        match event {
            MqttEvent::Connected { since } => {
                if !self.connected {
                    info!(screen = %self.loaded.screen_id, "broker connected");
                }
                self.connected = true;
                self.connected_at = Some(since);
                // Our own retained state too, to see a late Last Will of an
                // earlier connection (a broker whose ACL forbids it simply
                // delivers nothing; the timed republish below covers that).
                for kind in [
                    TopicKind::Rotation,
                    TopicKind::Command,
                    TopicKind::Ack,
                    TopicKind::State,
                ] {
                    let topic = Topic::name(&self.loaded.screen_id, kind);
                    if let Err(e) = self.mqtt.try_subscribe(topic, QoS::AtLeastOnce) {
                        warn!(error = %e, "cannot queue subscription");
                    }
                }
                // Whatever was in flight may be lost with the old session.
                self.in_flight = None;
                self.batch_now = true;
                self.state_dirty = true;
                self.observer.connected();
                self.maybe_publish_state(now);
                // Once soon, and once after the broker's keep-alive check of
                // the old connection (1.5 x keep-alive) could have fired its will.
                let instant = Instant::now();
                let keep_alive = Duration::from_secs(self.config.mqtt.keep_alive_seconds.max(5));
                self.republish_at = vec![
                    instant + WILL_SETTLE,
                    instant + keep_alive * 3 / 2 + WILL_SETTLE,
                ];
            }
            MqttEvent::Disconnected { error, retry_in } => {
                self.observer.disconnected();
                if self.connected {
                    warn!(
                        screen = %self.loaded.screen_id,
                        %error,
                        retry_in_ms = retry_in.as_millis() as u64,
                        "broker unreachable; playing cached rotation"
                    );
                    self.connected = false;
                    self.disconnected_since = Instant::now();
                } else {
                    debug!(%error, retry_in_ms = retry_in.as_millis() as u64, "broker still unreachable");
                }
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
                    TopicKind::State => return self.on_own_state(now, &payload),
                    TopicKind::Plays => return,
                };
                self.input(now, input);
            }
        }
    }

    /// Our retained state as the broker holds it: an `offline` there while
    /// this process is connected is a previous connection's late Last Will.
    fn on_own_state(&mut self, now: Timestamp, payload: &[u8]) {
        if !self.connected {
            return;
        }
        let own_key = v1::TrustedKey::new(self.loaded.device_key.verifying_key());
        match v1::open::<AgentState>(payload, &own_key) {
            Ok(state) if state.status == Presence::Offline => {
                info!(
                    screen = %self.loaded.screen_id,
                    "a late Last Will marked this screen offline while connected; publishing online"
                );
                self.state_dirty = true;
                self.maybe_publish_state(now);
            }
            Ok(_) => {}
            Err(e) => debug!(error = %e, "unverifiable message on our state topic"),
        }
    }

    fn on_done(&mut self, done: Done) {
        let now = clock::now();
        match done {
            Done::Download { media, result } => {
                self.download_active = None;
                match result {
                    Ok(()) => {
                        debug!(media = %media.sha256, bytes = media.size_bytes, "media cached");
                        self.download_attempts.remove(&media.sha256);
                        self.media.insert(media.sha256, media.size_bytes);
                        self.state_dirty = true;
                        self.input(
                            now,
                            Input::MediaReady {
                                media: media.sha256,
                            },
                        );
                    }
                    Err(e) => {
                        let attempt = self.download_attempts.entry(media.sha256).or_insert(0);
                        let policy = BackoffPolicy {
                            initial: Duration::from_millis(self.config.http.retry_initial_ms),
                            max: Duration::from_millis(self.config.http.retry_max_ms),
                        };
                        let delay = backoff(policy, *attempt, random_sample());
                        if *attempt == 0 {
                            warn!(media = %media.sha256, error = %e, retry_in_ms = delay.as_millis() as u64, "download failed");
                        } else {
                            debug!(media = %media.sha256, error = %e, "download failed again");
                        }
                        *attempt += 1;
                        self.observer.refused(&e.to_string());
                        let sha = media.sha256;
                        self.download_retry.push((Instant::now() + delay, media));
                        self.input(
                            now,
                            Input::MediaFailed {
                                media: sha,
                                error: e.to_string(),
                            },
                        );
                    }
                }
                self.start_download();
            }
            Done::Rotation(Ok(envelope)) => self.input(
                now,
                Input::Rotation {
                    envelope,
                    source: RotationSource::Http,
                },
            ),
            Done::Rotation(Err(e)) => debug!(error = %e, "rotation poll failed"),
            Done::Bridge(outcome) => {
                let jpeg = self
                    .bridge
                    .as_mut()
                    .and_then(|bridge| bridge.on_outcome(outcome, now));
                self.state_dirty = true;
                if let Some(jpeg) = jpeg {
                    match jpeg_to_png(&jpeg) {
                        Ok(png) => self.upload_screenshot(png, now),
                        Err(e) => {
                            warn!(error = %e, "the controller card's screenshot does not decode")
                        }
                    }
                }
                self.sync_bridge(now);
                if let Some(bridge) = self.bridge.as_mut() {
                    bridge.poll(now);
                }
                self.maybe_publish_state(now);
            }
            Done::Screenshot(Ok(())) => info!("screenshot uploaded"),
            Done::Screenshot(Err(e)) => warn!(error = %e, "screenshot upload failed"),
            Done::PlaysWaiting => {
                self.batch_now = true;
                self.maybe_send_batch(now);
            }
        }
    }

    fn start_download(&mut self) {
        if self.download_active.is_some() {
            return;
        }
        let mut feed: Vec<Input> = Vec::new();
        while let Some(media) = self.download_queue.pop_front() {
            if self.media.contains(&media.sha256) {
                feed.push(Input::MediaReady {
                    media: media.sha256,
                });
                continue;
            }
            let protected: HashSet<Sha256> = self.player.needed_media();
            match self.media.make_room(&media, &protected) {
                Ok(evicted) => {
                    for gone in evicted {
                        debug!(media = %gone, "evicted from the cache");
                        feed.push(Input::MediaGone { media: gone });
                    }
                }
                Err(e) => {
                    // Reported like a failed download: retried with backoff.
                    self.download_active = Some(media.sha256);
                    let _ = self.done_tx.send(Done::Download {
                        media,
                        result: Err(e),
                    });
                    break;
                }
            }
            self.download_active = Some(media.sha256);
            let tx = self.done_tx.clone();
            let done_media = media.clone();
            self.media.download(
                media,
                Box::new(move |result| {
                    let _ = tx.send(Done::Download {
                        media: done_media,
                        result,
                    });
                }),
            );
            break;
        }
        let now = clock::now();
        for input in feed {
            self.input(now, input);
        }
    }

    fn poll_rotation(&mut self) {
        self.last_rotation_poll = Some(Instant::now());
        let link = self.link.clone();
        let server = self.loaded.identity.server_url.clone();
        let screen = self.loaded.screen_id.clone();
        let tx = self.done_tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(Done::Rotation(link.fetch_rotation(&server, &screen)));
        });
    }

    fn screenshot(&mut self, now: Timestamp) {
        let Some(Ok(png)) = self.glass.screenshot_png() else {
            warn!("screenshot requested but no frame is on screen yet");
            return;
        };
        self.upload_screenshot(png, now);
    }

    /// The card should play the loop in effect now (bridge sink only): the
    /// rotation's, else the built-in warnings; and have the brightness in
    /// force now (the rotation's windows, else the config's schedule).
    fn sync_bridge(&mut self, now: Timestamp) {
        let Some(bridge) = self.bridge.as_mut() else {
            return;
        };
        let brightness = crate::bridge::plan::card_brightness(
            self.player.current_rotation(),
            now,
            &self.config.display.bridge.brightness,
        );
        if bridge.want_brightness(brightness) {
            bridge.poll(now);
            self.state_dirty = true;
        }
        let (width, height) = (self.config.display.width_px, self.config.display.height_px);
        let looped = self
            .player
            .current_rotation()
            .and_then(|rotation| crate::bridge::plan::loop_at(rotation, now));
        let plan = match looped {
            Some(looped) => {
                if bridge.desired_loop() == Some(looped.loop_id.as_str()) {
                    return;
                }
                let store = &mut self.media;
                crate::bridge::plan::plan(&looped, width, height, |media| {
                    store.read_verified(media).ok()
                })
                .map_err(|e| e.to_string())
            }
            None => {
                let screen = self.loaded.screen_id.as_str();
                if bridge.desired_loop() == Some(crate::bridge::builtin_loop_id(screen).as_str()) {
                    return;
                }
                crate::bridge::builtin_plan(
                    screen,
                    width,
                    height,
                    self.config.player.builtin_slot_seconds.max(1) * 1000,
                )
                .map_err(|e| e.to_string())
            }
        };
        match plan {
            Ok(plan) => {
                bridge.want(plan);
                bridge.poll(now);
                self.state_dirty = true;
            }
            Err(error) => debug!(%error, "bridge: loop not ready for the card yet"),
        }
    }

    /// Bridged records say whether the card confirmed their loop: a
    /// rotation's record its rotation loop, a built-in record the built-in loop.
    fn mark_bridged(&mut self, now: Timestamp, record: &mut v1::PlayRecord) {
        let Some(bridge) = self.bridge.as_ref() else {
            return;
        };
        let rotation_loop = self
            .player
            .current_rotation()
            .and_then(|r| crate::bridge::plan::loop_at(r, now))
            .map(|l| l.loop_id);
        let record_loop = match (record.rotation_version, rotation_loop) {
            (Some(_), Some(id)) => Some(id),
            (None, None) => Some(crate::bridge::builtin_loop_id(
                self.loaded.screen_id.as_str(),
            )),
            _ => None,
        };
        let confirmed = record_loop.is_some_and(|id| bridge.confirms(&id));
        record.bridge = Some(v1::BridgeEvidence {
            vendor: bridge.vendor().to_owned(),
            confirmed,
        });
        self.bridge_record = Some((record.seq, confirmed, bridge.epoch()));
    }

    fn upload_screenshot(&mut self, png: Vec<u8>, now: Timestamp) {
        let link = self.link.clone();
        let server = self.loaded.identity.server_url.clone();
        let screen: ScreenId = self.loaded.screen_id.clone();
        let key: SigningKey = self.loaded.device_key.clone();
        let tx = self.done_tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(Done::Screenshot(
                link.upload_screenshot(&server, &screen, &key, &png, now),
            ));
        });
    }

    fn maybe_send_batch(&mut self, _now: Timestamp) {
        if !self.connected || self.in_flight.is_some() {
            return;
        }
        let instant = Instant::now();
        let flush = Duration::from_millis(self.config.plays.flush_interval_ms);
        if !self.batch_now && instant.duration_since(self.last_batch_check) < flush {
            return;
        }
        self.batch_now = false;
        self.last_batch_check = instant;
        let in_progress = self.player.showing().map(|s| s.seq).filter(|&s| s != 0);
        let batch = match self
            .journal
            .next_batch(self.config.plays.batch_max_records.max(1), in_progress)
        {
            Ok(Some(b)) => b,
            Ok(None) => return,
            Err(e) => {
                error!(error = %e, "cannot read the journal");
                return;
            }
        };
        let (Some(first), Some(last)) = (batch.records.first(), batch.records.last()) else {
            return;
        };
        let message = PlayBatch {
            screen_id: self.loaded.screen_id.clone(),
            boot_id: batch.boot_id.clone(),
            first_seq: first.seq,
            last_seq: last.seq,
            records: batch.records.clone(),
        };
        let upto_seq = last.seq;
        let payload = v1::seal(&message, &self.loaded.device_key);
        let topic = Topic::name(&self.loaded.screen_id, TopicKind::Plays);
        match self
            .mqtt
            .try_publish(topic, QoS::AtLeastOnce, false, payload)
        {
            Ok(()) => {
                debug!(boot = %batch.boot_id, first = message.first_seq, upto = upto_seq, "play batch sent");
                self.in_flight = Some(InFlight {
                    boot_id: batch.boot_id,
                    upto_seq,
                    sent_at: instant,
                });
            }
            Err(e) => debug!(error = %e, "cannot queue play batch; will retry"),
        }
    }

    fn agent_state(&self, now: Timestamp, status: Presence) -> AgentState {
        let player = self.player.status();
        let journal = self.journal.status();
        let (items, bytes) = self.media.usage();
        let mut warnings = player.warnings;
        if journal.alarm {
            warnings.push(format!(
                "play-record journal {}% full ({} records unacknowledged)",
                journal.bytes * 100 / self.config.journal.max_bytes.max(1),
                journal.pending
            ));
        }
        AgentState {
            screen_id: self.loaded.screen_id.clone(),
            boot_id: self.boot_id.clone(),
            status,
            reported_at: now,
            rotation_version: player.rotation_version,
            pending_version: player.pending_version,
            now_playing: player.now_playing,
            stale: player.stale,
            cache: CacheStatus {
                items,
                bytes,
                missing: player.missing,
            },
            journal_pending: journal.pending,
            journal_alarm: journal.alarm,
            last_error: player.last_error,
            warnings,
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            bridge: self.bridge.as_ref().map(|b| b.state()),
            connected_at: self.connected_at,
            clock_suspect: player.clock_suspect,
            display_missing: player.display_missing,
        }
    }

    fn maybe_publish_state(&mut self, now: Timestamp) {
        let alarm = self.journal.status().alarm;
        if alarm != self.journal_alarm {
            self.journal_alarm = alarm;
            self.state_dirty = true;
            if alarm {
                warn!("play-record journal nearly full: the server has not acknowledged records for a long time");
            }
        }
        if !self.state_dirty || !self.connected {
            return;
        }
        let state = self.agent_state(now, Presence::Online);
        let payload = v1::seal(&state, &self.loaded.device_key);
        let topic = Topic::name(&self.loaded.screen_id, TopicKind::State);
        if self
            .mqtt
            .try_publish(topic, QoS::AtLeastOnce, true, payload)
            .is_ok()
        {
            self.state_dirty = false;
            self.last_state = Instant::now();
            self.observer.state_sent(state.rotation_version);
        }
    }
}

/// Configures rumqttc (TCP_NODELAY, keep-alive, credentials, signed Last
/// Will) and spawns the task that polls it, reconnecting with backoff.
fn start_mqtt(
    config: &AgentConfig,
    loaded: &Loaded,
    boot_id: &BootId,
) -> anyhow::Result<(AsyncClient, mpsc::Receiver<MqttEvent>)> {
    let enrollment = &loaded.identity.enrollment;
    let client_id = v1::agent_client_id(&loaded.screen_id);
    let mut options = ledcast_mqtt::options(&enrollment.broker_url, &client_id)?;
    options.set_keep_alive(Duration::from_secs(config.mqtt.keep_alive_seconds.max(5)));
    options.set_credentials(
        enrollment.broker_username.clone(),
        enrollment.broker_password.clone(),
    );
    options.set_max_packet_size(
        v1::DEFAULT_MAX_ENVELOPE_BYTES + 1024,
        v1::DEFAULT_MAX_ENVELOPE_BYTES + 1024,
    );
    options.set_clean_session(true);
    // The Last Will is signed anew before every connection attempt, with
    // that connection's `connected_at`, so a captured will of an ended
    // connection is older than everything after it (the server ignores it).
    let will_for = {
        let screen_id = loaded.screen_id.clone();
        let boot_id = boot_id.clone();
        let device_key = loaded.device_key.clone();
        move |connected_at: Timestamp| {
            let will = AgentState {
                screen_id: screen_id.clone(),
                boot_id: boot_id.clone(),
                status: Presence::Offline,
                reported_at: connected_at,
                rotation_version: None,
                pending_version: None,
                now_playing: None,
                stale: false,
                cache: CacheStatus::default(),
                journal_pending: 0,
                journal_alarm: false,
                last_error: Some("connection lost".to_owned()),
                warnings: Vec::new(),
                agent_version: env!("CARGO_PKG_VERSION").to_owned(),
                bridge: None,
                connected_at: Some(connected_at),
                clock_suspect: false,
                display_missing: false,
            };
            LastWill::new(
                Topic::name(&screen_id, TopicKind::State),
                v1::seal(&will, &device_key),
                QoS::AtLeastOnce,
                true,
            )
        }
    };
    let mut will_at = clock::now();
    options.set_last_will(will_for(will_at));
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    network.set_connection_timeout(10);
    eventloop.set_network_options(network);
    let policy = BackoffPolicy {
        initial: Duration::from_millis(config.mqtt.backoff_initial_ms),
        max: Duration::from_millis(config.mqtt.backoff_max_ms),
    };
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut attempt: u32 = 0;
        loop {
            let event = match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    attempt = 0;
                    Some(MqttEvent::Connected { since: will_at })
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => Some(MqttEvent::Message {
                    topic: publish.topic,
                    payload: publish.payload.to_vec(),
                }),
                Ok(_) => None,
                Err(e) => {
                    let retry_in = backoff(policy, attempt, random_sample());
                    attempt = attempt.saturating_add(1);
                    if tx
                        .send(MqttEvent::Disconnected {
                            error: e.to_string(),
                            retry_in,
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                    tokio::time::sleep(retry_in).await;
                    // Never earlier than the last one, even if the clock stepped back.
                    will_at = clock::now().max(Timestamp(will_at.as_millis() + 1));
                    eventloop.mqtt_options.set_last_will(will_for(will_at));
                    None
                }
            };
            if let Some(event) = event {
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok((client, rx))
}

/// A controller card's JPEG screenshot as the PNG the server takes.
fn jpeg_to_png(jpeg: &[u8]) -> anyhow::Result<Vec<u8>> {
    let image = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .context("decoding the card's JPEG")?
        .into_rgb8();
    Ok(crate::display::encode_png(&image)?)
}
