//! `ledcast-server demo`: the whole system in one command — the server with
//! SQLite and the embedded broker in a fresh data directory, the demo site
//! from `playlists/` with the sample materials from `media/`, and one agent
//! per demo screen (PNG sinks under the data directory; the door strip
//! `icbc-door` through the Huidu bridge to an emulated card), until Ctrl-C.
//!
//! The agents run in-process, each on its own thread and runtime, through
//! the same enrollment and `run` entry points as the `ledcast-agent` binary.
//! The demo approves the demo schedules as a separate "demo-approver"
//! account, so the two-person rule still holds. On a data directory's first
//! start the agents first replay and send the screens' past week
//! ([`history`]). It does not serve TLS.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::auth;
use crate::config::Config;
use crate::service::{self, Running};
use crate::store::{NewUser, Role};

pub mod history;

/// Arguments of `ledcast-server demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Data directory (created; default: a fresh directory under the system temp dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The demo site's playlist files.
    #[arg(long, default_value = "playlists")]
    pub playlists: PathBuf,
    /// The sample materials (`playlists/materials.toml` names files in it).
    #[arg(long, default_value = "media")]
    pub media: PathBuf,
    /// Start the server and content only, no agents.
    #[arg(long)]
    pub no_agents: bool,
    /// Use this external broker (e.g. mqtt://127.0.0.1:1883) instead of the embedded one.
    #[arg(long)]
    pub broker_url: Option<String>,
    /// On a new data directory, do not give the screens a past week of
    /// plays, confirmations and screenshots (see `demo/history.rs`).
    #[arg(long)]
    pub no_history: bool,
}

/// Picks `preferred` when it is free, else any free port on the same host.
fn free_or_any(preferred: &str) -> String {
    // Several demos in one process (tests run them in parallel) would each
    // find the preferred port free before any of them binds it: hand it out
    // once per process, and a free port (`:0`) after that.
    static HANDED_OUT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    if !handed_out.iter().any(|a| a == preferred) && TcpListener::bind(preferred).is_ok() {
        handed_out.push(preferred.to_owned());
        return preferred.to_owned();
    }
    let host = preferred.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
    format!("{host}:0")
}

/// The demo's sample site (`playlists/`) or materials (`media/`) are not
/// where the arguments say: the demo was started outside the repository
/// root. Its message is the one line `ledcast-server demo` prints.
#[derive(Debug, thiserror::Error)]
#[error("no demo site at {}: run `ledcast-server demo` from the repository root{} or pass --playlists DIR --media DIR", missing.display(), repository.as_ref().map(|r| format!(" (cd {})", r.display())).unwrap_or_default())]
pub struct NoDemoSite {
    /// The directory that is not there.
    pub missing: PathBuf,
    /// The repository this binary was built from, if it is still there.
    pub repository: Option<PathBuf>,
}

/// Where the demo keeps the admin password it generated (mode 0600), so a
/// restart on the same data directory can say it again instead of printing
/// a new one that would not work.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password.txt";

/// A running demo.
pub struct Demo {
    /// The server's handles (state, addresses, delivery).
    pub running: Running,
    /// The data directory in use.
    pub data_dir: PathBuf,
    /// The admin password: generated on the data directory's first start,
    /// read back from [`ADMIN_PASSWORD_FILE`] on later ones (`None` when
    /// that file is gone).
    pub admin_password: Option<String>,
    /// Whether this start created the admin (and so its password).
    pub admin_created: bool,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    stop_agents: watch::Sender<bool>,
    agent_threads: Vec<std::thread::JoinHandle<()>>,
    /// The emulated controller card the bridged door strip drives.
    pub card: Option<ledcast_agent::bridge::emulator::EmulatorServer>,
    /// What the first start loaded as the screens' past, if it did.
    pub past: Option<PastLoaded>,
}

/// The past a first start gave the demo screens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastLoaded {
    /// Play records the agents sent through ingest.
    pub records: usize,
    /// Screens.
    pub screens: usize,
    /// The first day (last week's Monday).
    pub since: chrono::NaiveDate,
    /// Branch confirmations stored for last week.
    pub confirmations: usize,
}

/// The demo screen driven through a vendor bridge (an emulated Huidu card)
/// instead of a PNG sink.
pub const BRIDGED_SCREEN: &str = "icbc-door";

impl Demo {
    /// Waits for the server to stop (its shutdown future resolved), then
    /// stops the agents (each journals its last play as interrupted).
    pub async fn wait(self) -> anyhow::Result<()> {
        let outcome = self.server.await.context("the server task failed")?;
        let _ = self.stop_agents.send(true);
        let threads = self.agent_threads;
        tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await?;
        outcome
    }
}

