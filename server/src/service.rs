//! Server services between the HTTP layer and the store: building the
//! shared state, `serve` itself, applying playlist files, renditions and
//! material imports. Compiling rotations is [`crate::recompiler`]'s.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;
use tokio::sync::broadcast;

use crate::config::Config;
use crate::digest::sha256_hex;
use crate::events::EVENT_CHANNEL_CAPACITY;
use crate::media_store::ContentStore;
use crate::state::AppState;
use crate::store::Store;

use crate::recompiler::{announce_once, refresh_loop, watch_stored_versions};
pub use crate::recompiler::{
    catalog, catalog_with, compile_instant, content_sha256, recompile, stored_model, CompileGate,
    CompileReport,
};

/// Opens the database, media store and key for `config` and builds the
/// state handlers share. `public_url` is what agents are told to use.
pub async fn build_state(config: Config, public_url: String) -> anyhow::Result<AppState> {
    tokio::fs::create_dir_all(&config.data_dir)
        .await
        .with_context(|| format!("creating data_dir {}", config.data_dir.display()))?;
    let store = Store::connect(&config.effective_database_url(), None)
        .await
        .context("opening the database (database_url)")?;
    let mut media = ContentStore::open(config.data_dir.join("media"))
        .await
        .context("opening the media store under data_dir")?;
    let mut screenshots = ContentStore::open(config.data_dir.join("screenshots"))
        .await
        .context("opening the screenshot store under data_dir")?;
    if config.replicas.key_encryption_key_file.is_some() {
        anyhow::ensure!(
            store.backend() == crate::store::Backend::Postgres,
            "[replicas] needs the replicas' shared PostgreSQL database: set database_url = \"postgres://…\""
        );
        anyhow::ensure!(
            config.mqtt.broker_url.is_some(),
            "[replicas] needs a broker every replica shares (each embedded broker serves one server): set [mqtt] broker_url"
        );
        let now = crate::clock::Clock::system().now().as_millis();
        crate::replicas::sync_keys(&config, &store, now)
            .await
            .context("taking the deployment's server key from the database ([replicas])")?;
        media = media.shared_through(store.clone());
        screenshots = screenshots.shared_through(store.clone());
        for files in [media.clone(), screenshots.clone()] {
            match files.share_local_files().await {
                Ok(0) => {}
                Ok(added) => tracing::info!(
                    added,
                    "kept this server's files in the database for the other replicas"
                ),
                Err(error) => {
                    tracing::warn!(%error, "could not keep this server's files in the database")
                }
            }
        }
    }
    let data_dir = config.data_dir.clone();
    let signing_key = tokio::task::spawn_blocking(move || crate::keys::load_or_generate(&data_dir))
        .await
        .context("loading the server key")??;
    let (events, _) = broadcast::channel(EVENT_CHANNEL_CAPACITY);
    Ok(AppState {
        store,
        media,
        screenshots,
        config: Arc::new(config),
        signing_key: Arc::new(signing_key),
        events,
        public_url: public_url.trim_end_matches('/').into(),
        metrics: Default::default(),
        compile_lock: Default::default(),
        announced: Default::default(),
        clock: crate::clock::Clock::system(),
    })
}

/// What a running server exposes to whoever started it (the demo, tests).
#[derive(Clone)]
pub struct Running {
    /// The shared state.
    pub state: AppState,
    /// Where HTTP listens (the real port when 0 was asked for).
    pub http_addr: std::net::SocketAddr,
    /// The MQTT broker URL in use (embedded or external).
    pub broker_url: String,
    /// The delivery handle (publishing, metrics).
    pub delivery: crate::push::Delivery,
    /// The server's own login on the embedded broker (for probes and tests).
    pub embedded_broker_login: Option<(String, String)>,
}

/// Runs the HTTP server until `shutdown` resolves, then drains requests and
/// closes the database. The listen address may be port 0; the bound
/// address is logged and used as the public URL unless one is configured.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(config, shutdown, |_| {}).await
}

