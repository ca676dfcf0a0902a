//! Fault tests of the real `ledcast-agent` binary against the real server,
//! across processes: the server (SQLite, embedded broker or a Mosquitto
//! process) runs in this test process, the agent is a child process.
//!
//! - The broker goes away for a while and comes back: playback never stops
//!   and every play record reaches the server's store, with no gap in `seq`.
//! - Media downloads cut at a random byte, with wrong bytes, or as an endless
//!   body: nothing unverified enters the cache or the screen; the built-in
//!   warnings keep playing; once the server is fixed the rotation plays.
//! - The wall clock set back a year (libfaketime): an older signed rotation
//!   is refused and the play records are flagged `clock_suspect`.
//!
//! Each runs a few seconds; `LEDCAST_FAULT_CYCLES=N` repeats the faults N
//! times. The broker test uses a `mosquitto` process on a free port when the
//! binary exists (and fails when `LEDCAST_TEST_MQTT` is set without it);
//! otherwise (or with `LEDCAST_FAULT_BROKER=embedded`) it cuts the agent off
//! the embedded broker with a TCP relay.
//! The clock test needs libfaketime (Debian package `faketime`); it skips
//! without it unless `LEDCAST_TEST_FAKETIME` is set.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledcast_protocol::v1::{self, PlayRecord, Rotation, ScreenId, Timestamp, Topic, TopicKind};
use ledcast_server::auth;
use ledcast_server::demo::{self, Demo, DemoArgs};
use ledcast_server::store::ScreenPresence;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

const SCREEN: &str = "fault-door";
const DAY_MS: i64 = 86_400_000;

fn cycles() -> u32 {
    std::env::var("LEDCAST_FAULT_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// Progress on stderr (shown for a failing test), with seconds since the first call.
fn step(what: &str) {
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(wall_ms);
    eprintln!("[{:>6.1} s] {what}", (wall_ms() - start) as f64 / 1000.0);
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[allow(clippy::disallowed_methods)]
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The newest modification time of the files under `dirs`.
fn newest_source(dirs: &[PathBuf]) -> std::time::SystemTime {
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else if let Ok(modified) = meta.modified() {
            newest = newest.max(modified);
        }
    }
    newest
}

/// The real agent binary next to this test's profile directory, built
/// first when it is missing or older than its sources: `cargo test -p
/// ledcast-tests` does not build another package's binaries, and
/// `CARGO_BIN_EXE_*` only names this package's. (`cargo test --workspace`
/// builds it before the tests run.)
fn agent_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
            let binary = profile_dir.join("ledcast-agent");
            let root = repo_root();
            let sources = newest_source(&[
                root.join("agent/src"),
                root.join("agent/Cargo.toml"),
                root.join("protocol/src"),
                root.join("mqtt/src"),
                root.join("Cargo.lock"),
            ]);
            let fresh = std::fs::metadata(&binary)
                .and_then(|m| m.modified())
                .is_ok_and(|built| built >= sources);
            if !fresh {
                let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                    Some("debug") | None => "dev".to_owned(),
                    Some(other) => other.to_owned(),
                };
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                // Selecting this package too keeps the feature set (and so
                // the dependencies already built for this test) unchanged.
                let status = Command::new(cargo)
                    .args([
                        "build",
                        "--quiet",
                        "-p",
                        "ledcast-tests",
                        "-p",
                        "ledcast-agent",
                    ])
                    .args(["--bin", "ledcast-agent", "--profile", &profile])
                    .current_dir(&root)
                    .status()
                    .expect("running cargo to build ledcast-agent");
                assert!(status.success(), "building ledcast-agent failed");
            }
            assert!(binary.exists(), "{} missing", binary.display());
            binary
        })
        .clone()
}

/// A one-screen site with `slot_s` second slots, made from the demo's materials.
fn write_site(dir: &Path, slot_s: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let files = [
        (
            "profiles.toml",
            r#"[[profiles]]
id = "door-strip-352x80"
width = 352
height = 80
color = "mono"
video = false
scroll = true
still = true
"#,
        ),
        (
            "materials.toml",
            r#"[[materials]]
id = "std-poster-96110"
kind = "poster"
file = "posters/std-96110.png"
title = "96110"
tags = ["standard"]
category = "general"
source = "fault test"
added = 2026-01-05T09:00:00+08:00

[[materials]]
id = "notice-business-hours"
kind = "poster"
file = "posters/notice-business-hours.png"
title = "hours"
category = "notice"
warning = false
added = 2026-09-01T09:00:00+08:00
"#,
        ),
        (
            "sites.toml",
            r#"[[sites]]
id = "fault-site"
name = "fault site"
organisation = "fault test"
opening_hours = { "mon-sun" = "08:30-17:00" }

[[screens]]
id = "fault-door"
name = "fault door"
site = "fault-site"
profile = "door-strip-352x80"
tags = ["bank-door"]
"#,
        ),
        (
            "playlists.toml",
            r#"[[playlists]]
id = "fast"
name = "fast"
items = [
  { material = "std-poster-96110", seconds = SLOT },
  { material = "notice-business-hours", seconds = SLOT },
]

[[playlists]]
id = "fast-warnings"
name = "fast warnings"
items = [
  { material = "std-poster-96110", seconds = SLOT },
]
"#,
        ),
        (
            "settings.toml",
            r#"[settings]
timezone = "Asia/Shanghai"
default_playlist = "fast"
warning_playlist = "fast-warnings"
still_seconds = SLOT
scroll_px_per_second = 32
"#,
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text.replace("SLOT", &slot_s.to_string())).unwrap();
    }
}