/// Runs the demo until `shutdown` resolves, printing how to log in.
pub async fn run(
    args: DemoArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let embedded_broker = args.broker_url.is_none();
    let demo = start(args, shutdown).await?;
    for line in port_fallbacks(&demo.running, embedded_broker) {
        println!("{line}");
    }
    let file = demo.data_dir.join(ADMIN_PASSWORD_FILE);
    match (&demo.admin_password, demo.admin_created) {
        (Some(password), true) => println!(
            "ledcast demo: web http://{}/ user admin password {password} (kept in {} for the next start)",
            demo.running.http_addr,
            file.display()
        ),
        (Some(password), false) => println!(
            "ledcast demo: web http://{}/ user admin password {password} (unchanged since this data directory's first start; in {})",
            demo.running.http_addr,
            file.display()
        ),
        (None, _) => println!(
            "ledcast demo: web http://{}/ user admin, password unchanged: the one printed when {} was first used",
            demo.running.http_addr,
            demo.data_dir.display()
        ),
    }
    println!(
        "ledcast demo: data {} (agents' frames under agents/*/frame.png); broker {}; Ctrl-C stops",
        demo.data_dir.display(),
        demo.running.broker_url
    );
    if let Some(past) = &demo.past {
        println!(
            "ledcast demo: first start: the {} screens' past since {} came in through the agents ({} play records), {} branch confirmations of last week",
            past.screens, past.since, past.records, past.confirmations
        );
    }
    if let Some(card) = &demo.card {
        println!(
            "ledcast demo: {BRIDGED_SCREEN} plays through the Huidu bridge on an emulated HD-WF2 card at {} (its state on the screen page)",
            card.addr
        );
    }
    demo.wait().await
}

/// The ports the demo prefers, and what for.
const PREFERRED_WEB: &str = "127.0.0.1:8080";
const PREFERRED_BROKER: &str = "127.0.0.1:1883";

/// One line per preferred port that was taken, saying where the demo went
/// instead (a silent fallback would leave a newcomer at a dead address).
fn port_fallbacks(running: &Running, embedded_broker: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let web = running.http_addr.to_string();
    if web != PREFERRED_WEB {
        lines.push(format!(
            "ledcast demo: port 8080 is in use, so the web UI is on http://{web}/ instead"
        ));
    }
    if embedded_broker && !running.broker_url.ends_with(":1883") {
        lines.push(format!(
            "ledcast demo: port 1883 is in use (another MQTT broker?), so the embedded broker listens on {} instead",
            running.broker_url
        ));
    }
    lines
}

/// Starts the server, loads the demo content and starts the agents.
pub async fn start(
    args: DemoArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Demo> {
    let mut args = args;
    args.playlists = find_sample(&args.playlists, "playlists")?;
    args.media = find_sample(&args.media, "media")?;
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("ledcast-demo-{}", auth::random_hex::<4>())),
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the demo data directory {}", data_dir.display()))?;
    let playlists = crate::apply::read_playlist_dir(&args.playlists)
        .with_context(|| "run the demo from the repository root, or pass --playlists".to_owned())?;
    let materials_path = args.playlists.join(crate::site_files::MATERIALS_FILE);
    let materials_toml = std::fs::read_to_string(&materials_path)
        .with_context(|| format!("reading {}", materials_path.display()))?;

    let mut config = Config {
        data_dir: data_dir.clone(),
        ..Config::default()
    };
    config.listen = free_or_any(PREFERRED_WEB)
        .parse::<SocketAddr>()
        .context("demo listen address")?;
    config.mqtt.embedded_listen = free_or_any(PREFERRED_BROKER);
    config.mqtt.broker_url = args.broker_url.clone();

    let (stop_agents, agents_stopping) = watch::channel(false);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Running>();
    let server = tokio::spawn(service::serve_with(config, shutdown, move |running| {
        let _ = ready_tx.send(running);
    }));
    let running = match ready_rx.await {
        Ok(running) => running,
        Err(_) => {
            // The server failed before it was ready: surface its error.
            server.await.context("the server task failed")??;
            anyhow::bail!("the server stopped before it was ready");
        }
    };

    let created = set_up(&running.state, &playlists, &materials_toml, &args.media).await?;
    let admin_created = created.is_some();
    let admin_password = keep_admin_password(&data_dir, created)?;
    let mut agent_threads = Vec::new();
    let mut card = None;
    let mut past = None;
    if !args.no_agents {
        let history = if admin_created && !args.no_history {
            println!(
                "ledcast demo: first start on this data directory: the agents replay the screens' past week and send it (about a minute)"
            );
            Some(history::compile(&running.state, running.state.clock.now()).await?)
        } else {
            None
        };
        let (threads, bridged, expected) =
            start_agents(&running, &data_dir, agents_stopping, history.as_ref()).await?;
        agent_threads = threads;
        card = bridged;
        if let Some(history) = history {
            let state = &running.state;
            history::wait_delivered(state, &expected, history.from).await?;
            let confirmations = history::confirm_last_week(state, history.monday).await?;
            history::ask_for_screenshots(state, &state.store.list_screens(None).await?);
            past = Some(PastLoaded {
                records: expected.iter().map(|(_, n)| n).sum(),
                screens: expected.len(),
                since: history.monday,
                confirmations,
            });
        }
    }
    Ok(Demo {
        running,
        data_dir,
        admin_password,
        admin_created,
        server,
        stop_agents,
        agent_threads,
        card,
        past,
    })
}

