//! The driver against real components: an in-process rumqttd broker on a
//! free loopback port, and a small axum server standing in for the ledcast
//! server's media, rotation and screenshot endpoints. A test MQTT client
//! plays the server's part on the broker (publishes signed rotations,
//! commands and acks; reads state and play batches).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ed25519_dalek::SigningKey;
use image::RgbImage;
use ledcast_agent::config::{AgentConfig, SinkKind};
use ledcast_agent::identity::{self, Identity};
use ledcast_protocol::v1::{
    self, Ack, AgentState, Block, Command, CommandAction, EnrollResponse, MediaRef, PlayBatch,
    Presence, Rotation, ScreenId, Sha256, Slot, SlotKind, Timestamp, Topic, TopicKind, TrustedKey,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sha2::Digest;
use tokio::sync::oneshot;

const BLUE: [u8; 3] = [0, 0, 255];
const GREEN: [u8; 3] = [0, 255, 0];

fn server_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn device_key() -> SigningKey {
    SigningKey::from_bytes(&[43; 32])
}

fn screen() -> ScreenId {
    ScreenId::new("branch-1-door").unwrap()
}

#[allow(clippy::disallowed_methods)]
fn wall_now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts rumqttd on a free loopback port (in its own threads).
fn start_broker() -> u16 {
    let port = free_port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 5000,
        max_payload_size: 1024 * 1024,
        max_inflight_count: 200,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "v4".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 100,
            max_outgoing_packet_count: 200,
            max_segment_size: 1024 * 1024,
            max_segment_count: 10,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("v4".to_owned(), server)])),
        v5: None,
        ws: None,
        cluster: None,
        console: None,
        bridge: None,
        prometheus: None,
        metrics: None,
    };
    std::thread::spawn(move || {
        let mut broker = rumqttd::Broker::new(config);
        let _ = broker.start();
    });
    for _ in 0..100 {
        if std::net::TcpStream::connect(listen).is_ok() {
            return port;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("broker did not start on {listen}");
}

/// How the fake server serves one media item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Serve {
    Correct,
    /// Same length, wrong bytes.
    WrongBytes,
    /// Never more than the first half.
    CutAtHalf,
}

#[derive(Default)]
struct HttpState {
    media: HashMap<String, (Vec<u8>, Serve)>,
    requests: Vec<(String, Option<String>)>,
    rotation: Option<Vec<u8>>,
    screenshots: Vec<(HeaderMap, Vec<u8>)>,
}

type Shared = Arc<Mutex<HttpState>>;