/// [`serve`], calling `on_ready` once HTTP, the broker and delivery are up.
pub async fn serve_with(
    mut config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(Running),
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| {
            format!(
                "listening on {} (set `listen` in the config or pass --listen 127.0.0.1:0 for a free port)",
                config.listen
            )
        })?;
    let bound = listener.local_addr()?;
    if config.public_url.is_none() && bound.ip().is_unspecified() {
        tracing::warn!(
            address = %bound,
            "listening on all interfaces without public_url: agents would be told http://{bound}; \
             set public_url to the address agents can reach"
        );
    }
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    // The embedded broker starts before the state so enrollment hands out
    // its real address (the configured port may be 0).
    let prepared = crate::push::prepare(&mut config.mqtt)?;
    let state = build_state(config, public_url).await?;
    tracing::info!(address = %bound, public_url = %state.public_url, "ledcast server listening");
    // One shutdown signal for every component: clone `stopping` and await
    // `until_stopped(stopping.clone())`.
    let (stop_tx, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    for (screen, version) in state.store.latest_versions().await? {
        announce_once(&state, &screen, version);
    }
    let broker_url = match &prepared.embedded {
        Some(embedded) => embedded.url(),
        None => state.config.mqtt.broker_url.clone().unwrap_or_default(),
    };
    let embedded_broker_login = prepared.embedded_login();
    let (delivery, push_task) =
        crate::push::run(prepared, &state, until_stopped(stopping.clone())).await?;
    state.compile_lock.publishes.store(true, Ordering::Relaxed);
    let refresher = tokio::spawn(refresh_loop(state.clone(), stopping.clone()));
    let watcher = tokio::spawn(watch_stored_versions(state.clone(), stopping.clone()));
    let expiry_reports = tokio::spawn(crate::expiry::daily_task(state.clone(), stopping.clone()));
    let app = crate::http::app(state.clone());
    on_ready(Running {
        state: state.clone(),
        http_addr: bound,
        broker_url,
        delivery,
        embedded_broker_login,
    });
    let watchdog = tokio::spawn(notify_systemd(stopping.clone()));
    let http = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(until_stopped(stopping.clone()));
    // Once stopping, requests in flight get HTTP_DRAIN to finish; then the
    // rest is cut so that a stop is bounded (systemd's TimeoutStopSec).
    let drain_limit = {
        let stopping = stopping.clone();
        async move {
            until_stopped(stopping).await;
            tokio::time::sleep(HTTP_DRAIN).await;
        }
    };
    tokio::select! {
        served = std::future::IntoFuture::into_future(http) => served.context("serving HTTP")?,
        () = drain_limit => tracing::warn!(
            seconds = HTTP_DRAIN.as_secs(),
            "HTTP requests still running after the drain time; closing them"
        ),
    }
    watchdog.abort();
    // The background loops end on the stop signal (none is aborted mid-way).
    let _ = tokio::join!(refresher, watcher, expiry_reports);
    // The recompiler finishes the compile it is in (its rotations are
    // stored and announced) and stops.
    state.compile_lock.shutdown().await;
    // Delivery has been draining since the stop signal: it stores and acks
    // what agents had sent, then disconnects. Wait for it (bounded) before
    // the store closes.
    let _ = tokio::time::timeout(
        crate::push::INGEST_DRAIN + std::time::Duration::from_secs(5),
        push_task,
    )
    .await;
    let _guard = state.compile_lock.lock().await;
    state.store.close().await;
    tracing::info!("ledcast server stopped");
    Ok(())
}