/// Where the sample `name` (`playlists` or `media`) is: `dir` when it is
/// there; for the default relative `dir`, else next to the binary (`DIR/`
/// or `../share/ledcast/DIR/` beside it) or in the repository the binary
/// was built from, so the demo runs from any directory. Says on stdout
/// which one it took when it is not `dir`.
fn find_sample(dir: &Path, name: &str) -> Result<PathBuf, NoDemoSite> {
    if dir.is_dir() {
        return Ok(dir.to_path_buf());
    }
    if dir != Path::new(name) {
        return Err(no_demo_site(dir));
    }
    let mut candidates = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        candidates.push(exe_dir.join(name));
        candidates.push(exe_dir.join("../share/ledcast").join(name));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name));
    match candidates.into_iter().find(|c| c.is_dir()) {
        Some(found) => {
            let found = found.canonicalize().unwrap_or(found);
            println!(
                "ledcast demo: no {name}/ here, so the sample {name} from {}",
                found.display()
            );
            Ok(found)
        }
        None => Err(no_demo_site(dir)),
    }
}

/// The refusal for a missing `dir`, naming the repository this binary was
/// built from when it is still there.
fn no_demo_site(dir: &Path) -> NoDemoSite {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    NoDemoSite {
        missing: dir.to_path_buf(),
        repository: built_from
            .join("playlists")
            .is_dir()
            .then(|| built_from.canonicalize().unwrap_or(built_from)),
    }
}

/// The admin password to print: a new one is written to
/// [`ADMIN_PASSWORD_FILE`] (readable by its owner only); otherwise the one
/// kept there by the first start, if it is still there.
fn keep_admin_password(data_dir: &Path, created: Option<String>) -> anyhow::Result<Option<String>> {
    let path = data_dir.join(ADMIN_PASSWORD_FILE);
    match created {
        Some(password) => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            writeln!(file, "{password}").with_context(|| format!("writing {}", path.display()))?;
            Ok(Some(password))
        }
        None => Ok(std::fs::read_to_string(&path)
            .ok()
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())),
    }
}

/// Imports and approves the sample materials, applies the demo site,
/// approves its schedules, and creates the admin. Returns the admin
/// password when this call created the admin (`None`: it already existed,
/// and its password is unchanged).
pub(crate) async fn set_up(
    state: &crate::state::AppState,
    playlists: &[crate::store::PlaylistFile],
    materials_toml: &str,
    media_dir: &Path,
) -> anyhow::Result<Option<String>> {
    let (playlists, materials_toml) = move_sample_to_today(state, playlists, materials_toml)?;
    let (playlists, materials_toml) = (&playlists[..], &materials_toml[..]);
    let now = state.clock.now().as_millis();
    let password = auth::generate_password();
    let mut admin_created = false;
    for (username, role, secret) in [
        ("admin", Role::Admin, password.clone()),
        ("demo-editor", Role::Editor, auth::generate_password()),
        ("demo-approver", Role::Approver, auth::generate_password()),
    ] {
        if state.store.user_by_name(username).await?.is_some() {
            continue;
        }
        admin_created |= role == Role::Admin;
        state
            .store
            .create_user(NewUser {
                id: &auth::random_hex::<8>(),
                username,
                password_hash: &auth::hash_password(&secret),
                role,
                sites: &[],
                now,
            })
            .await?;
    }
    let (imported, skipped, problems) = crate::materials::import_materials_file(
        state,
        materials_toml,
        media_dir,
        "demo-editor",
        "demo-approver",
    )
    .await?;
    for problem in &problems {
        tracing::warn!(%problem, "demo material not imported");
    }
    tracing::info!(imported, skipped, "demo materials");
    let outcome = crate::apply::apply_files(state, playlists, "demo-editor", false).await?;
    for diagnostic in outcome.diagnostics.iter().filter(|d| d.is_error()) {
        tracing::error!(%diagnostic, "demo playlists");
    }
    anyhow::ensure!(
        outcome.applied,
        "the demo playlists did not apply (see the errors above)"
    );
    for schedule in state.store.list_schedules().await? {
        if schedule.state == crate::store::ScheduleState::Pending {
            state
                .store
                .decide_schedule(
                    &schedule.id,
                    crate::store::Verdict::Approved,
                    "demo-approver",
                    now,
                )
                .await?;
        }
    }
    let report = crate::recompiler::recompile(state, state.clock.now()).await?;
    tracing::info!(rotations = report.stored.len(), "demo rotations compiled");
    Ok(admin_created.then_some(password))
}