async fn media_handler(
    State(state): State<Shared>,
    UrlPath(sha): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let range = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut s = state.lock().unwrap();
    s.requests.push((sha.clone(), range.clone()));
    let Some((bytes, serve)) = s.media.get(&sha).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let offset: usize = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
        .min(bytes.len());
    let body: Vec<u8> = match serve {
        Serve::Correct => bytes[offset..].to_vec(),
        Serve::WrongBytes => bytes[offset..].iter().map(|b| b ^ 0x5A).collect(),
        Serve::CutAtHalf => bytes[offset.min(bytes.len() / 2)..bytes.len() / 2].to_vec(),
    };
    let status = if offset > 0 {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    (status, [("etag", sha)], body).into_response()
}

async fn rotation_handler(State(state): State<Shared>) -> Response {
    match state.lock().unwrap().rotation.clone() {
        Some(bytes) => bytes.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn screenshot_handler(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    state
        .lock()
        .unwrap()
        .screenshots
        .push((headers, body.to_vec()));
    StatusCode::CREATED
}

async fn start_http(state: Shared) -> String {
    let app = axum::Router::new()
        .route("/media/{sha}", get(media_handler))
        .route("/api/v1/screens/{id}/rotation", get(rotation_handler))
        .route("/api/v1/screens/{id}/screenshots", post(screenshot_handler))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

/// What the fake server saw on the broker.
#[derive(Default)]
struct Seen {
    states: Vec<AgentState>,
    batches: Vec<PlayBatch>,
}

/// The server's MQTT client: reads state and plays, acks batches when told.
struct ServerClient {
    client: AsyncClient,
    seen: Arc<Mutex<Seen>>,
}

async fn start_server_client(port: u16, auto_ack: bool) -> ServerClient {
    let mut options = MqttOptions::new(format!("test-server-{port}"), "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(5));
    options.set_max_packet_size(1024 * 1024, 1024 * 1024);
    let (client, mut eventloop) = AsyncClient::new(options, 100);
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let device = TrustedKey::new(device_key().verifying_key());
    let (ready_tx, ready_rx) = oneshot::channel();
    let mut ready_tx = Some(ready_tx);
    let acker = client.clone();
    let seen_in_task = seen.clone();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let Some(topic) = Topic::parse(&p.topic) else {
                        continue;
                    };
                    match topic.kind {
                        TopicKind::State => {
                            let state: AgentState = v1::open(&p.payload, &device)
                                .expect("state is signed by the device");
                            seen_in_task.lock().unwrap().states.push(state);
                        }
                        TopicKind::Plays => {
                            let batch: PlayBatch = v1::open(&p.payload, &device)
                                .expect("plays are signed by the device");
                            let ack = Ack {
                                screen_id: batch.screen_id.clone(),
                                boot_id: batch.boot_id.clone(),
                                upto_seq: batch.last_seq,
                            };
                            seen_in_task.lock().unwrap().batches.push(batch);
                            if auto_ack {
                                let _ = acker
                                    .publish(
                                        Topic::name(&screen(), TopicKind::Ack),
                                        QoS::AtLeastOnce,
                                        false,
                                        v1::seal(&ack, &server_key()),
                                    )
                                    .await;
                            }
                        }
                        _ => {}
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    for kind in [TopicKind::State, TopicKind::Plays] {
        client
            .subscribe(Topic::name(&screen(), kind), QoS::AtLeastOnce)
            .await
            .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(5), ready_rx)
        .await
        .expect("server client subscribed")
        .unwrap();
    ServerClient { client, seen }
}

impl ServerClient {
    async fn publish(&self, kind: TopicKind, payload: Vec<u8>) {
        self.client
            .publish(
                Topic::name(&screen(), kind),
                QoS::AtLeastOnce,
                kind.retained(),
                payload,
            )
            .await
            .unwrap();
    }

    fn latest_state(&self) -> Option<AgentState> {
        self.seen.lock().unwrap().states.last().cloned()
    }
}

fn png(color: [u8; 3]) -> Vec<u8> {
    ledcast_agent::display::encode_png(&RgbImage::from_pixel(352, 80, image::Rgb(color))).unwrap()
}

fn media_ref(bytes: &[u8]) -> MediaRef {
    MediaRef {
        sha256: Sha256(sha2::Sha256::digest(bytes).into()),
        size_bytes: bytes.len() as u64,
        mime: "image/png".into(),
        width: 352,
        height: 80,
    }
}

fn rotation(version: u64, screen_id: ScreenId, media: &[&[u8]], slot_ms: u64) -> Rotation {
    let now = wall_now();
    let refs: Vec<MediaRef> = media.iter().map(|b| media_ref(b)).collect();
    Rotation {
        screen_id,
        version,
        issued_at: now.plus_ms(-1000),
        expires_at: now.plus_ms(24 * 3_600_000),
        timezone: "Asia/Shanghai".into(),
        blocks: vec![Block {
            from: now.plus_ms(-60_000),
            until: now.plus_ms(3_600_000),
            priority: 0,
            slots: refs
                .iter()
                .enumerate()
                .map(|(i, m)| Slot {
                    media: m.sha256,
                    duration_ms: slot_ms,
                    kind: SlotKind::Still,
                    material_id: format!("poster-{i}"),
                    is_warning: true,
                })
                .collect(),
        }],
        fallback: vec![],
        media: refs,
    }
}

fn enroll(data_dir: &Path, broker_port: u16, http: &str) {
    let server = TrustedKey::new(server_key().verifying_key());
    let identity = Identity {
        server_url: http.to_owned(),
        enrollment: EnrollResponse {
            screen_id: screen(),
            broker_url: format!("mqtt://127.0.0.1:{broker_port}"),
            broker_username: "device".into(),
            broker_password: "secret".into(),
            server_key_id: server.key_id.clone(),
            server_public_key_hex: server.public_key_hex(),
            media_base_url: http.to_owned(),
        },
    };
    identity::store(data_dir, &identity, &device_key()).unwrap();
}

fn config(data_dir: &Path) -> AgentConfig {
    let mut c = AgentConfig::for_data_dir(data_dir);
    c.display.sink = SinkKind::Png;
    c.display.max_fps = 5;
    c.mqtt.keep_alive_seconds = 5;
    c.mqtt.backoff_initial_ms = 100;
    c.mqtt.backoff_max_ms = 500;
    c.http.retry_initial_ms = 50;
    c.http.retry_max_ms = 200;
    c.plays.flush_interval_ms = 100;
    c.plays.ack_timeout_seconds = 1;
    c.journal.segment_records = 5;
    c
}

async fn wait_for(what: &str, timeout_ms: u64, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn frame_pixel(path: &Path) -> Option<[u8; 3]> {
    let bytes = std::fs::read(path).ok()?;
    let img = image::load_from_memory(&bytes).ok()?.to_rgb8();
    Some(img.get_pixel(0, 0).0)
}

fn segment_files(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join("journal"))
        .map(|d| d.count())
        .unwrap_or(0)
}

struct Agent {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn start_agent(config: AgentConfig) -> Agent {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(ledcast_agent::run(config, async {
        let _ = stopped.await;
    }));
    Agent { stop, task }
}

impl Agent {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("agent stops within 5 s")
            .unwrap()
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plays_a_signed_rotation_reports_every_play_and_ignores_forgeries() {
    let port = start_broker();
    let http_state: Shared = Arc::default();
    let http = start_http(http_state.clone()).await;
    let blue = png(BLUE);
    let green = png(GREEN);
    for bytes in [&blue, &green] {
        let m = media_ref(bytes);
        http_state
            .lock()
            .unwrap()
            .media
            .insert(m.sha256.to_hex(), (bytes.clone(), Serve::Correct));
    }
    let server = start_server_client(port, true).await;
    let good = rotation(1, screen(), &[&blue, &green], 300);
    server
        .publish(TopicKind::Rotation, v1::seal(&good, &server_key()))
        .await;

    let dir = tempfile::tempdir().unwrap();
    enroll(dir.path(), port, &http);
    let config = config(dir.path());
    let frame_path: PathBuf = config.png_path();
    let agent = start_agent(config);

    // Receives, downloads, switches.
    wait_for("rotation 1 in state", 10_000, || {
        server
            .latest_state()
            .is_some_and(|s| s.rotation_version == Some(1) && !s.stale)
    })
    .await;
    wait_for(
        "a poster on screen",
        5_000,
        || matches!(frame_pixel(&frame_path), Some(p) if p == BLUE || p == GREEN),
    )
    .await;
    assert!(dir.path().join("state/rotation-current.env").exists());

    // Plays, journals, publishes signed batches; the acks delete the journal.
    wait_for("20 acknowledged plays", 15_000, || {
        let seen = server.seen.lock().unwrap();
        seen.batches.iter().map(|b| b.records.len()).sum::<usize>() >= 20
    })
    .await;
    {
        let seen = server.seen.lock().unwrap();
        let mut seqs: Vec<u64> = seen
            .batches
            .iter()
            .flat_map(|b| b.records.iter().map(|r| r.seq))
            .collect();
        let sent = seqs.len();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.first(), Some(&1));
        assert_eq!(*seqs.last().unwrap() as usize, seqs.len(), "no gap in seq");
        assert!(
            sent - seqs.len() <= 5,
            "few resends while acks flow: {sent} vs {}",
            seqs.len()
        );
        let posters = seen
            .batches
            .iter()
            .flat_map(|b| b.records.iter())
            .filter(|r| r.rotation_version == Some(1))
            .count();
        assert!(posters >= 15, "{posters}");
        assert!(seen
            .batches
            .iter()
            .flat_map(|b| b.records.iter())
            .all(|r| { r.ended_at.is_some_and(|e| e >= r.started_at) }));
    }
    // 5 records per segment: ≥ 20 plays made ≥ 4 segments; acked ones are gone.
    wait_for("acked segments deleted", 5_000, || {
        segment_files(dir.path()) <= 2
    })
    .await;

    // A forged, a replayed and an other-screen rotation change nothing.
    let attacker = SigningKey::from_bytes(&[66; 32]);
    let white = png([255, 255, 255]);
    let forged = rotation(2, screen(), &[&white], 300);
    server
        .publish(TopicKind::Rotation, v1::seal(&forged, &attacker))
        .await;
    let other = rotation(3, ScreenId::new("branch-2-door").unwrap(), &[&white], 300);
    server
        .publish(TopicKind::Rotation, v1::seal(&other, &server_key()))
        .await;
    server
        .publish(TopicKind::Rotation, v1::seal(&good, &server_key()))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let white_sha = media_ref(&white).sha256.to_hex();
    assert!(
        !http_state
            .lock()
            .unwrap()
            .requests
            .iter()
            .any(|(sha, _)| *sha == white_sha),
        "forged media never fetched"
    );
    let state = server.latest_state().unwrap();
    assert_eq!(state.rotation_version, Some(1));
    assert_eq!(state.pending_version, None);
    assert!(matches!(frame_pixel(&frame_path), Some(p) if p == BLUE || p == GREEN));

    // A signed screenshot command uploads the frame on screen, signed.
    let command = Command {
        screen_id: screen(),
        command_id: "shot-1".into(),
        issued_at: wall_now(),
        expires_at: wall_now().plus_ms(60_000),
        action: CommandAction::Screenshot,
    };
    server
        .publish(TopicKind::Command, v1::seal(&command, &server_key()))
        .await;
    wait_for("a screenshot upload", 5_000, || {
        !http_state.lock().unwrap().screenshots.is_empty()
    })
    .await;
    {
        let s = http_state.lock().unwrap();
        let (headers, body) = &s.screenshots[0];
        let at: i64 = headers[v1::HEADER_TIMESTAMP]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let digest = Sha256(sha2::Sha256::digest(body).into());
        assert!(v1::verify_upload(
            &TrustedKey::new(device_key().verifying_key()),
            &screen(),
            Timestamp(at),
            &digest,
            headers[v1::HEADER_SIGNATURE].to_str().unwrap(),
        ));
        let shot = image::load_from_memory(body).unwrap().to_rgb8();
        assert_eq!((shot.width(), shot.height()), (352, 80));
    }

    // Shutdown: offline is published (retained) and the run ends cleanly.
    agent.stop().await;
    wait_for("offline state", 3_000, || {
        server
            .latest_state()
            .is_some_and(|s| s.status == Presence::Offline)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_bytes_never_enter_the_cache_and_the_screen_keeps_playing() {
    let port = start_broker();
    let http_state: Shared = Arc::default();
    let http = start_http(http_state.clone()).await;
    // Big enough that half of it is a meaningful partial download.
    let blue = png(BLUE);
    let mut noise = RgbImage::new(352, 80);
    for (i, p) in noise.pixels_mut().enumerate() {
        *p = image::Rgb([(i * 7) as u8, (i * 13) as u8, (i * 29) as u8]);
    }
    let green = ledcast_agent::display::encode_png(&noise).unwrap();
    let (blue_ref, green_ref) = (media_ref(&blue), media_ref(&green));
    {
        let mut s = http_state.lock().unwrap();
        s.media
            .insert(blue_ref.sha256.to_hex(), (blue.clone(), Serve::WrongBytes));
        s.media
            .insert(green_ref.sha256.to_hex(), (green.clone(), Serve::CutAtHalf));
    }
    let server = start_server_client(port, true).await;
    let r = rotation(1, screen(), &[&blue, &green], 500);
    server
        .publish(TopicKind::Rotation, v1::seal(&r, &server_key()))
        .await;

    let dir = tempfile::tempdir().unwrap();
    enroll(dir.path(), port, &http);
    let config = config(dir.path());
    let frame_path = config.png_path();
    let cache_media = config.cache_dir().join("media");
    let agent = start_agent(config);

    wait_for("rotation pending", 10_000, || {
        server
            .latest_state()
            .is_some_and(|s| s.pending_version == Some(1))
    })
    .await;
    // Several retries of both downloads happen; none enters the cache.
    wait_for("retries", 5_000, || {
        let s = http_state.lock().unwrap();
        s.requests
            .iter()
            .filter(|(sha, _)| *sha == blue_ref.sha256.to_hex())
            .count()
            >= 3
    })
    .await;
    assert!(!cache_media.join(blue_ref.sha256.to_hex()).exists());
    assert!(!cache_media.join(green_ref.sha256.to_hex()).exists());
    let state = server.latest_state().unwrap();
    assert_eq!(state.rotation_version, None);
    assert!(state.stale);
    assert!(state.last_error.is_some());
    // The built-in warning is on screen meanwhile (red text on black).
    let frame = image::load_from_memory(&std::fs::read(&frame_path).unwrap())
        .unwrap()
        .to_rgb8();
    assert!(frame.pixels().any(|p| p.0 == [255, 0, 0]));

    // The server is fixed: the cut download resumes from where it stopped.
    {
        let mut s = http_state.lock().unwrap();
        for entry in s.media.values_mut() {
            entry.1 = Serve::Correct;
        }
    }
    wait_for("rotation 1 playing", 10_000, || {
        server
            .latest_state()
            .is_some_and(|s| s.rotation_version == Some(1))
    })
    .await;
    let half = green.len() / 2;
    assert!(http_state
        .lock()
        .unwrap()
        .requests
        .iter()
        .any(|(sha, range)| *sha == green_ref.sha256.to_hex()
            && range.as_deref() == Some(format!("bytes={half}-").as_str())));
    assert_eq!(
        std::fs::read(cache_media.join(green_ref.sha256.to_hex())).unwrap(),
        green
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_broker_the_rotation_is_polled_over_http() {
    let http_state: Shared = Arc::default();
    let http = start_http(http_state.clone()).await;
    let blue = png(BLUE);
    let m = media_ref(&blue);
    let r = rotation(7, screen(), &[&blue], 60_000);
    {
        let mut s = http_state.lock().unwrap();
        s.media
            .insert(m.sha256.to_hex(), (blue.clone(), Serve::Correct));
        s.rotation = Some(v1::seal(&r, &server_key()));
    }
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on this port.
    enroll(dir.path(), free_port(), &http);
    let mut config = config(dir.path());
    config.mqtt.rotation_poll_after_seconds = 0;
    config.mqtt.rotation_poll_interval_seconds = 1;
    let frame_path = config.png_path();
    let agent = start_agent(config);
    wait_for("the polled rotation on screen", 10_000, || {
        frame_pixel(&frame_path) == Some(BLUE)
    })
    .await;
    agent.stop().await;
    // The journal kept the records for when the broker is back.
    let journal = ledcast_agent::journal::Journal::open(
        &dir.path().join("journal"),
        ledcast_protocol::v1::BootId::new("later").unwrap(),
        ledcast_agent::journal::JournalLimits {
            max_bytes: 1 << 20,
            alarm_percent: 80,
            segment_records: 5,
        },
    )
    .unwrap();
    let batch = journal.next_batch(100, None).unwrap().unwrap();
    assert!(batch.records.iter().any(|r| r.rotation_version == Some(7)));
}