/// How long requests in flight may run on after a stop signal.
const HTTP_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Tells systemd (when started by a `Type=notify` unit) that the server is
/// ready, pings its watchdog while the runtime runs, and says when it stops.
/// Outside systemd every call is a no-op.
async fn notify_systemd(stopping: tokio::sync::watch::Receiver<bool>) {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    let mut usec = 0;
    let watchdog = sd_notify::watchdog_enabled(false, &mut usec)
        .then(|| std::time::Duration::from_micros(usec / 2));
    let ping = async {
        match watchdog {
            Some(every) => loop {
                tokio::time::sleep(every).await;
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            },
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ping => {}
        () = until_stopped(stopping) => {
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        }
    }
}

/// Resolves once the server is shutting down (or the signal is gone).
pub async fn until_stopped(mut stopping: tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// One file's change in an apply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileChange {
    /// File name.
    pub name: String,
    /// `added`, `removed`, `changed` or `unchanged`.
    pub change: &'static str,
}

/// What an apply did (or would do, in a dry run).
#[derive(Debug, serde::Serialize)]
pub struct ApplyOutcome {
    /// True when the files were stored (not a dry run, no errors).
    pub applied: bool,
    /// Per-file changes against the stored set.
    pub diff: Vec<FileChange>,
    /// Every diagnostic of parse and compile (file:line:column, hint).
    pub diagnostics: Vec<compiler::Diagnostic>,
    /// Rotation versions stored.
    pub stored: Vec<(String, u64)>,
    /// Schedules that are new or changed and wait for an approver (they
    /// are left out of rotations until approved).
    pub pending_schedules: Vec<String>,
}

/// Validates playlist files with the compiler; unless `dry_run` or there
/// are errors, stores them verbatim, mirrors sites/profiles/screens into
/// the store and recompiles. Audit is the caller's.
pub async fn apply_files(
    state: &AppState,
    files: &[crate::store::PlaylistFile],
    actor: &str,
    dry_run: bool,
) -> anyhow::Result<ApplyOutcome> {
    let started = crate::clock::monotonic();
    let stored_files = state.store.playlist_files().await?;
    let mut diff: Vec<FileChange> = files
        .iter()
        .map(|f| FileChange {
            name: f.name.clone(),
            change: match stored_files.iter().find(|s| s.name == f.name) {
                None => "added",
                Some(s) if s.text == f.text => "unchanged",
                Some(_) => "changed",
            },
        })
        .collect();
    for old in &stored_files {
        if !files.iter().any(|f| f.name == old.name) {
            diff.push(FileChange {
                name: old.name.clone(),
                change: "removed",
            });
        }
    }
    let inputs: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.name.as_str(), f.text.as_str()))
        .collect();
    let (model, mut diagnostics) = compiler::parse(&inputs);
    let now = state.clock.now();
    if !dry_run {
        // Profiles first, so materials get renditions for them before the catalog is built.
        for profile in &model.profiles {
            state.store.upsert_profile(&profile_row(profile)).await?;
        }
        ensure_renditions(state).await?;
    }
    let catalog = catalog(state).await?;
    let rotations = &state.config.rotations;
    let window = compiler::Window::hours(
        compile_instant(now),
        rotations.horizon_hours,
        rotations.expires_after_hours,
    );
    let checked_ms = started.elapsed().as_millis();
    let (_, compile_diagnostics) = compiler::compile(&model, &catalog, window);
    tracing::debug!(
        checked_ms,
        compiled_ms = started.elapsed().as_millis(),
        "apply check timings (cumulative)"
    );
    diagnostics.extend(compile_diagnostics);
    let has_errors = diagnostics.iter().any(|d| d.is_error());
    if dry_run || has_errors {
        return Ok(ApplyOutcome {
            applied: false,
            diff,
            diagnostics,
            stored: Vec::new(),
            pending_schedules: Vec::new(),
        });
    }
    let now_ms = now.as_millis();
    state
        .store
        .replace_playlist_files(files, actor, now_ms)
        .await?;
    let fingerprints: Vec<(String, String, String)> = model
        .schedules
        .iter()
        .map(|s| {
            let playlist = model
                .playlists
                .get(s.playlist)
                .map(|p| p.id.clone())
                .unwrap_or_default();
            let fingerprint = format!("{:?}", (&playlist, &s.targets, &s.when, s.priority));
            (s.id.clone(), playlist, sha256_hex(fingerprint.as_bytes()))
        })
        .collect();
    let pending_schedules = state
        .store
        .sync_schedules(&fingerprints, actor, now_ms)
        .await?;
    for site in &model.sites {
        state
            .store
            .upsert_site(
                &crate::store::SiteRow {
                    id: site.id.clone(),
                    organisation_id: site.organisation.clone(),
                    name: site.name.clone(),
                },
                now_ms,
            )
            .await?;
    }
    let screens: Vec<crate::store::ScreenRow> = model
        .screens
        .iter()
        .filter_map(|screen| {
            let site = model.sites.get(screen.site)?;
            let profile = model.profiles.get(screen.profile)?;
            Some(crate::store::ScreenRow {
                id: screen.id.as_str().to_owned(),
                site_id: site.id.clone(),
                name: screen.name.clone(),
                profile_id: profile.id.clone(),
                tags: screen.tags.clone(),
                timezone: screen.timezone.name().to_owned(),
                opening_hours: compiler::calendar_text::opening_hours_text(&site.opening_hours),
            })
        })
        .collect();
    state.store.upsert_screens(&screens, now_ms).await?;
    let stored_ms = started.elapsed().as_millis();
    let report = recompile(state, now).await?;
    tracing::debug!(
        screens = model.screens.len(),
        stored_ms,
        total_ms = started.elapsed().as_millis(),
        "apply timings (cumulative)"
    );
    Ok(ApplyOutcome {
        applied: true,
        diff,
        diagnostics,
        stored: report.stored,
        pending_schedules,
    })
}