/// The demo site is written as if today were its `[settings] sample_today`
/// (see `playlists/settings.toml`): moves every date in the playlist files
/// and `materials.toml` to the day the demo runs, so that validities,
/// alerts and date ranges keep their distance from now on any date. Files
/// without `sample_today` (a real site) are returned as they are.
pub(crate) fn move_sample_to_today(
    state: &crate::state::AppState,
    playlists: &[crate::store::PlaylistFile],
    materials_toml: &str,
) -> anyhow::Result<(Vec<crate::store::PlaylistFile>, String)> {
    use ledcast_compiler::sample_dates;
    let written_for = playlists
        .iter()
        .find_map(|f| sample_dates::sample_today(&f.text));
    let Some(written_for) = written_for else {
        return Ok((playlists.to_vec(), materials_toml.to_owned()));
    };
    let today = sample_dates::day_in_china(state.clock.now());
    let days = sample_dates::days_to_today(written_for, today);
    tracing::info!(%written_for, %today, days, "demo site: sample dates moved to today");
    let mut moved = Vec::with_capacity(playlists.len());
    for file in playlists {
        let text = sample_dates::shift_dates(&file.text, days)
            .with_context(|| format!("moving the dates in {}", file.name))?;
        moved.push(crate::store::PlaylistFile {
            name: file.name.clone(),
            text,
        });
    }
    let materials = sample_dates::shift_dates(materials_toml, days)
        .context("moving the dates in materials.toml")?;
    Ok((moved, materials))
}

/// Play records per batch for demo agents sending their past (the default,
/// 200, suits a live agent; 500 records stay well under the envelope limit).
const PAST_BATCH_RECORDS: usize = 500;

/// What [`start_agents`] started: the agent threads, the emulated card,
/// and per screen how many past records its journal holds.
type Started = (
    Vec<std::thread::JoinHandle<()>>,
    Option<ledcast_agent::bridge::emulator::EmulatorServer>,
    Vec<(String, usize)>,
);

