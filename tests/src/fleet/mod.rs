//! The fleet simulator and performance bench (`--bin fleet`, and the N = 50
//! smoke test in `tests/fleet_smoke.rs`).
//!
//! One process runs a real server (SQLite or PostgreSQL; the embedded
//! broker or Mosquitto), creates N screens through `POST /api/v1/apply`,
//! enrolls N simulated screens ([`ledcast_agent::sim`]: the agent's player,
//! MQTT task and HTTP link with a null display and an in-memory cache)
//! through `POST /api/v1/enroll`, and times one scenario. Each scenario
//! returns an [`Outcome`] whose `line` is the summary printed last.

pub mod floor;
pub mod proxy;
pub mod replicas;
pub mod site;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ledcast_agent::sim::{self, MediaPool, SimCommand, SimEvent, SimReport};
use ledcast_server::config::Config;
use ledcast_server::service::Running;
use tokio::sync::{mpsc, watch};

/// The bench's one clock read.
#[allow(clippy::disallowed_methods)]
pub fn clock() -> Instant {
    Instant::now()
}

/// Which scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// A schedule change reaching every screen.
    Fanout,
    /// An urgent alert shown on every screen.
    Alert,
    /// Broker killed and restarted with every screen connected.
    Storm,
    /// Every screen sends `records` play records.
    Ingest,
}

/// What to run.
#[derive(Clone, Debug, clap::Parser)]
#[command(about = "ledcast fleet simulator and performance bench (see bench/README.md)")]
pub struct Args {
    /// fanout, alert, storm or ingest.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// How many simulated screens.
    #[arg(long, default_value_t = 1000)]
    pub agents: usize,
    /// External broker (e.g. mqtt://127.0.0.1:1883); default the embedded one.
    /// For `storm` any value means "Mosquitto": the bench starts its own
    /// `mosquitto` on a free port so it can kill it.
    #[arg(long)]
    pub broker: Option<String>,
    /// Database (e.g. postgres://postgres@127.0.0.1:5432/test; a fresh
    /// schema is created and dropped); default SQLite in a temp dir.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Play records per screen (ingest).
    #[arg(long, default_value_t = 100)]
    pub records: u64,
    /// New broker connections per second while the fleet starts (rumqttd,
    /// the embedded broker before rmqtt, accepted about 470/s); default 400
    /// embedded, 2000 Mosquitto.
    #[arg(long)]
    pub connect_rate: Option<u32>,
    /// How long the broker stays down in `storm`, in ms.
    #[arg(long, default_value_t = 3000)]
    pub down_ms: u64,
    /// Skip the floor measurement (fanout, alert).
    #[arg(long)]
    pub no_floor: bool,
    /// Repeat the change this many times on the same fleet (fanout: the
    /// schedule switches playlist back and forth; alert: each alert is ended
    /// and the fleet back in sync before the next). Each round prints a
    /// `round` line; the summary gives the median round.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// The fleet binary, run as the storm relay's child process (storm on
    /// the embedded broker); the running executable when `None`.
    #[arg(skip)]
    pub relay_exe: Option<std::path::PathBuf>,
    /// Server replicas on one PostgreSQL schema and broker (1 or 2; 2
    /// needs --database-url and --broker). Replica B is a child process:
    /// build `ledcast-server` in release first (bench/replicas.sh does).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// Put haproxy in front of the replicas; agents and the API use it.
    #[arg(long)]
    pub balancer: bool,
    /// Alert: send the alert to replica B and SIGKILL B as soon as it
    /// answers (needs --replicas 2 --balancer).
    #[arg(long)]
    pub kill_replica: bool,
}

impl Args {
    /// Defaults for a scenario at `agents` screens (the smoke test).
    pub fn new(scenario: Scenario, agents: usize) -> Args {
        Args {
            scenario,
            agents,
            broker: None,
            database_url: None,
            records: 100,
            connect_rate: None,
            down_ms: 3000,
            no_floor: false,
            rounds: 1,
            relay_exe: None,
            replicas: 1,
            balancer: false,
            kill_replica: false,
        }
    }
}

/// What a run found.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The summary line.
    pub line: String,
    /// Lines printed before it (set-up, floor, details).
    pub details: Vec<String>,
    /// Every screen reached the expected state.
    pub all_synced: bool,
    /// Screens that did not.
    pub lagging: Vec<String>,
    /// Ingest: records missing from the database.
    pub lost: u64,
    /// Ingest: records stored more than once.
    pub duplicated: u64,
    /// Messages or media the simulated screens refused.
    pub refused: u64,
}