/// The real server on SQLite with the one-screen site.
struct Server {
    demo: Demo,
    stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(broker_url: Option<String>) -> Server {
        Server::start_with_slots(broker_url, 1).await
    }

    async fn start_with_slots(broker_url: Option<String>, slot_s: u32) -> Server {
        let dir = tempfile::tempdir().unwrap();
        write_site(&dir.path().join("site"), slot_s);
        let (stop, stopped) = oneshot::channel::<()>();
        let demo = demo::start(
            DemoArgs {
                data_dir: Some(dir.path().join("server")),
                playlists: dir.path().join("site"),
                media: repo_root().join("media"),
                no_agents: true,
                broker_url,
                no_history: true,
            },
            async {
                let _ = stopped.await;
            },
        )
        .await
        .expect("the server starts");
        step("server started");
        Server {
            demo,
            stop,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.demo.running.http_addr)
    }

    fn store(&self) -> &ledcast_server::store::Store {
        &self.demo.running.state.store
    }

    async fn desired_and_reported(&self) -> (Option<u64>, Option<u64>, ScreenPresence) {
        let versions = self.store().screen_versions().await.unwrap();
        let v = versions.iter().find(|v| v.screen_id == SCREEN).unwrap();
        (v.desired_version, v.reported_version, v.status)
    }

