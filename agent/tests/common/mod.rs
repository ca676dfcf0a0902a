#![allow(dead_code, unused_imports)]
//! Shared test fixtures for the driver against real components: an in-process rumqttd broker on a
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

pub const BLUE: [u8; 3] = [0, 0, 255];
pub const GREEN: [u8; 3] = [0, 255, 0];

pub fn server_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

pub fn device_key() -> SigningKey {
    SigningKey::from_bytes(&[43; 32])
}

pub fn screen() -> ScreenId {
    ScreenId::new("branch-1-door").unwrap()
}

#[allow(clippy::disallowed_methods)]
pub fn wall_now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    )
}

/// A loopback port nothing listens on, never the same one twice in this
/// process: two tests that each start a broker in parallel could otherwise
/// be handed the same released port, and then one broker fails to bind and
/// both tests' clients (same client id) talk to the other one.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return port;
        }
    }
}

/// Starts rumqttd on a free loopback port (in its own threads).
pub fn start_broker() -> u16 {
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
pub enum Serve {
    Correct,
    /// Same length, wrong bytes.
    WrongBytes,
    /// Never more than the first half.
    CutAtHalf,
}

#[derive(Default)]
pub struct HttpState {
    pub media: HashMap<String, (Vec<u8>, Serve)>,
    pub requests: Vec<(String, Option<String>)>,
    pub rotation: Option<Vec<u8>>,
    pub screenshots: Vec<(HeaderMap, Vec<u8>)>,
}

pub type Shared = Arc<Mutex<HttpState>>;

pub async fn media_handler(
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

pub async fn rotation_handler(State(state): State<Shared>) -> Response {
    match state.lock().unwrap().rotation.clone() {
        Some(bytes) => bytes.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub async fn screenshot_handler(
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

pub async fn start_http(state: Shared) -> String {
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
pub struct Seen {
    pub states: Vec<AgentState>,
    pub batches: Vec<PlayBatch>,
}

/// The server's MQTT client: reads state and plays, acks batches when told.
pub struct ServerClient {
    pub client: AsyncClient,
    pub seen: Arc<Mutex<Seen>>,
}

pub async fn start_server_client(port: u16, auto_ack: bool) -> ServerClient {
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
                                refused: vec![],
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
    pub async fn publish(&self, kind: TopicKind, payload: Vec<u8>) {
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

    pub fn latest_state(&self) -> Option<AgentState> {
        self.seen.lock().unwrap().states.last().cloned()
    }
}

pub fn png(color: [u8; 3]) -> Vec<u8> {
    ledcast_agent::display::encode_png(&RgbImage::from_pixel(352, 80, image::Rgb(color))).unwrap()
}

pub fn media_ref(bytes: &[u8]) -> MediaRef {
    MediaRef {
        sha256: Sha256(sha2::Sha256::digest(bytes).into()),
        size_bytes: bytes.len() as u64,
        mime: "image/png".into(),
        width: 352,
        height: 80,
    }
}

pub fn rotation(version: u64, screen_id: ScreenId, media: &[&[u8]], slot_ms: u64) -> Rotation {
    let now = wall_now();
    let refs: Vec<MediaRef> = media.iter().map(|b| media_ref(b)).collect();
    Rotation {
        screen_id,
        version,
        issued_at: now.plus_ms(-1000),
        expires_at: now.plus_ms(24 * 3_600_000),
        timezone: "Asia/Shanghai".into(),
        brightness: vec![],
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

pub fn enroll(data_dir: &Path, broker_port: u16, http: &str) {
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

pub fn config(data_dir: &Path) -> AgentConfig {
    let mut c = AgentConfig::for_data_dir(data_dir);
    c.display.sink = SinkKind::Png;
    c.display.max_fps = 5;
    c.mqtt.keep_alive_seconds = 5;
    c.mqtt.backoff_initial_ms = 100;
    c.mqtt.backoff_max_ms = 500;
    c.http.retry_initial_ms = 50;
    c.http.retry_max_ms = 200;
    c.plays.flush_interval_ms = 100;
    c.plays.ack_timeout_seconds = 3;
    c.journal.segment_records = 5;
    c
}

pub async fn wait_for(what: &str, timeout_ms: u64, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn frame_pixel(path: &Path) -> Option<[u8; 3]> {
    let bytes = std::fs::read(path).ok()?;
    let img = image::load_from_memory(&bytes).ok()?.to_rgb8();
    Some(img.get_pixel(0, 0).0)
}

pub fn segment_files(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join("journal"))
        .map(|d| d.count())
        .unwrap_or(0)
}

pub struct Agent {
    pub stop: oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub fn start_agent(config: AgentConfig) -> Agent {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(ledcast_agent::run(config, async {
        let _ = stopped.await;
    }));
    Agent { stop, task }
}

impl Agent {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("agent stops within 5 s")
            .unwrap()
            .unwrap();
    }
}