/// A render target for the media pipeline from a stored profile.
pub fn render_profile(profile: &crate::store::ProfileRow) -> ledcast_media::RenderProfile {
    ledcast_media::RenderProfile {
        width: profile.width,
        height: profile.height,
        color: match profile.color_class.as_str() {
            "mono" => ledcast_media::ColorClass::Mono,
            "dual" => ledcast_media::ColorClass::Dual,
            _ => ledcast_media::ColorClass::Full,
        },
        video: profile.can_play_video,
        scroll: profile.can_scroll,
    }
}

/// Makes every missing (material, profile) rendition the profile can show,
/// storing its bytes content-addressed with what the renderer measured and
/// judged ([`crate::legibility::RenditionFacts`]). Renditions made before
/// the legibility rules (no facts), and video renditions stored before
/// their codec was recorded, are made again; an old one that lit no
/// LED is listed as illegible media first, so compliance never counts its
/// plays. A text that cannot be rendered legibly for a profile is recorded
/// with the reason. Returns how many renditions were made.
pub async fn ensure_renditions(state: &AppState) -> anyhow::Result<usize> {
    let profiles = state.store.list_profiles().await?;
    let materials = state.store.list_materials(&Default::default()).await?;
    let renditions = state.store.list_renditions().await?;
    let judged: std::collections::BTreeSet<(String, String)> = renditions
        .iter()
        .filter(|r| crate::legibility::RenditionFacts::complete(r.facts.as_deref(), &r.mime))
        .map(|r| (r.material_id.clone(), r.profile_id.clone()))
        .collect();
    let refused: std::collections::BTreeSet<(String, String)> = state
        .store
        .list_rendition_refusals()
        .await?
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let mut made = 0;
    for material in materials
        .iter()
        .filter(|m| m.state != crate::store::MaterialState::Retired)
    {
        let missing: Vec<&crate::store::ProfileRow> = profiles
            .iter()
            .filter(|p| {
                let key = (material.id.clone(), p.id.clone());
                !judged.contains(&key) && !refused.contains(&key)
            })
            .collect();
        if missing.is_empty() {
            continue;
        }
        let Ok(sha) = protocol::Sha256::from_hex(&material.sha256) else {
            continue;
        };
        let bytes = state
            .media
            .read(&sha)
            .await
            .with_context(|| format!("reading stored material {}", material.id))?;
        // Renditions made before the legibility rules: judge what they showed.
        let mut outdated: Vec<(String, Vec<u8>)> = Vec::new();
        for old in renditions.iter().filter(|r| {
            r.material_id == material.id
                && r.facts.is_none()
                && r.mime == "image/png"
                && missing.iter().any(|p| p.id == r.profile_id)
        }) {
            if let Ok(old_sha) = protocol::Sha256::from_hex(&old.sha256) {
                if let Ok(png) = state.media.read(&old_sha).await {
                    outdated.push((old.sha256.clone(), png));
                }
            }
        }
        let targets: Vec<(ledcast_media::RenderProfile, ledcast_media::Fit)> = missing
            .iter()
            .map(|p| {
                (
                    render_profile(p),
                    ledcast_media::Fit::Fit {
                        background: ledcast_media::Rgb(0, 0, 0),
                    },
                )
            })
            .collect();
        let (results, dark_before) = tokio::task::spawn_blocking(move || {
            let dark: Vec<String> = outdated
                .into_iter()
                .filter(|(_, png)| ledcast_media::lit_pixels(png).is_ok_and(|lit| lit == 0))
                .map(|(sha, _)| sha)
                .collect();
            let limits = ledcast_media::Limits::default();
            let results = ledcast_media::load_stored(&bytes, &limits).map(|m| {
                let chars = m
                    .text
                    .as_deref()
                    .map_or(0, |t| t.chars().filter(|c| *c != '\n').count() as u32);
                (ledcast_media::render_many(&m, &targets), targets, chars)
            });
            (results, dark)
        })
        .await?;
        let now = crate::clock::now().as_millis();
        for old in &dark_before {
            state
                .store
                .mark_media_illegible(
                    old,
                    "no lit pixels (rendered before the legibility rules)",
                    now,
                )
                .await?;
        }
        let (results, targets, chars) = match results {
            Ok(results) => results,
            Err(error) => {
                tracing::warn!(material = %material.id, %error, "stored material no longer loads");
                continue;
            }
        };
        for ((profile, (target, _)), result) in missing.iter().zip(&targets).zip(results) {
            let rendition = match result {
                Ok(r) => r,
                Err(error) => {
                    match ledcast_media::judge_refusal(&error, target, chars) {
                        Some(problem) => {
                            let problem = crate::legibility::Problem::from(&problem);
                            tracing::info!(material = %material.id, profile = %profile.id, problem = %problem.en, "no legible rendition");
                            state
                                .store
                                .upsert_rendition_refusal(
                                    &material.id,
                                    &profile.id,
                                    &serde_json::to_string(&problem)?,
                                )
                                .await?;
                        }
                        None => {
                            tracing::debug!(material = %material.id, profile = %profile.id, %error, "no rendition")
                        }
                    }
                    continue;
                }
            };
            let facts = crate::legibility::RenditionFacts::of(&rendition, target);
            if let Some(problem) = facts.problems.first() {
                state
                    .store
                    .mark_media_illegible(&rendition.media.sha256.to_hex(), &problem.en, now)
                    .await?;
            }
            store_rendition(state, &material.id, &profile.id, &rendition, &facts).await?;
            made += 1;
        }
    }
    Ok(made)
}