/// Raises the open-file limit: to 65,536 where allowed (root), else to the
/// hard limit. Each screen holds a socket; the storm relay holds two more
/// per screen and the embedded broker one, all in this process.
pub fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let wanted = limit.maximum.map_or(65_536, |max| max.max(65_536));
    let raised = Rlimit {
        current: Some(wanted),
        maximum: Some(wanted),
    };
    if setrlimit(Resource::Nofile, raised).is_err() {
        if let Some(max) = limit.maximum {
            let mut raised = limit;
            raised.current = Some(max);
            let _ = setrlimit(Resource::Nofile, raised);
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

fn repo_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default()
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// CPU time (user + system, all threads) this process has used, in ms,
/// from `/proc/self/stat` (clock-tick resolution); 0 where there is none.
pub fn process_cpu_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name: state is field 3, utime 14, stime 15.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let per_second = rustix::param::clock_ticks_per_second() as f64;
    (ticks(11) + ticks(12)) * 1000.0 / per_second.max(1.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `p` in 0..=100 of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// A blocking JSON call to the server's API.
async fn api(
    base: &str,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let (url, token, path2) = (format!("{base}{path}"), token.to_owned(), path.to_owned());
    tokio::task::spawn_blocking(move || {
        let response = ureq::post(&url)
            .set("authorization", &format!("Bearer {token}"))
            .send_json(body);
        match response {
            Ok(r) => Ok(r.into_json::<serde_json::Value>().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => bail!(
                "POST {path2}: HTTP {code}: {}",
                r.into_string().unwrap_or_default()
            ),
            Err(e) => bail!("POST {path2}: {e}"),
        }
    })
    .await?
}

/// Waits until the recompile that a change asked for (its answer's
/// `recompile.ticket`) is done on the server that answered: handlers
/// answer before the compile (issue 18).
async fn settled(base: &str, token: &str, answer: &serde_json::Value) -> anyhow::Result<()> {
    let Some(ticket) = answer["recompile"]["ticket"].as_u64() else {
        return Ok(());
    };
    let deadline = clock() + Duration::from_secs(120);
    loop {
        let (url, token) = (format!("{base}/api/v1/recompile"), token.to_owned());
        let progress = tokio::task::spawn_blocking(move || -> anyhow::Result<serde_json::Value> {
            Ok(ureq::get(&url)
                .set("authorization", &format!("Bearer {token}"))
                .call()?
                .into_json()?)
        })
        .await??;
        if progress["done"].as_u64() >= Some(ticket) {
            return Ok(());
        }
        anyhow::ensure!(
            clock() < deadline,
            "the server did not compile the change within 120 s: {progress}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A Mosquitto the bench owns (storm): started on a free port, killable.
struct OwnMosquitto {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl OwnMosquitto {
    fn start() -> anyhow::Result<OwnMosquitto> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        std::fs::write(
            dir.path().join("mosquitto.conf"),
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nmax_connections -1\n\
                 persistence false\nlog_dest none\nmax_queued_messages 10000\n"
            ),
        )?;
        let mut me = OwnMosquitto {
            port,
            dir,
            child: None,
        };
        me.spawn()?;
        Ok(me)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let child = std::process::Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting mosquitto (is it installed?)")?;
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("mosquitto did not listen on port {}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnMosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How the broker is killed in `storm`.
enum StormBroker {
    Relay(proxy::Relay),
    Mosquitto(OwnMosquitto),
}

/// The server under test and its API tokens.
struct Server {
    /// Random, in every screen id.
    run: String,
    running: Running,
    base: String,
    editor: String,
    approver: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    postgres: Option<(String, String)>,
    _data: tempfile::TempDir,
    /// Replica B (`--replicas 2`), a child process.
    replica_b: std::sync::Mutex<Option<replicas::ChildReplica>>,
    /// Whether the alert goes to B, which is then killed.
    kill_replica: bool,
    /// haproxy (`--balancer`).
    _balancer: Option<replicas::Balancer>,
}

async fn start_server(
    args: &Args,
    broker_url: Option<String>,
    embedded_port: u16,
    agent_broker_url: Option<String>,
) -> anyhow::Result<Server> {
    let data = tempfile::tempdir()?;
    let mut config = Config {
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    config.listen = "127.0.0.1:0".parse()?;
    anyhow::ensure!((1..=2).contains(&args.replicas), "--replicas takes 1 or 2");
    anyhow::ensure!(
        args.replicas == 1 || (args.database_url.is_some() && broker_url.is_some()),
        "--replicas 2 needs --database-url postgres://… and --broker mqtt://…"
    );
    anyhow::ensure!(
        !args.kill_replica
            || (args.replicas == 2 && args.balancer && args.scenario == Scenario::Alert),
        "--kill-replica is for the alert scenario with --replicas 2 --balancer"
    );
    let mut ports = Vec::new();
    let mut front = None;
    if args.replicas == 2 {
        ports = vec![free_port()?, free_port()?];
        config.listen = SocketAddr::from(([127, 0, 0, 1], ports[0]));
        config.replicas.key_encryption_key_file = Some(replicas::write_kek(data.path())?);
        if args.balancer {
            let port = free_port()?;
            config.public_url = Some(format!("http://127.0.0.1:{port}"));
            front = Some(port);
        }
    }
    config.mqtt.embedded_listen = format!("127.0.0.1:{embedded_port}");
    config.mqtt.broker_url = broker_url;
    config.mqtt.agent_broker_url = agent_broker_url;
    let mut postgres = None;
    if let Some(url) = &args.database_url {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let schema = format!("ledcast_fleet_{}", ledcast_server::auth::random_hex::<6>());
        let mut admin = sqlx::AnyConnection::connect(url)
            .await
            .with_context(|| format!("connecting to {url}"))?;
        sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
            .execute(&mut admin)
            .await?;
        let sep = if url.contains('?') { '&' } else { '?' };
        config.database_url = Some(format!("{url}{sep}options=-c%20search_path%3D{schema}"));
        postgres = Some((url.clone(), schema));
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Running>();
    let task = tokio::spawn(ledcast_server::service::serve_with(
        config,
        async {
            let _ = stopped.await;
        },
        move |running| {
            let _ = ready_tx.send(running);
        },
    ));
    let running = match ready_rx.await {
        Ok(r) => r,
        Err(_) => {
            task.await??;
            bail!("the server stopped before it was ready");
        }
    };
    let state = &running.state;
    let now = ledcast_server::clock::now().as_millis();
    let mut tokens = Vec::new();
    for (name, role) in [
        ("fleet-editor", ledcast_server::store::Role::Editor),
        ("fleet-approver", ledcast_server::store::Role::Approver),
    ] {
        let id = ledcast_server::auth::random_hex::<8>();
        state
            .store
            .create_user(ledcast_server::store::NewUser {
                id: &id,
                username: name,
                password_hash: &ledcast_server::auth::hash_password(
                    &ledcast_server::auth::generate_password(),
                ),
                role,
                sites: &[],
                now,
            })
            .await?;
        let token = ledcast_server::auth::random_hex::<24>();
        state
            .store
            .create_api_token(
                &ledcast_server::auth::random_hex::<6>(),
                &ledcast_server::auth::token_sha256(&token),
                &id,
                "fleet",
                now,
            )
            .await?;
        tokens.push(token);
    }
    let approver = tokens.pop().unwrap_or_default();
    let editor = tokens.pop().unwrap_or_default();
    let mut replica_b = None;
    let mut balancer = None;
    let mut base = format!("http://{}", running.http_addr);
    if args.replicas == 2 {
        let public_url = state.public_url.to_string();
        let (database_url, broker_url, kek) = (
            state.config.database_url.clone().unwrap_or_default(),
            state.config.mqtt.broker_url.clone().unwrap_or_default(),
            state
                .config
                .replicas
                .key_encryption_key_file
                .clone()
                .unwrap_or_default(),
        );
        let port = ports[1];
        replica_b = Some(
            tokio::task::spawn_blocking(move || {
                replicas::ChildReplica::start(port, &public_url, &database_url, &broker_url, &kek)
            })
            .await??,
        );
        if let Some(front) = front {
            let backends: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
            balancer = Some(replicas::Balancer::start(front, &backends)?);
            base = format!("http://127.0.0.1:{front}");
        }
    }
    Ok(Server {
        run: ledcast_server::auth::random_hex::<3>(),
        base,
        running,
        replica_b: std::sync::Mutex::new(replica_b),
        kill_replica: args.kill_replica,
        _balancer: balancer,
        editor,
        approver,
        stop: Some(stop),
        task,
        postgres,
        _data: data,
    })
}

impl Server {
    /// Applies the site for `agents` screens playing `playlist`, approves the
    /// pending schedule as the second person.
    async fn apply(&self, agents: usize, playlist: &str) -> anyhow::Result<()> {
        let files: Vec<serde_json::Value> = site::files(&self.run, agents, playlist)
            .into_iter()
            .map(|f| serde_json::json!({"name": f.name, "text": f.text}))
            .collect();
        api(
            &self.base,
            &self.editor,
            "/api/v1/apply",
            serde_json::json!({ "files": files }),
        )
        .await?;
        for schedule in self.running.state.store.list_schedules().await? {
            if schedule.state == ledcast_server::store::ScheduleState::Pending {
                let approved = api(
                    &self.base,
                    &self.approver,
                    &format!("/api/v1/schedules/{}/approve", schedule.id),
                    serde_json::json!({}),
                )
                .await?;
                settled(&self.base, &self.approver, &approved).await?;
            }
        }
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), &mut self.task).await;
        if let Some((url, schema)) = self.postgres.take() {
            use sqlx::Connection;
            let mut admin = sqlx::AnyConnection::connect(&url).await?;
            sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .execute(&mut admin)
                .await?;
        }
        Ok(())
    }
}

/// What the bench knows about one simulated screen.
#[derive(Clone, Debug, Default)]
struct View {
    connected: bool,
    state_version: Option<u64>,
    state_at: Option<Instant>,
    alert_at: Option<Instant>,
    acked: u64,
    disconnects: u64,
    connects: Vec<Instant>,
    /// Fanout/alert: reached the change of the current round.
    reached: bool,
}

/// The running simulated fleet.
struct Fleet {
    views: Vec<View>,
    reports: mpsc::UnboundedReceiver<SimReport>,
    commands: Vec<mpsc::UnboundedSender<SimCommand>>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    refused: u64,
    first_refusal: Option<String>,
}

impl Fleet {
    fn on(&mut self, report: SimReport) {
        let view = &mut self.views[report.index];
        match report.event {
            SimEvent::Connected => {
                view.connected = true;
                view.connects.push(report.at);
            }
            SimEvent::Disconnected => {
                view.connected = false;
                view.disconnects += 1;
            }
            SimEvent::StateSent { version } => {
                view.state_version = version;
                view.state_at = Some(report.at);
            }
            SimEvent::Shown { material_id, .. } => {
                if material_id == site::ALERT_MATERIAL && view.alert_at.is_none() {
                    view.alert_at = Some(report.at);
                }
            }
            SimEvent::Acked { upto_seq } => view.acked = view.acked.max(upto_seq),
            SimEvent::Refused { reason } => {
                self.refused += 1;
                self.first_refusal.get_or_insert(reason);
            }
        }
    }

    /// Takes reports until `done` holds or `timeout` passes; true when done.
    async fn wait(&mut self, timeout: Duration, done: impl Fn(&[View]) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut checked = clock();
        loop {
            while let Ok(report) = self.reports.try_recv() {
                self.on(report);
            }
            if done(&self.views) {
                return true;
            }
            // Re-check at most every 20 ms (N can be large).
            let next = tokio::time::timeout_at(deadline, self.reports.recv()).await;
            match next {
                Ok(Some(report)) => self.on(report),
                Ok(None) | Err(_) => return done(&self.views),
            }
            if clock().duration_since(checked) < Duration::from_millis(20) {
                continue;
            }
            checked = clock();
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

/// Enrolls `agents` simulated screens and starts them at `rate` per second.
async fn start_fleet(server: &Server, agents: usize, rate: u32) -> anyhow::Result<Fleet> {
    let state = &server.running.state;
    let now = ledcast_server::clock::now().as_millis();
    let link = sim::default_link();
    let mut enrolled = Vec::with_capacity(agents);
    let mut pending = tokio::task::JoinSet::new();
    for i in 0..agents {
        let code = ledcast_server::auth::generate_enrollment_code();
        state
            .store
            .create_enrollment_code(
                &ledcast_server::auth::token_sha256(
                    &ledcast_server::auth::normalise_enrollment_code(&code),
                ),
                &site::screen_id(&server.run, i),
                "fleet",
                now,
                now + 3_600_000,
            )
            .await?;
        let (link, base) = (link.clone(), server.base.clone());
        pending.spawn_blocking(move || (i, sim::enroll_in_memory(&link, &base, &code)));
        while pending.len() >= 16 {
            if let Some(done) = pending.join_next().await {
                enrolled.push(done?);
            }
        }
    }
    while let Some(done) = pending.join_next().await {
        enrolled.push(done?);
    }
    enrolled.sort_by_key(|(i, _)| *i);
    let pool = Arc::new(MediaPool::new(link));
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let (stop, stopping) = watch::channel(false);
    let mut commands = Vec::with_capacity(agents);
    let mut tasks = Vec::with_capacity(agents);
    let pause = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let dir = std::env::temp_dir();
    for (i, loaded) in enrolled {
        let loaded =
            loaded.with_context(|| format!("enrolling {}", site::screen_id(&server.run, i)))?;
        let mut config = ledcast_agent::AgentConfig::for_data_dir(&dir);
        // Keep-alive long enough that 5,000 idle connections are quiet.
        config.mqtt.keep_alive_seconds = 60;
        let (tx, rx) = mpsc::unbounded_channel();
        commands.push(tx);
        let mut stopping = stopping.clone();
        let (pool, reports_tx) = (pool.clone(), reports_tx.clone());
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopping.wait_for(|s| *s).await;
            };
            if let Err(error) = sim::run(i, loaded, config, pool, reports_tx, rx, shutdown).await {
                eprintln!("sim {i} stopped: {error:#}");
            }
        }));
        tokio::time::sleep(pause).await;
    }
    Ok(Fleet {
        views: vec![View::default(); agents],
        reports,
        commands,
        stop,
        tasks,
        refused: 0,
        first_refusal: None,
    })
}

/// The desired (latest stored) version per screen index.
async fn desired_versions(server: &Server, agents: usize) -> anyhow::Result<Vec<Option<u64>>> {
    let latest: HashMap<String, u64> = server
        .running
        .state
        .store
        .latest_versions()
        .await?
        .into_iter()
        .collect();
    Ok((0..agents)
        .map(|i| latest.get(&site::screen_id(&server.run, i)).copied())
        .collect())
}

/// Waits until every screen reports its desired version; returns the lagging.
async fn wait_in_sync(
    server: &Server,
    fleet: &mut Fleet,
    timeout: Duration,
) -> anyhow::Result<Vec<String>> {
    let deadline = clock() + timeout;
    loop {
        let desired = desired_versions(server, fleet.views.len()).await?;
        let synced = |views: &[View]| {
            views
                .iter()
                .zip(&desired)
                .all(|(v, d)| d.is_some() && v.connected && v.state_version >= *d)
        };
        let left = deadline.saturating_duration_since(clock());
        if fleet.wait(left.min(Duration::from_secs(2)), synced).await {
            // The desired versions may have moved on meanwhile: check again.
            let again = desired_versions(server, fleet.views.len()).await?;
            if again == desired {
                return Ok(Vec::new());
            }
        }
        if clock() >= deadline {
            return Ok(fleet
                .views
                .iter()
                .zip(&desired)
                .enumerate()
                .filter(|(_, (v, d))| d.is_none() || !v.connected || v.state_version < **d)
                .map(|(i, (v, d))| {
                    format!(
                        "{} {:?}/{:?}",
                        site::screen_id(&server.run, i),
                        v.state_version,
                        d
                    )
                })
                .take(10)
                .collect());
        }
    }
}

fn broker_label(args: &Args) -> String {
    let broker = match &args.broker {
        None => "embedded".to_owned(),
        Some(url) if args.scenario == Scenario::Storm => format!("mosquitto(own,{url})"),
        Some(url) => format!("mosquitto({url})"),
    };
    match (args.replicas, args.balancer, args.kill_replica) {
        (1, _, _) => broker,
        (r, false, _) => format!("{broker} replicas={r}"),
        (r, true, false) => format!("{broker} replicas={r}+haproxy"),
        (r, true, true) => format!("{broker} replicas={r}+haproxy killed=b-after-alert"),
    }
}

/// Runs one scenario; the outcome's `line` is the summary.
pub async fn run(args: &Args) -> anyhow::Result<Outcome> {
    let n = args.agents;
    anyhow::ensure!(n > 0, "--agents must be at least 1");
    let fds = raise_fd_limit();
    let rate = args
        .connect_rate
        .unwrap_or(if args.broker.is_some() { 2000 } else { 400 });
    let mut out = Outcome::default();
    let started = clock();

    // The broker, and for storm the thing that can be killed.
    let embedded_port = free_port()?;
    let mut storm = None;
    let (broker_url, agent_broker_url) = match (args.scenario, &args.broker) {
        (Scenario::Storm, Some(_)) => {
            let mosquitto = OwnMosquitto::start()?;
            let url = mosquitto.url();
            storm = Some(StormBroker::Mosquitto(mosquitto));
            (Some(url), None)
        }
        (Scenario::Storm, None) => {
            let exe = match &args.relay_exe {
                Some(exe) => exe.clone(),
                None => std::env::current_exe()?,
            };
            let relay =
                proxy::Relay::start(exe, SocketAddr::from(([127, 0, 0, 1], embedded_port)))?;
            let url = format!("mqtt://{}", relay.addr);
            storm = Some(StormBroker::Relay(relay));
            (None, Some(url))
        }
        (_, url) => (url.clone(), None),
    };
    let server = start_server(args, broker_url, embedded_port, agent_broker_url).await?;
    let state = server.running.state.clone();
    let media = repo_root().join("media");
    let (imported, _, problems) = ledcast_server::materials::import_materials_file(
        &state,
        site::MATERIALS,
        &media,
        "fleet-editor",
        "fleet-approver",
    )
    .await?;
    anyhow::ensure!(
        problems.is_empty() && imported == 3,
        "importing the fleet materials: {problems:?}"
    );
    server.apply(n, "fleet-a").await?;
    let site_ms = ms(clock().duration_since(started));
    let rotation_bytes = state
        .store
        .latest_rotation(&site::screen_id(&server.run, 0))
        .await?
        .map(|r| r.envelope.len())
        .context("no rotation for the first screen after apply")?;

    // The floor, before the fleet connects (same broker, same process).
    let floor = if matches!(args.scenario, Scenario::Fanout | Scenario::Alert) && !args.no_floor {
        let f = floor::measure(
            &server.running.broker_url,
            server.running.embedded_broker_login.clone(),
            n,
            rotation_bytes,
            rate,
        )
        .await?;
        out.details.push(format!(
            "floor agents={n} broker={} bytes={rotation_bytes} new_topics_ms={:.0} floor_ms={:.0} floor_cpu_ms={:.0}",
            broker_label(args),
            f.first_ms,
            f.floor_ms,
            f.cpu_ms
        ));
        Some(f)
    } else {
        None
    };

    let enrolling = clock();
    let mut fleet = start_fleet(&server, n, rate).await?;
    let lagging = wait_in_sync(
        &server,
        &mut fleet,
        Duration::from_secs(120 + n as u64 / 20),
    )
    .await?;
    out.details.push(format!(
        "setup agents={n} site_ms={site_ms:.0} enroll_connect_sync_ms={:.0} rotation_bytes={rotation_bytes} fd_limit={fds} lagging={}",
        ms(clock().duration_since(enrolling)),
        lagging.len()
    ));
    if !lagging.is_empty() {
        bail!("the fleet did not get in sync at start: {lagging:?}");
    }

    let label = broker_label(args);
    match args.scenario {
        Scenario::Fanout | Scenario::Alert => {
            let scenario = args.scenario;
            let name = if scenario == Scenario::Fanout {
                "fanout"
            } else {
                "alert"
            };
            let floor_ms = floor.map(|f| f.floor_ms).unwrap_or(f64::NAN);
            let mut rounds: Vec<Round> = Vec::new();
            out.all_synced = true;
            for round in 0..args.rounds.max(1) {
                let r = change_round(&server, &mut fleet, scenario, n, round).await?;
                out.details.push(format!(
                    "round {name} i={round} total_ms={:.0} p50_ms={:.0} p99_ms={:.0} api_ms={:.0} cpu_ms={:.0} reached={}",
                    r.total_ms, r.p50_ms, r.p99_ms, r.api_ms, r.cpu_ms, r.reached
                ));
                let synced = r.reached == n;
                rounds.push(r);
                if !synced {
                    out.all_synced = false;
                    out.lagging = fleet
                        .views
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| !v.reached)
                        .map(|(i, _)| site::screen_id(&server.run, i))
                        .take(10)
                        .collect();
                    break;
                }
            }
            // The median round by total time (the only round when 1).
            rounds.sort_by(|a, b| a.total_ms.total_cmp(&b.total_ms));
            let median = &rounds[(rounds.len() - 1) / 2];
            let rounds_note = if rounds.len() > 1 {
                format!(
                    " rounds={} min_total_ms={:.0} max_total_ms={:.0}",
                    rounds.len(),
                    rounds[0].total_ms,
                    rounds[rounds.len() - 1].total_ms
                )
            } else {
                String::new()
            };
            out.line = format!(
                "{name} agents={n} broker={label} total_ms={:.0} p99_ms={:.0} floor_ms={floor_ms:.0} ratio={:.2} p50_ms={:.0} max_ms={:.0} api_ms={:.0} cpu_ms={:.0} reached={}{rounds_note}",
                median.total_ms,
                median.p99_ms,
                median.total_ms / floor_ms,
                median.p50_ms,
                median.total_ms,
                median.api_ms,
                median.cpu_ms,
                median.reached,
            );
        }
        Scenario::Ingest => {
            let k = args.records;
            let metrics = server.running.delivery.metrics();
            let inserted_before = metrics
                .play_records_inserted
                .load(std::sync::atomic::Ordering::Relaxed);
            let t0 = clock();
            for tx in &fleet.commands {
                let _ = tx.send(SimCommand::SendPlays { count: k });
            }
            out.all_synced = fleet
                .wait(Duration::from_secs(120 + (n as u64 * k) / 2000), |views| {
                    views.iter().all(|v| v.acked >= k)
                })
                .await;
            let elapsed = clock().duration_since(t0);
            let inserted = metrics
                .play_records_inserted
                .load(std::sync::atomic::Ordering::Relaxed)
                - inserted_before;
            let (rows, distinct) = count_records(&server).await?;
            let expected = n as u64 * k;
            out.lost = expected.saturating_sub(distinct);
            out.duplicated = rows - distinct;
            out.lagging = fleet
                .views
                .iter()
                .enumerate()
                .filter(|(_, v)| v.acked < k)
                .map(|(i, v)| format!("{} acked {}", site::screen_id(&server.run, i), v.acked))
                .take(10)
                .collect();
            let db = if args.database_url.is_some() {
                "postgres"
            } else {
                "sqlite"
            };
            out.details.push(format!(
                "ingest-detail db={db} rows={rows} distinct={distinct} expected={expected} server_inserted={inserted} duplicate_batches={}",
                metrics
                    .play_batches_duplicate
                    .load(std::sync::atomic::Ordering::Relaxed)
            ));
            out.line = format!(
                "ingest agents={n} records={expected} per_s={:.0} lost={} duplicated={} db={db} broker={label} elapsed_ms={:.0}",
                distinct as f64 / elapsed.as_secs_f64(),
                out.lost,
                out.duplicated,
                ms(elapsed)
            );
        }
        Scenario::Storm => {
            let mut storm = storm.context("storm broker")?;
            let killed = clock();
            let connects_before: Vec<usize> =
                fleet.views.iter().map(|v| v.connects.len()).collect();
            let disconnects_before: Vec<u64> = fleet.views.iter().map(|v| v.disconnects).collect();
            match &mut storm {
                StormBroker::Relay(relay) => relay.kill(),
                StormBroker::Mosquitto(m) => m.kill(),
            }
            let all_down = fleet
                .wait(Duration::from_secs(30), |views| {
                    views.iter().all(|v| !v.connected)
                })
                .await;
            let down_left =
                Duration::from_millis(args.down_ms).saturating_sub(clock().duration_since(killed));
            fleet.wait(down_left, |_| false).await;
            match &mut storm {
                StormBroker::Relay(relay) => relay.restart().await?,
                StormBroker::Mosquitto(m) => m.spawn()?,
            }
            let restarted = clock();
            let lagging = wait_in_sync(
                &server,
                &mut fleet,
                Duration::from_secs(180 + n as u64 / 20),
            )
            .await?;
            // Everyone must have reconnected after the kill.
            let reconnected = fleet
                .views
                .iter()
                .zip(&connects_before)
                .all(|(v, before)| v.connects.len() > *before);
            let synced_at = fleet
                .views
                .iter()
                .filter_map(|v| v.state_at)
                .max()
                .unwrap_or(restarted);
            out.all_synced = lagging.is_empty() && all_down && reconnected;
            out.lagging = lagging;
            let mut reconnects: Vec<Instant> = fleet
                .views
                .iter()
                .zip(&connects_before)
                .filter_map(|(v, before)| v.connects.get(*before).copied())
                .collect();
            reconnects.sort();
            let attempts: Vec<u64> = fleet
                .views
                .iter()
                .zip(&disconnects_before)
                .map(|(v, b)| v.disconnects - b)
                .collect();
            let (peak, mean, bucket_ms) = rate_peak_mean(&reconnects);
            let mean_attempts = attempts.iter().sum::<u64>() as f64 / attempts.len().max(1) as f64;
            let max_attempts = attempts.iter().max().copied().unwrap_or(0);
            out.details.push(format!(
                "storm-detail down_ms={} reconnects={} window_ms={:.0} bucket_ms={bucket_ms} peak_per_s={peak:.0} mean_per_s={mean:.0} attempts_mean={mean_attempts:.2} attempts_max={max_attempts} all_down={all_down}",
                args.down_ms,
                reconnects.len(),
                match (reconnects.first(), reconnects.last()) {
                    (Some(a), Some(b)) => ms(b.duration_since(*a)),
                    _ => 0.0,
                },
            ));
            out.line = format!(
                "storm agents={n} broker={label} all_synced_ms={:.0} peak_over_mean={:.2} attempts_mean={mean_attempts:.2} attempts_max={max_attempts} since_kill_ms={:.0}",
                ms(synced_at.saturating_duration_since(restarted)),
                peak / mean,
                ms(synced_at.saturating_duration_since(killed)),
            );
        }
    }
    out.refused = fleet.refused;
    if let Some(reason) = &fleet.first_refusal {
        out.details
            .push(format!("refused count={} first={reason}", fleet.refused));
    }
    fleet.stop().await;
    // Stop the server before cleaning: it puts back a deleted rotation.
    let broker = (
        server.running.broker_url.clone(),
        server.running.embedded_broker_login.clone(),
        server.run.clone(),
    );
    server.finish().await?;
    if args.broker.is_some() && args.scenario != Scenario::Storm {
        clear_retained(broker, n).await?;
    }
    Ok(out)
}

/// One timed change (fanout or alert) on a running fleet.
struct Round {
    total_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    api_ms: f64,
    /// CPU time of the whole process (server, broker, every simulated
    /// screen) from the API call until the last screen got there.
    cpu_ms: f64,
    reached: usize,
}

/// Makes one change through the API and times every screen reaching it:
/// fanout, the schedule switches playlist (round 0: to `fleet-b`, then
/// back and forth), reached = the screen's next `state` names a newer
/// version; alert, an alert for every screen, reached = its player shows
/// the alert (then the alert is ended and the fleet waited back in sync).
async fn change_round(
    server: &Server,
    fleet: &mut Fleet,
    scenario: Scenario,
    n: usize,
    round: usize,
) -> anyhow::Result<Round> {
    for view in &mut fleet.views {
        view.reached = false;
        view.alert_at = None;
    }
    let before: Vec<Option<u64>> = fleet.views.iter().map(|v| v.state_version).collect();
    let cpu_before = process_cpu_ms();
    let t0 = clock();
    let mut alert_id = None;
    if scenario == Scenario::Fanout {
        let playlist = if round.is_multiple_of(2) {
            "fleet-b"
        } else {
            "fleet-a"
        };
        server.apply(n, playlist).await?;
    } else {
        let until = ledcast_server::clock::now().as_millis() + 3_600_000;
        // --kill-replica: replica B takes the alert and dies as it answers.
        let target = match server.replica_b.lock() {
            Ok(b) if server.kill_replica && round == 0 => b.as_ref().map(|b| b.base.clone()),
            _ => None,
        };
        let created = api(
            target.as_deref().unwrap_or(&server.base),
            &server.editor,
            "/api/v1/alerts",
            serde_json::json!({
                "material_id": site::ALERT_MATERIAL,
                "targets": {"tags": [site::TAG]},
                "until": until,
            }),
        )
        .await?;
        alert_id = created["id"].as_str().map(str::to_owned);
        if target.is_some() {
            if let Ok(mut b) = server.replica_b.lock() {
                if let Some(b) = b.as_mut() {
                    b.kill();
                }
            }
        }
    }
    let api_ms = ms(clock().duration_since(t0));
    let reached = move |v: &View, before: Option<u64>| match scenario {
        Scenario::Fanout => v.state_version > before && v.state_at.is_some_and(|t| t >= t0),
        _ => v.alert_at.is_some_and(|t| t >= t0),
    };
    let done = {
        let before = before.clone();
        move |views: &[View]| views.iter().zip(&before).all(|(v, b)| reached(v, *b))
    };
    fleet
        .wait(Duration::from_secs(60 + n as u64 / 20), done)
        .await;
    let cpu_ms = process_cpu_ms() - cpu_before;
    let mut latencies = Vec::with_capacity(n);
    for (view, b) in fleet.views.iter_mut().zip(&before) {
        if reached(view, *b) {
            view.reached = true;
            let at = match scenario {
                Scenario::Fanout => view.state_at,
                _ => view.alert_at,
            };
            if let Some(at) = at {
                latencies.push(ms(at.duration_since(t0)));
            }
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let result = Round {
        total_ms: latencies.last().copied().unwrap_or(f64::NAN),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        api_ms,
        cpu_ms,
        reached: latencies.len(),
    };
    if let Some(id) = alert_id {
        // End the alert and wait until every screen reports the rotation
        // without it, so the next round starts from a fleet in sync.
        let ended = api(
            &server.base,
            &server.editor,
            &format!("/api/v1/alerts/{id}/end"),
            serde_json::json!({}),
        )
        .await?;
        settled(&server.base, &server.editor, &ended).await?;
        let lagging = wait_in_sync(server, fleet, Duration::from_secs(60 + n as u64 / 20)).await?;
        anyhow::ensure!(
            lagging.is_empty(),
            "the fleet did not get back in sync after the alert ended: {lagging:?}"
        );
    }
    Ok(result)
}

/// Removes the run's retained rotations and states from a shared broker
/// (the system Mosquitto persists them).
async fn clear_retained(
    (broker_url, login, run): (String, Option<(String, String)>, String),
    agents: usize,
) -> anyhow::Result<()> {
    use ledcast_protocol::v1::{ScreenId, Topic, TopicKind};
    let mut options =
        ledcast_server::push::mqtt_options(&broker_url, &format!("fleet-clean-{run}"))?;
    if let Some((user, pass)) = &login {
        options.set_credentials(user, pass);
    }
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 1024);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    let poller = tokio::spawn(async move {
        while let Ok(event) = eventloop.poll().await {
            if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = event {
                let _ = done_tx.send(());
            }
        }
    });
    let mut sent = 0;
    for i in 0..agents {
        let screen = ScreenId::new(&site::screen_id(&run, i))?;
        for kind in [TopicKind::Rotation, TopicKind::State] {
            client
                .publish(
                    Topic::name(&screen, kind),
                    rumqttc::QoS::AtLeastOnce,
                    true,
                    Vec::<u8>::new(),
                )
                .await?;
            sent += 1;
        }
    }
    for _ in 0..sent {
        if tokio::time::timeout(Duration::from_secs(10), done_rx.recv())
            .await
            .ok()
            .flatten()
            .is_none()
        {
            break;
        }
    }
    let _ = client.disconnect().await;
    poller.abort();
    Ok(())
}

/// Peak and mean reconnects per second over the reconnect window, with the
/// bucket width used for the peak (1 s, or a tenth of a short window).
fn rate_peak_mean(times: &[Instant]) -> (f64, f64, u64) {
    let (Some(first), Some(last)) = (times.first(), times.last()) else {
        return (0.0, 0.0, 0);
    };
    let window = last.duration_since(*first).max(Duration::from_millis(1));
    let bucket_ms = if window >= Duration::from_secs(10) {
        1000
    } else {
        (window.as_millis() as u64 / 10).max(10)
    };
    let buckets = (window.as_millis() as u64 / bucket_ms + 1) as usize;
    let mut counts = vec![0u64; buckets];
    for t in times {
        let b = (t.duration_since(*first).as_millis() as u64 / bucket_ms) as usize;
        counts[b.min(buckets - 1)] += 1;
    }
    let peak = counts.iter().max().copied().unwrap_or(0) as f64 * 1000.0 / bucket_ms as f64;
    // The mean over whole buckets, so a uniform spread gives 1.0.
    let mean = times.len() as f64 * 1000.0 / (buckets as u64 * bucket_ms) as f64;
    (peak, mean, bucket_ms)
}

/// `(rows, distinct (screen, boot, seq))` of the bench's play records.
async fn count_records(server: &Server) -> anyhow::Result<(u64, u64)> {
    use sqlx::Row;
    let pool = server.running.state.store.pool();
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT screen_id || '/' || boot_id || '/' || CAST(seq AS TEXT)) AS d \
         FROM play_records WHERE material_id = 'fleet-sim'",
    )
    .fetch_one(pool)
    .await?;
    let n: i64 = row.try_get("n")?;
    let d: i64 = row.try_get("d")?;
    Ok((n as u64, d as u64))
}
