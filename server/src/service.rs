//! Booting the server: building the shared state and `serve` itself.
//! Applying playlist files is [`crate::apply`]'s, material imports and
//! renditions [`crate::materials`]'s, compiling rotations
//! [`crate::recompiler`]'s.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::broadcast;

use crate::config::Config;
use crate::events::EVENT_CHANNEL_CAPACITY;
use crate::media_store::ContentStore;
use crate::state::AppState;
use crate::store::Store;

use crate::recompiler::{announce_once, refresh_loop, watch_stored_versions};

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
    let app = crate::router::app(state.clone());
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