/// Stores one rendition's bytes and records it with its facts.
pub async fn store_rendition(
    state: &AppState,
    material_id: &str,
    profile_id: &str,
    rendition: &ledcast_media::Rendition,
    facts: &crate::legibility::RenditionFacts,
) -> anyhow::Result<()> {
    let digest = state.media.put(&rendition.bytes).await?;
    anyhow::ensure!(
        digest == rendition.media.sha256,
        "rendition digest mismatch for {material_id}/{profile_id}"
    );
    let now = state.clock.now().as_millis();
    state
        .store
        .register_media(
            &digest.to_hex(),
            &rendition.media.mime,
            rendition.bytes.len() as u64,
            now,
        )
        .await?;
    state
        .store
        .upsert_rendition(&crate::store::RenditionRow {
            material_id: material_id.to_owned(),
            profile_id: profile_id.to_owned(),
            sha256: digest.to_hex(),
            size_bytes: rendition.bytes.len() as i64,
            mime: rendition.media.mime.clone(),
            width: i64::from(rendition.media.width),
            height: i64::from(rendition.media.height),
            facts: Some(serde_json::to_string(facts)?),
        })
        .await?;
    Ok(())
}

fn profile_row(profile: &compiler::model::Profile) -> crate::store::ProfileRow {
    crate::store::ProfileRow {
        id: profile.id.clone(),
        width: profile.width,
        height: profile.height,
        color_class: format!("{:?}", profile.color).to_lowercase(),
        can_play_video: profile.video,
        can_scroll: profile.scroll,
    }
}