/// Enrolls one agent per screen through the real API and starts each on
/// its own thread; [`BRIDGED_SCREEN`]'s agent drives an emulated Huidu card
/// through the bridge sink. With `history`, each agent's journal first gets
/// its screen's replayed past, which the agent sends when it starts.
async fn start_agents(
    running: &Running,
    data_dir: &Path,
    stopping: watch::Receiver<bool>,
    history: Option<&history::History>,
) -> anyhow::Result<Started> {
    let state = &running.state;
    let screens = state.store.list_screens(None).await?;
    // Every screen's past is replayed at once (each on a blocking thread)
    // before its agent starts and sends it.
    let mut replays = Vec::new();
    if let Some(history) = history {
        for screen in &screens {
            let vendor = (screen.id == BRIDGED_SCREEN).then_some("huidu");
            let agent_dir = data_dir.join("agents").join(&screen.id);
            replays.push((
                screen.id.clone(),
                history.start_journal(state, screen, &agent_dir, vendor)?,
            ));
        }
    }
    let mut expected = Vec::new();
    for (screen_id, replay) in replays {
        expected.push((screen_id, replay.await.context("the replay stopped")??));
    }
    let mut card = None;
    let server_url = format!("http://{}", running.http_addr);
    let profiles = state.store.list_profiles().await?;
    let mut threads = Vec::new();
    for screen in screens {
        let code = auth::generate_enrollment_code();
        let now = state.clock.now().as_millis();
        state
            .store
            .create_enrollment_code(
                &auth::token_sha256(&auth::normalise_enrollment_code(&code)),
                &screen.id,
                "demo",
                now,
                now + 600_000,
            )
            .await?;
        let agent_dir = data_dir.join("agents").join(&screen.id);
        std::fs::create_dir_all(&agent_dir)?;
        let (url, dir) = (server_url.clone(), agent_dir.clone());
        tokio::task::spawn_blocking(move || ledcast_agent::enroll(&url, &code, &dir))
            .await?
            .with_context(|| format!("enrolling the demo agent of {}", screen.id))?;
        let mut config = ledcast_agent::AgentConfig::for_data_dir(&agent_dir);
        if let Some(profile) = profiles.iter().find(|p| p.id == screen.profile_id) {
            config.display.width_px = profile.width;
            config.display.height_px = profile.height;
        }
        if screen.id == BRIDGED_SCREEN {
            let server = ledcast_agent::bridge::emulator::EmulatorServer::spawn_huidu_door_strip(
                config.display.width_px,
                config.display.height_px,
                "127.0.0.1:0",
            )
            .context("starting the demo's emulated controller card")?;
            config.display.sink = ledcast_agent::config::SinkKind::Bridge;
            config.display.bridge.address = server.addr.to_string();
            // Read the card back often, so the screen page follows it closely.
            config.display.bridge.check_interval_seconds = 5;
            config.display.bridge.brightness = vec![
                ledcast_agent::config::BrightnessStep {
                    start: "07:00".to_owned(),
                    percent: 80,
                },
                ledcast_agent::config::BrightnessStep {
                    start: "19:30".to_owned(),
                    percent: 30,
                },
            ];
            card = Some(server);
        }
        if history.is_some() {
            // Back after a week offline: send the backlog in larger batches.
            config.plays.batch_max_records = PAST_BATCH_RECORDS;
        }
        let mut stopping = stopping.clone();
        let screen_id = screen.id.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("agent-{screen_id}"))
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(error) => {
                            tracing::error!(screen = %screen_id, %error, "demo agent runtime");
                            return;
                        }
                    };
                    let shutdown = async move {
                        let _ = stopping.wait_for(|stop| *stop).await;
                    };
                    if let Err(error) = runtime.block_on(ledcast_agent::run(config, shutdown)) {
                        tracing::error!(screen = %screen_id, %error, "demo agent stopped");
                    }
                })?,
        );
        // Stagger start-ups a little so the log reads in order.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((threads, card, expected))
}

#[cfg(test)]
mod tests {
    use ledcast_protocol::v1 as protocol;

    /// The README's walkthrough ("Import, approve and watch a weekly library
    /// edition"): the demo site, then the sample pack imported and diffed.
    /// Both are sample data moved to the day they are loaded, so the numbers
    /// the README prints hold on any date: here a Sunday night three months
    /// after the sample was written and a Wednesday morning a year after.
    #[tokio::test]
    async fn the_readme_walkthrough_shows_the_same_numbers_on_any_day() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for at in ["2027-03-07T23:30:00+08:00", "2028-01-05T10:00:00+08:00"] {
            let store = crate::store::Store::connect("sqlite::memory:", None)
                .await
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let state = crate::http::tests::test_state(&store, dir.path()).await;
            let now = chrono::DateTime::parse_from_rfc3339(at).unwrap();
            state.clock.set(protocol::Timestamp(now.timestamp_millis()));
            let files = crate::apply::read_playlist_dir(&root.join("playlists")).unwrap();
            let materials = std::fs::read_to_string(root.join("playlists/materials.toml")).unwrap();
            super::set_up(&state, &files, &materials, &root.join("media"))
                .await
                .unwrap();
            let zip = std::fs::read(root.join("media/packs/gaogang-2026-W48.zip")).unwrap();
            let pack = ledcast_pack::open_zip(&zip, &ledcast_pack::PackLimits::default()).unwrap();
            let report = crate::packs::import_pack(&state, &pack, "cli", |_, _, _| {})
                .await
                .unwrap();
            assert_eq!(
                report.to_string(),
                "import edition=gaogang-2026-W48 imported=6 duplicates=0 refused=0",
                "{at}"
            );
            let diff =
                crate::http::editions::rotation_diff(&state, "gaogang-2026-W48", state.clock.now())
                    .await
                    .unwrap();
            assert_eq!(
                diff.summary["en"],
                "10 screens change: 4 posters out, 4 in; 1 video out, 0 in; 0 texts out, 2 in",
                "{at}"
            );
        }
    }
}