    async fn wait_playing_desired(&self, within: Duration, what: &str) -> u64 {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (desired, reported, status) = self.desired_and_reported().await;
            if let Some(version) =
                desired.filter(|_| desired == reported && status == ScreenPresence::Online)
            {
                step(&format!("{what}: playing rotation {}", version));
                return version;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: the agent does not report its desired rotation: desired {desired:?} reported {reported:?} {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn records(&self) -> Vec<PlayRecord> {
        self.store()
            .play_records(SCREEN, i64::MIN, i64::MAX, 1_000_000)
            .await
            .unwrap()
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.demo.wait().await.expect("the server stops cleanly");
    }
}

/// An enrolled agent's data directory and its child process.
struct Agent {
    dir: tempfile::TempDir,
    child: Option<Child>,
    env: Vec<(String, String)>,
}

impl Agent {
    /// Enrolls through the real API with the real binary and writes agent.toml.
    async fn enroll(server: &Server) -> Agent {
        let code = auth::generate_enrollment_code();
        let now = wall_ms();
        server
            .store()
            .create_enrollment_code(
                &auth::token_sha256(&auth::normalise_enrollment_code(&code)),
                SCREEN,
                "fault-test",
                now,
                now + 600_000,
            )
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (binary, url, data) = (agent_binary(), server.url(), dir.path().to_path_buf());
        let output = tokio::task::spawn_blocking(move || {
            Command::new(binary)
                .args(["enroll", "--server", &url, "--code", &code, "--data-dir"])
                .arg(&data)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(
            output.status.success(),
            "enroll failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::write(
            dir.path().join("agent.toml"),
            format!(
                r#"data_dir = "{}"
[mqtt]
keep_alive_seconds = 5
backoff_initial_ms = 100
backoff_max_ms = 500
[http]
retry_initial_ms = 100
retry_max_ms = 500
read_timeout_seconds = 5
[plays]
flush_interval_ms = 200
ack_timeout_seconds = 1
[player]
builtin_slot_seconds = 1
[display]
sink = "png"
width_px = 352
height_px = 80
max_fps = 5
"#,
                dir.path().display()
            ),
        )
        .unwrap();
        step("agent enrolled");
        Agent {
            dir,
            child: None,
            env: Vec::new(),
        }
    }

    /// Rewrites a field of the stored enrollment (to route the agent through a fault injector).
    fn set_enrollment(&self, field: &str, value: &str) {
        let path = ledcast_agent::identity::identity_path(self.dir.path());
        let bytes = ledcast_agent::fsutil::read_checked(&path).unwrap().unwrap();
        let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        json["enrollment"][field] = serde_json::Value::String(value.to_owned());
        ledcast_agent::fsutil::write_checked(
            &path,
            &serde_json::to_vec_pretty(&json).unwrap(),
            0o600,
        )
        .unwrap();
    }

    fn start(&mut self) {
        let mut command = Command::new(agent_binary());
        command
            .args(["run", "--config"])
            .arg(self.dir.path().join("agent.toml"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in &self.env {
            command.env(k, v);
        }
        if self.env.iter().any(|(k, _)| k == "FAKETIME_TIMESTAMP_FILE") {
            // The agent's own fake clock (the file) must not be overridden
            // by the fake clock this test may itself run under.
            command.env_remove("FAKETIME");
        }
        self.child = Some(command.spawn().expect("starting ledcast-agent"));
    }

    /// SIGTERM and wait: the agent ends its record and says offline.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = wall_ms() + 10_000;
            loop {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if deadline < wall_ms() {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("the agent did not stop on SIGTERM within 10 s");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn frame(&self) -> PathBuf {
        self.dir.path().join("frame.png")
    }

    fn cache_media(&self) -> PathBuf {
        self.dir.path().join("cache").join("media")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Samples the PNG sink's frame every 100 ms: (test time, sha256 of the file).
/// Frame changes seen: (test time, sha256 of the PNG).
type Frames = Arc<Mutex<Vec<(i64, [u8; 32])>>>;

fn watch_frames(path: PathBuf) -> (Frames, watch::Sender<bool>) {
    let seen: Frames = Arc::default();
    let (stop, mut stopped) = watch::channel(false);
    let out = seen.clone();
    tokio::spawn(async move {
        loop {
            if let Ok(bytes) = tokio::fs::read(&path).await {
                let hash: [u8; 32] = sha2::Sha256::digest(&bytes).into();
                let mut seen = out.lock().unwrap();
                if seen.last().is_none_or(|(_, h)| *h != hash) {
                    seen.push((wall_ms(), hash));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = stopped.changed() => return,
            }
        }
    });
    (seen, stop)
}

/// Every file in the media cache hashes to its name.
fn assert_cache_verified(dir: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return names;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(entry.path()).unwrap();
        assert_eq!(
            hex_of(&sha2::Sha256::digest(&bytes)),
            name,
            "a cached file does not match its content address"
        );
        names.insert(name);
    }
    names
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seq 1..=max without a gap or a duplicate (one agent run = one boot).
fn assert_no_gap(records: &[PlayRecord], what: &str) {
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    let unique: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), seqs.len(), "{what}: duplicated play records");
    let max = unique.iter().max().copied().unwrap_or(0);
    let missing: Vec<u64> = (1..=max).filter(|s| !unique.contains(s)).collect();
    assert!(missing.is_empty(), "{what}: lost play records {missing:?}");
}

/// Playback never paused longer than `max_gap_ms` between `from` and `until` (agent clock).
fn assert_continuous(records: &[PlayRecord], from: i64, until: i64, max_gap_ms: i64, what: &str) {
    let mut starts: Vec<i64> = records.iter().map(|r| r.started_at.0).collect();
    starts.sort_unstable();
    let inside: Vec<i64> = starts
        .iter()
        .copied()
        .filter(|t| *t >= from - max_gap_ms && *t <= until + max_gap_ms)
        .collect();
    assert!(
        inside.len() >= 2,
        "{what}: playback stopped: {} records around {from}..{until}",
        inside.len()
    );
    let mut edges = vec![from];
    edges.extend(inside.iter().copied().filter(|t| *t > from && *t < until));
    edges.push(until);
    for pair in edges.windows(2) {
        assert!(
            pair[1] - pair[0] <= max_gap_ms,
            "{what}: no play started for {} ms (from {})",
            pair[1] - pair[0],
            pair[0]
        );
    }
}

// ---------------------------------------------------------------- broker ---

/// A Mosquitto process with persistence, restartable on the same port.
struct Mosquitto {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Mosquitto {
    /// `None` when there is no `mosquitto` binary (fails when CI expects one).
    fn find() -> Option<PathBuf> {
        if std::env::var("LEDCAST_FAULT_BROKER").as_deref() == Ok("embedded") {
            return None;
        }
        let candidates = [
            "/usr/sbin/mosquitto",
            "/usr/bin/mosquitto",
            "/usr/local/sbin/mosquitto",
        ];
        let found = candidates.iter().map(PathBuf::from).find(|p| p.exists());
        if found.is_none() {
            assert!(
                std::env::var_os("LEDCAST_TEST_MQTT").is_none(),
                "LEDCAST_TEST_MQTT is set but no mosquitto binary is installed"
            );
        }
        found
    }

    fn new() -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            dir.path().join("mosquitto.conf"),
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nlog_dest none\n",
                dir.path().display()
            ),
        )
        .unwrap();
        Mosquitto {
            dir,
            port,
            child: None,
        }
    }

    fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    async fn start(&mut self, binary: &Path) {
        let child = Command::new(binary)
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting mosquitto");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "mosquitto does not listen"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM (it saves its retained messages) and wait.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP relay to `upstream` that can be cut (every connection dropped,
/// new ones refused) and restored: the agent's view of a broker outage.
async fn relay(upstream: SocketAddr) -> (u16, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (up_tx, up_rx) = watch::channel(true);
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            if !*up_rx.borrow() {
                drop(inbound);
                continue;
            }
            let mut up = up_rx.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = up.wait_for(|up| !*up) => {}
                }
            });
        }
    });
    (port, up_tx)
}

enum Outage {
    Mosquitto(Mosquitto, PathBuf),
    Relay(watch::Sender<bool>),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_playback_never_stops_and_every_record_arrives() {
    let mut mosquitto = match Mosquitto::find() {
        Some(binary) => {
            let mut m = Mosquitto::new();
            m.start(&binary).await;
            Some((m, binary))
        }
        None => None,
    };
    let server = Server::start(mosquitto.as_ref().map(|(m, _)| m.url())).await;
    let mut agent = Agent::enroll(&server).await;
    let mut outage = match mosquitto.take() {
        Some((m, binary)) => Outage::Mosquitto(m, binary),
        None => {
            let broker = server.demo.running.broker_url.clone();
            let addr: SocketAddr = broker.trim_start_matches("mqtt://").parse().unwrap();
            let (port, up) = relay(addr).await;
            agent.set_enrollment("broker_url", &format!("mqtt://127.0.0.1:{port}"));
            Outage::Relay(up)
        }
    };
    let what = match &outage {
        Outage::Mosquitto(..) => "mosquitto stopped and restarted",
        Outage::Relay(_) => "embedded broker cut off by a relay",
    };
    agent.start();
    server
        .wait_playing_desired(Duration::from_secs(60), "before the outage")
        .await;
    let (frames, stop_frames) = watch_frames(agent.frame());

    let mut outages = Vec::new();
    for _ in 0..cycles() {
        let down_at = wall_ms();
        match &mut outage {
            Outage::Mosquitto(m, _) => m.stop(),
            Outage::Relay(up) => {
                up.send_replace(false);
            }
        }
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        let up_at = wall_ms();
        match &mut outage {
            Outage::Mosquitto(m, binary) => {
                let binary = binary.clone();
                m.start(&binary).await
            }
            Outage::Relay(up) => {
                up.send_replace(true);
            }
        }
        outages.push((down_at, up_at));
        // Playback went on while the broker was away: the frame changed.
        let changes = frames
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| *t > down_at && *t < up_at)
            .count();
        assert!(changes >= 1, "{what}: the frame froze during the outage");
        server
            .wait_playing_desired(Duration::from_secs(30), "after the outage")
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Every record played during the outages arrives: wait for the records
    // of the first second after the last outage, then check for gaps.
    let (_, last_up) = *outages.last().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let records = loop {
        let records = server.records().await;
        let done = records
            .iter()
            .any(|r| r.started_at.0 > last_up + 1_000 && r.ended_at.is_some());
        if done {
            break records;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: the records after the outage never arrived ({} stored)",
            records.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = stop_frames.send(true);
    assert_no_gap(&records, what);
    for (down, up) in &outages {
        assert_continuous(&records, *down, *up, 2_500, what);
        let during = records
            .iter()
            .filter(|r| r.started_at.0 >= *down && r.started_at.0 < *up)
            .count();
        assert!(
            during >= 2,
            "{what}: only {during} plays recorded during a 3.5 s outage of 1 s slots"
        );
    }
    agent.stop();
    server.stop().await;
}

// ------------------------------------------------------------- downloads ---

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// The full Content-Length announced, the body cut at a random byte.
    Cut,
    /// The right length, one byte flipped.
    Wrong,
    /// No length, garbage until the client hangs up.
    Endless,
}

struct Front {
    faulty: bool,
    next: usize,
    served: Vec<(Fault, u64)>,
    correct: u32,
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).unwrap();
    u64::from_le_bytes(b) % n.max(1)
}

/// A media front between the agent and the server's `GET /media/{sha256}`:
/// faulty (cycling cut / wrong / endless) or faithful (with Range).
async fn media_front(upstream: String, state: Arc<Mutex<Front>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let (upstream, state) = (upstream.clone(), state.clone());
            tokio::spawn(async move {
                let _ = serve_media(socket, upstream, state).await;
            });
        }
    });
    port
}

async fn serve_media(
    mut socket: TcpStream,
    upstream: String,
    state: Arc<Mutex<Front>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if socket.read(&mut byte).await? == 0 || head.len() > 16_384 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let offset: u64 = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            if !k.eq_ignore_ascii_case("range") {
                return None;
            }
            v.trim()
                .strip_prefix("bytes=")?
                .trim_end_matches('-')
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let url = format!("{upstream}{path}");
    let body = tokio::task::spawn_blocking(move || -> Option<Vec<u8>> {
        let response = ureq::get(&url).call().ok()?;
        let mut body = Vec::new();
        response.into_reader().read_to_end(&mut body).ok()?;
        Some(body)
    })
    .await
    .unwrap();
    let Some(body) = body else {
        socket
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await?;
        return Ok(());
    };
    let fault = {
        let mut s = state.lock().unwrap();
        if s.faulty {
            let f = [Fault::Cut, Fault::Wrong, Fault::Endless][s.next % 3];
            s.next += 1;
            Some(f)
        } else {
            s.correct += 1;
            None
        }
    };
    let offset = offset.min(body.len() as u64) as usize;
    let rest = &body[offset..];
    let status_and_range = if offset > 0 {
        format!(
            "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {offset}-{}/{}\r\n",
            body.len().saturating_sub(1),
            body.len()
        )
    } else {
        "HTTP/1.1 200 OK\r\n".to_owned()
    };
    let mut sent = 0u64;
    match fault {
        None => {
            socket
                .write_all(
                    format!(
                        "{status_and_range}content-length: {}\r\nconnection: close\r\n\r\n",
                        rest.len()
                    )
                    .as_bytes(),
                )
                .await?;
            socket.write_all(rest).await?;
        }
        Some(Fault::Cut) => {
            socket
                .write_all(
                    format!(
                        "{status_and_range}content-length: {}\r\nconnection: close\r\n\r\n",
                        rest.len()
                    )
                    .as_bytes(),
                )
                .await?;
            let cut = random_below(rest.len() as u64) as usize;
            socket.write_all(&rest[..cut]).await?;
            sent = cut as u64;
        }
        Some(Fault::Wrong) => {
            let mut wrong = rest.to_vec();
            if !wrong.is_empty() {
                let at = random_below(wrong.len() as u64) as usize;
                wrong[at] ^= 0x5a;
            }
            socket
                .write_all(
                    format!(
                        "{status_and_range}content-length: {}\r\nconnection: close\r\n\r\n",
                        wrong.len()
                    )
                    .as_bytes(),
                )
                .await?;
            socket.write_all(&wrong).await?;
            sent = wrong.len() as u64;
        }
        Some(Fault::Endless) => {
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
                .await?;
            let chunk = vec![0xA5u8; 16 * 1024];
            // Until the agent hangs up (bounded so a broken agent cannot hang the test).
            while sent < 256 * 1024 * 1024 {
                if socket.write_all(&chunk).await.is_err() {
                    break;
                }
                sent += chunk.len() as u64;
            }
        }
    }
    if let Some(f) = fault {
        state.lock().unwrap().served.push((f, sent));
    }
    let _ = socket.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_downloads_never_reach_the_screen_and_the_screen_keeps_playing() {
    let server = Server::start(None).await;
    let mut agent = Agent::enroll(&server).await;
    let front = Arc::new(Mutex::new(Front {
        faulty: true,
        next: 0,
        served: Vec::new(),
        correct: 0,
    }));
    let port = media_front(server.url(), front.clone()).await;
    agent.set_enrollment("media_base_url", &format!("http://127.0.0.1:{port}"));
    let rotation = server
        .store()
        .latest_rotation(SCREEN)
        .await
        .unwrap()
        .unwrap();
    let key = v1::TrustedKey::new(server.demo.running.state.signing_key.verifying_key());
    let rotation: Rotation = v1::open(&rotation.envelope, &key).unwrap();
    let wanted: BTreeSet<String> = rotation.media.iter().map(|m| m.sha256.to_hex()).collect();
    agent.start();
    let (frames, stop_frames) = watch_frames(agent.frame());

    let faulty_from = wall_ms();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let kinds: BTreeSet<String> = front
            .lock()
            .unwrap()
            .served
            .iter()
            .map(|(f, _)| format!("{f:?}"))
            .collect();
        let served = front.lock().unwrap().served.len();
        if kinds.len() == 3 && served >= 3 * cycles() as usize {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent did not retry its downloads: {kinds:?}"
        );
        // Nothing unverified ever enters the cache.
        let cached = assert_cache_verified(&agent.cache_media());
        assert!(
            cached.is_disjoint(&wanted),
            "media entered the cache through a broken download"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let cached = assert_cache_verified(&agent.cache_media());
    assert!(
        cached.is_disjoint(&wanted),
        "media entered the cache through a broken download"
    );
    let faulty_until = wall_ms();
    let endless_bytes = front
        .lock()
        .unwrap()
        .served
        .iter()
        .filter(|(f, _)| *f == Fault::Endless)
        .map(|(_, n)| *n)
        .max()
        .unwrap();
    step(&format!(
        "broken downloads served: {:?}",
        front.lock().unwrap().served
    ));
    assert!(
        endless_bytes < 64 * 1024 * 1024,
        "the agent kept reading an endless body ({endless_bytes} bytes)"
    );

    // The server is fixed: the rotation plays from verified media.
    front.lock().unwrap().faulty = false;
    server
        .wait_playing_desired(Duration::from_secs(30), "after the fix")
        .await;
    let cached = assert_cache_verified(&agent.cache_media());
    assert!(wanted.is_subset(&cached), "the rotation's media are cached");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let records = loop {
        let records = server.records().await;
        if records
            .iter()
            .any(|r| !r.material_id.starts_with("builtin:") && r.ended_at.is_some())
        {
            break records;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no rotation item played after the fix"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = stop_frames.send(true);
    // While downloads were broken only the built-in warnings played, without a pause.
    let broken: Vec<PlayRecord> = records
        .iter()
        .filter(|r| r.started_at.0 < faulty_until)
        .cloned()
        .collect();
    assert!(
        broken.iter().all(|r| r.material_id.starts_with("builtin:")),
        "something other than a built-in warning played without verified media: {:?}",
        broken.iter().map(|r| &r.material_id).collect::<Vec<_>>()
    );
    let first = broken.iter().map(|r| r.started_at.0).min().unwrap();
    assert_continuous(
        &broken,
        first.max(faulty_from),
        faulty_until,
        2_500,
        "broken downloads",
    );
    let changes = frames
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| *t > faulty_from && *t < faulty_until)
        .count();
    assert!(changes >= 2, "the screen froze while downloads failed");
    assert_no_gap(&records, "broken downloads");
    agent.stop();
    server.stop().await;
}

// ----------------------------------------------------------------- clock ---

/// How far this test process's wall clock is moved by libfaketime
/// (`FAKETIME=+400d` under `tests/run-ahead.sh`), in seconds; 0 when it is not.
fn test_clock_offset_seconds() -> i64 {
    let Ok(spec) = std::env::var("FAKETIME") else {
        return 0;
    };
    let spec = spec.trim();
    let (number, unit) = match spec.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => (&spec[..at], unit),
        _ => (spec, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'y' => 365 * 86_400,
        _ => panic!("FAKETIME={spec:?}: this test understands relative offsets like +400d"),
    };
    let number: i64 = number.trim_start_matches('+').parse().unwrap_or_else(|_| {
        panic!("FAKETIME={spec:?}: this test understands relative offsets like +400d")
    });
    number * scale
}

fn faketime_library() -> Option<PathBuf> {
    let candidates = [
        std::env::var("LEDCAST_FAKETIME_LIB").unwrap_or_default(),
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1".to_owned(),
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1".to_owned(),
        "/usr/lib/faketime/libfaketimeMT.so.1".to_owned(),
    ];
    let found = candidates
        .iter()
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("LEDCAST_TEST_FAKETIME").is_none(),
            "LEDCAST_TEST_FAKETIME is set but libfaketime is not installed (apt-get install faketime)"
        );
        eprintln!("skipping: libfaketime not installed (Debian package `faketime`)");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_set_back_a_year_refuses_older_rotations_and_flags_records() {
    let Some(library) = faketime_library() else {
        return;
    };
    let server = Server::start(None).await;
    let mut agent = Agent::enroll(&server).await;
    let offset_file = agent.dir.path().join("faketime");
    // Offsets are relative to this process's clock, which may itself be
    // moved (tests/run-ahead.sh): the agent starts on the test's time.
    let behind = |days: i64| format!("{:+}s\n", test_clock_offset_seconds() - days * 86_400);
    std::fs::write(&offset_file, behind(0)).unwrap();
    agent.env = vec![
        ("LD_PRELOAD".into(), library.display().to_string()),
        (
            "FAKETIME_TIMESTAMP_FILE".into(),
            offset_file.display().to_string(),
        ),
        ("FAKETIME_NO_CACHE".into(), "1".into()),
        ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
    ];
    agent.start();
    let version = server
        .wait_playing_desired(Duration::from_secs(60), "before the clock step")
        .await;

    for cycle in 0..cycles() {
        // The clock steps back a year while the agent plays.
        std::fs::write(&offset_file, behind(365)).unwrap();
        let stepped_at = wall_ms();
        // An older rotation, validly signed, covering the year-ago instant, arrives.
        let stored = server
            .store()
            .latest_rotation(SCREEN)
            .await
            .unwrap()
            .unwrap();
        let signing_key = &server.demo.running.state.signing_key;
        let key = v1::TrustedKey::new(signing_key.verifying_key());
        let mut old: Rotation = v1::open(&stored.envelope, &key).unwrap();
        let year = 365 * DAY_MS;
        old.version = version.saturating_sub(1);
        old.issued_at = Timestamp(stepped_at - year - 60_000);
        old.expires_at = Timestamp(stepped_at - year + 2 * DAY_MS);
        for block in &mut old.blocks {
            block.from = Timestamp(stepped_at - year - 60_000);
            block.until = Timestamp(stepped_at - year + DAY_MS);
        }
        publish_rotation(&server, &v1::seal(&old, signing_key)).await;
        tokio::time::sleep(Duration::from_millis(3_000)).await;

        let records = server.records().await;
        let stepped: Vec<&PlayRecord> = records
            .iter()
            .filter(|r| r.started_at.0 < stepped_at - 300 * DAY_MS)
            .collect();
        assert!(
            stepped.len() >= 2,
            "cycle {cycle}: the screen kept playing after the clock step ({} records)",
            stepped.len()
        );
        assert!(
            stepped.iter().all(|r| r.clock_suspect),
            "cycle {cycle}: records after the clock step are flagged clock_suspect"
        );
        assert!(
            stepped
                .iter()
                .all(|r| r.rotation_version != Some(old.version)),
            "cycle {cycle}: the older rotation {} played",
            old.version
        );
        let (_, reported, _) = server.desired_and_reported().await;
        assert_ne!(
            reported,
            Some(old.version),
            "the older rotation was accepted"
        );

        // A restart with the clock still a year back: the records of the new
        // run are flagged from the start (the signed rotation on disk
        // proves the clock is behind) and nothing older is accepted.
        agent.stop();
        let restarted_at = wall_ms();
        agent.start();
        tokio::time::sleep(Duration::from_millis(3_000)).await;
        let records = server.records().await;
        let after_restart: Vec<&PlayRecord> = records
            .iter()
            .filter(|r| {
                r.started_at.0 >= restarted_at - year - 1_000
                    && r.started_at.0 < stepped_at - 300 * DAY_MS
            })
            .collect();
        assert!(
            !after_restart.is_empty(),
            "cycle {cycle}: no plays after a restart with the clock a year back"
        );
        assert!(
            after_restart.iter().all(|r| r.clock_suspect),
            "cycle {cycle}: plays after a restart with the clock a year back are flagged"
        );
        assert!(after_restart
            .iter()
            .all(|r| r.rotation_version != Some(old.version)));

        // The clock is right again: the signed rotation plays again.
        std::fs::write(&offset_file, behind(0)).unwrap();
        server
            .wait_playing_desired(Duration::from_secs(30), "after the clock is fixed")
            .await;
    }
    agent.stop();
    server.stop().await;
}

/// Publishes a rotation envelope on the screen's topic (not retained), as the
/// server's broker login.
async fn publish_rotation(server: &Server, envelope: &[u8]) {
    let url = server.demo.running.broker_url.clone();
    let mut options = ledcast_server::push::mqtt_options(&url, "fault-test-replayer").unwrap();
    if let Some((user, password)) = &server.demo.running.embedded_broker_login {
        options.set_credentials(user.clone(), password.clone());
    }
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 10);
    let topic = Topic::name(&ScreenId::new(SCREEN).unwrap(), TopicKind::Rotation);
    client
        .publish(topic, rumqttc::QoS::AtLeastOnce, false, envelope.to_vec())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, eventloop.poll()).await {
            Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)))) => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("publishing the replayed rotation: {e}"),
            Err(_) => panic!("no PUBACK for the replayed rotation"),
        }
    }
    let _ = client.disconnect().await;
}