/// Metadata of a material to import.
#[derive(Debug, Clone)]
pub struct MaterialMeta {
    /// Material id (playlists refer to it).
    pub id: String,
    /// Title.
    pub title: String,
    /// Category tags.
    pub tags: Vec<String>,
    /// Origin.
    pub source: String,
    /// Validity start (ms).
    pub valid_from: Option<i64>,
    /// Validity end (ms).
    pub valid_until: Option<i64>,
    /// Counts as an anti-fraud warning.
    pub is_warning: bool,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The media pipeline refused the bytes (user-facing message).
    #[error("{0}")]
    Media(ledcast_media::IngestError),
    /// A video no screen profile can play (what each profile's player box
    /// lacks, in Chinese and English).
    #[error("{} / {}", .0.zh, .0.en)]
    Unplayable(crate::legibility::Problem),
    /// The store refused (e.g. the id exists).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Anything else (I/O).
    #[error("{0}")]
    Other(String),
}

/// Runs bytes through the media pipeline, stores the re-encoded material
/// under its SHA-256 (state `pending`, uploaded by `uploader_id`) and makes
/// its renditions. Returns the row, renditions made and the pipeline's notes.
pub async fn import_material(
    state: &AppState,
    declared_name: &str,
    bytes: Vec<u8>,
    meta: MaterialMeta,
    uploader_id: &str,
) -> Result<(crate::store::MaterialRow, usize, Vec<String>), ImportError> {
    let ingested = ingest_media(declared_name, bytes).await?;
    let notes = ingested.notes.clone();
    let material = store_ingested(state, &ingested, meta, uploader_id).await?;
    let made = ensure_renditions(state)
        .await
        .map_err(|e| ImportError::Other(e.to_string()))?;
    Ok((material, made, notes))
}

/// Runs bytes through the media pipeline (sniff, validate, re-encode) on a
/// blocking thread; nothing is stored.
pub async fn ingest_media(
    declared_name: &str,
    bytes: Vec<u8>,
) -> Result<ledcast_media::Material, ImportError> {
    let name = declared_name.to_owned();
    tokio::task::spawn_blocking(move || {
        ledcast_media::ingest(&bytes, &name, &ledcast_media::Limits::default())
    })
    .await
    .map_err(|e| ImportError::Other(e.to_string()))?
    .map_err(ImportError::Media)
}

/// Stores already-ingested media under its SHA-256 and inserts the material
/// (state `pending`). Makes no renditions (call [`ensure_renditions`]).
/// A video that no profile of the applied playlist files can play is
/// refused ([`ImportError::Unplayable`]) and nothing is stored.
pub async fn store_ingested(
    state: &AppState,
    ingested: &ledcast_media::Material,
    meta: MaterialMeta,
    uploader_id: &str,
) -> Result<crate::store::MaterialRow, ImportError> {
    if let Some(codec) = ingested.video_codec {
        let model = crate::recompiler::stored_model(state, state.clock.now())
            .await
            .map_err(|e| ImportError::Other(e.to_string()))?;
        let profiles = model.map(|(m, _)| m.profiles).unwrap_or_default();
        if let Some(problem) = crate::legibility::video_playable_nowhere(
            &profiles,
            ingested.width,
            ingested.height,
            crate::legibility::video_codec(codec),
        ) {
            return Err(ImportError::Unplayable(problem));
        }
    }
    let digest = state
        .media
        .put(&ingested.bytes)
        .await
        .map_err(|e| ImportError::Other(e.to_string()))?;
    let now = state.clock.now().as_millis();
    state
        .store
        .register_media(
            &digest.to_hex(),
            &ingested.mime,
            ingested.bytes.len() as u64,
            now,
        )
        .await?;
    let kind = match ingested.kind {
        ledcast_media::MaterialKind::Poster => crate::store::MaterialKind::Poster,
        ledcast_media::MaterialKind::Video => crate::store::MaterialKind::Video,
        ledcast_media::MaterialKind::Text => crate::store::MaterialKind::Text,
    };
    let material = crate::store::MaterialRow {
        id: meta.id,
        sha256: digest.to_hex(),
        kind,
        title: meta.title,
        tags: meta.tags,
        source: meta.source,
        mime: ingested.mime.clone(),
        size_bytes: ingested.bytes.len() as i64,
        width: (ingested.width > 0).then_some(i64::from(ingested.width)),
        height: (ingested.height > 0).then_some(i64::from(ingested.height)),
        duration_ms: ingested.duration_ms.and_then(|d| i64::try_from(d).ok()),
        valid_from: meta.valid_from,
        valid_until: meta.valid_until,
        state: crate::store::MaterialState::Pending,
        uploaded_by: uploader_id.to_owned(),
        uploaded_at: now,
        decided_by: None,
        decided_at: None,
        is_warning: meta.is_warning,
    };
    state.store.insert_material(&material).await?;
    Ok(material)
}

/// Imports the materials a `materials.toml` lists (files relative to
/// `media_dir`, texts inline), approving the approved ones as `approver_id`.
/// Already-present ids are skipped. Returns `(imported, skipped, problems)`.
pub async fn import_materials_file(
    state: &AppState,
    materials_toml: &str,
    media_dir: &std::path::Path,
    uploader_id: &str,
    approver_id: &str,
) -> anyhow::Result<(usize, usize, Vec<String>)> {
    let (entries, diagnostics) = compiler::parse_materials(
        compile_cmd_materials_name(),
        materials_toml,
        chrono_tz::Asia::Shanghai,
    );
    let mut problems: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    let (mut imported, mut skipped) = (0, 0);
    for entry in entries {
        if state.store.material(&entry.id).await?.is_some() {
            skipped += 1;
            continue;
        }
        let (name, bytes) = match (&entry.file, &entry.text) {
            (Some(file), _) => {
                let relative = std::path::Path::new(file);
                if relative
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
                {
                    problems.push(format!(
                        "{}: file {file:?} must stay inside the media directory",
                        entry.id
                    ));
                    continue;
                }
                let path = media_dir.join(relative);
                match tokio::fs::read(&path).await {
                    Ok(bytes) => (file.clone(), bytes),
                    Err(e) => {
                        problems.push(format!("{}: reading {}: {e}", entry.id, path.display()));
                        continue;
                    }
                }
            }
            (None, Some(text)) => (format!("{}.txt", entry.id), text.clone().into_bytes()),
            (None, None) => {
                problems.push(format!("{}: neither file nor text", entry.id));
                continue;
            }
        };
        let meta = MaterialMeta {
            id: entry.id.clone(),
            title: entry.title.clone(),
            tags: entry
                .tags
                .iter()
                .cloned()
                .chain(entry.category.clone())
                .collect(),
            source: entry.source.clone().unwrap_or_default(),
            valid_from: entry.valid_from,
            valid_until: entry.valid_until,
            is_warning: entry.warning,
        };
        match import_material(state, &name, bytes, meta, uploader_id).await {
            Ok(_) => imported += 1,
            Err(e) => {
                problems.push(format!("{}: {e}", entry.id));
                continue;
            }
        }
        if entry.approved {
            state
                .store
                .decide_material(
                    &entry.id,
                    crate::store::MaterialState::Pending,
                    crate::store::MaterialState::Approved,
                    approver_id,
                    state.clock.now().as_millis(),
                )
                .await?;
        }
    }
    Ok((imported, skipped, problems))
}

fn compile_cmd_materials_name() -> &'static str {
    crate::site_files::MATERIALS_FILE
}

/// The `*.toml` files of a playlists directory, except `materials.toml`.
pub fn read_playlist_dir(dir: &std::path::Path) -> anyhow::Result<Vec<crate::store::PlaylistFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if !name.ends_with(".toml") || name == crate::site_files::MATERIALS_FILE {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        files.push(crate::store::PlaylistFile { name, text });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    if files.is_empty() {
        anyhow::bail!("no playlist *.toml files in {}", dir.display());
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_happen_on_the_hour() {
        let t = protocol::Timestamp(1_796_004_000_000 + 59 * 60_000 + 999);
        assert_eq!(compile_instant(t), protocol::Timestamp(1_796_004_000_000));
    }
}