// ------------------------------------------------------------- last will ---

/// Publishes `payload` retained on the screen's state topic through the
/// broker the server uses (as the server's login on the embedded broker).
async fn publish_state(server: &Server, payload: Vec<u8>) {
    let url = server.demo.running.broker_url.clone();
    let mut options = ledcast_server::push::mqtt_options(&url, "fault-test-late-will").unwrap();
    if let Some((user, password)) = &server.demo.running.embedded_broker_login {
        options.set_credentials(user.clone(), password.clone());
    }
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 10);
    let topic = Topic::name(&ScreenId::new(SCREEN).unwrap(), TopicKind::State);
    client
        .publish(topic, rumqttc::QoS::AtLeastOnce, true, payload)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, eventloop.poll()).await {
            Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)))) => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("publishing the late will: {e}"),
            Err(_) => panic!("no PUBACK for the late will"),
        }
    }
    let _ = client.disconnect().await;
}

async fn wait_status(server: &Server, want: ScreenPresence, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if server.desired_and_reported().await.2 == want {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A Last Will of an earlier connection delivered after the agent is back
/// online (the race of a quick reconnect): the screen must not stay offline.
/// Once with a late will injected deterministically, once with a real quick
/// reconnect (the old TCP connection left half-open at the broker).
async fn late_will_scenario(
    server: Server,
    mut agent: Agent,
    relay: Option<watch::Sender<bool>>,
    what: &str,
) {
    agent.start();
    server
        .wait_playing_desired(Duration::from_secs(60), what)
        .await;
    let loaded = ledcast_agent::identity::load(agent.dir.path()).unwrap();
    // Past the agent's timed republish after a connect (1.5 x keep-alive + 2 s):
    // only watching its own state topic can heal the will below.
    tokio::time::sleep(Duration::from_secs(10)).await;
    for cycle in 0..cycles() {
        // The broker hands out the old connection's will now.
        let will = v1::AgentState {
            screen_id: loaded.screen_id.clone(),
            boot_id: v1::BootId::new("0123456789abcdef0123456789abcdef").unwrap(),
            status: v1::Presence::Offline,
            reported_at: Timestamp(wall_ms() - 60_000),
            rotation_version: None,
            pending_version: None,
            now_playing: None,
            stale: false,
            cache: Default::default(),
            journal_pending: 0,
            journal_alarm: false,
            last_error: Some("connection lost".to_owned()),
            warnings: Vec::new(),
            agent_version: "test".to_owned(),
            bridge: None,
            connected_at: None,
            clock_suspect: false,
            display_missing: false,
        };
        let published_at = wall_ms();
        publish_state(&server, v1::seal(&will, &loaded.device_key)).await;
        // The server took the will (status changed after it was published)
        // and the agent put the screen back online.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        loop {
            let row = server.store().screen_state(SCREEN).await.unwrap().unwrap();
            if row.status == ScreenPresence::Online && row.status_since >= published_at {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what} cycle {cycle}: after a late Last Will the screen is {:?} since {} (will at {published_at})",
                row.status,
                row.status_since
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(
            server.desired_and_reported().await.2,
            ScreenPresence::Online,
            "{what}: stays online"
        );
    }
    if let Some(up) = relay {
        // A real quick reconnect: the agent's side drops, the broker's side
        // of the old connection stays open until its keep-alive check.
        for _ in 0..cycles() {
            up.send_replace(false);
            tokio::time::sleep(Duration::from_millis(300)).await;
            up.send_replace(true);
            // keep-alive 5 s: the broker gives up on the old connection within 7.5 s.
            tokio::time::sleep(Duration::from_secs(9)).await;
            assert!(
                wait_status(&server, ScreenPresence::Online, Duration::from_secs(5)).await,
                "{what}: online after a quick reconnect"
            );
        }
    }
    agent.stop();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_last_will_never_leaves_an_online_screen_offline() {
    // 60 s slots: the agent's own state publications (after each ack of a
    // play record) would otherwise hide a late will within a second.
    // Embedded broker, through a relay that can drop the agent's side only.
    let server = Server::start_with_slots(None, 60).await;
    let agent = Agent::enroll(&server).await;
    let broker = server.demo.running.broker_url.clone();
    let addr: SocketAddr = broker.trim_start_matches("mqtt://").parse().unwrap();
    let (port, up) = half_open_relay(addr).await;
    agent.set_enrollment("broker_url", &format!("mqtt://127.0.0.1:{port}"));
    late_will_scenario(server, agent, Some(up), "embedded broker").await;

    if let Some(binary) = Mosquitto::find() {
        let mut mosquitto = Mosquitto::new();
        mosquitto.start(&binary).await;
        let server = Server::start_with_slots(Some(mosquitto.url()), 60).await;
        let agent = Agent::enroll(&server).await;
        late_will_scenario(server, agent, None, "mosquitto").await;
        mosquitto.stop();
    }
}

/// Like [`relay`], but a cut closes only the agent's side: the upstream
/// sockets stay open (a half-open connection the broker has not noticed).
async fn half_open_relay(upstream: SocketAddr) -> (u16, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (up_tx, up_rx) = watch::channel(true);
    tokio::spawn(async move {
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let mut up = up_rx.clone();
            let held = held.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                    return;
                };
                let cut = {
                    let (mut ri, mut wi) = inbound.split();
                    let (mut ro, mut wo) = outbound.split();
                    tokio::select! {
                        _ = tokio::io::copy(&mut ri, &mut wo) => false,
                        _ = tokio::io::copy(&mut ro, &mut wi) => false,
                        _ = up.wait_for(|up| !*up) => true,
                    }
                };
                drop(inbound);
                if cut {
                    // Keep the broker's side open, silent.
                    held.lock().unwrap().push(outbound);
                }
            });
        }
    });
    (port, up_tx)
}
