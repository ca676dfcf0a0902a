//! Wiring delivery into `serve`: start the embedded broker (or use the
//! configured external one), connect the publisher/ingest client, forward
//! the core's [`ServerEvent`]s to MQTT, and re-send rotations to screens that
//! report an older version than desired ([`super::presence::next_step`]).
//!
//! `serve` calls [`prepare`] before it builds the state (so enrollment hands
//! out the broker's real address even when the port was 0) and [`run`] after.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use ledcast_protocol::v1 as protocol;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use super::presence::{next_step, PresencePolicy, Reported, Step};
use super::{link, BoxFuture, BrokerAuth, BrokerLogin, Delivery, DeliveryOptions, EmbeddedBroker};
use crate::events::ServerEvent;
use crate::state::AppState;
use crate::store::{ScreenPresence, Store};

/// The server's own broker account name on the embedded broker.
pub const SERVER_BROKER_USERNAME: &str = "ledcast-server";

/// What [`prepare`] set up.
pub struct Prepared {
    /// The embedded broker, when no external one is configured.
    pub embedded: Option<EmbeddedBroker>,
    /// Filled in by [`run`]: device logins are checked against it.
    store_cell: Arc<OnceLock<Store>>,
    /// The server's own broker password on the embedded broker (random per start).
    server_password: String,
}

impl Prepared {
    /// The server's own login on the embedded broker (`None` with an external broker).
    pub fn embedded_login(&self) -> Option<(String, String)> {
        self.embedded.as_ref().map(|_| {
            (
                SERVER_BROKER_USERNAME.to_owned(),
                self.server_password.clone(),
            )
        })
    }
}

/// Starts the embedded broker unless `mqtt.broker_url` names an external
/// one, and rewrites `mqtt.embedded_listen` to the real bound address.
pub fn prepare(mqtt: &mut crate::config::MqttConfig) -> anyhow::Result<Prepared> {
    let store_cell: Arc<OnceLock<Store>> = Arc::default();
    let server_password = crate::auth::random_hex::<24>();
    if mqtt.broker_url.is_some() {
        return Ok(Prepared {
            embedded: None,
            store_cell,
            server_password,
        });
    }
    let auth = broker_auth(store_cell.clone(), server_password.clone());
    let embedded = super::start_embedded_broker(&mqtt.embedded_listen, Some(auth))?;
    mqtt.embedded_listen = embedded.addr.to_string();
    Ok(Prepared {
        embedded: Some(embedded),
        store_cell,
        server_password,
    })
}

/// Connects delivery and runs it until `shutdown`; the handle ends after a flush.
pub async fn run(
    prepared: Prepared,
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(Delivery, JoinHandle<()>)> {
    let _ = prepared.store_cell.set(state.store.clone());
    let mqtt = &state.config.mqtt;
    let (broker_url, username, password) = match &prepared.embedded {
        Some(embedded) => (
            embedded.url(),
            Some(SERVER_BROKER_USERNAME.to_owned()),
            Some(prepared.server_password.clone()),
        ),
        None => (
            mqtt.broker_url.clone().context("mqtt.broker_url")?,
            mqtt.username.clone(),
            mqtt.password.clone(),
        ),
    };
    let options = DeliveryOptions {
        broker_url,
        username,
        password,
        client_id: format!("ledcast-server-{}", crate::auth::random_hex::<4>()),
        server_key: (*state.signing_key).clone(),
        // Several servers may share an external broker's play stream. The
        // embedded broker serves this one process only, and rumqttd 0.20
        // forwards a round-robin shared subscription one message per sweep.
        shared_subscription_group: prepared
            .embedded
            .is_none()
            .then(|| "ledcast-ingest".to_owned()),
        reconcile_window: Duration::from_secs(2),
        telemetry: state.metrics.clone(),
    };
    let (delivery, delivery_task) = link::start(options, Arc::new(state.store.clone()), shutdown)
        .await
        .context("starting MQTT delivery")?;
    // Subscribe before anything below can announce a rotation.
    let forwarder = tokio::spawn(forward_events(
        state.clone(),
        state.events.subscribe(),
        delivery.clone(),
    ));
    let data_dir = state.config.data_dir.clone();
    match tokio::task::spawn_blocking(move || crate::keys::load_previous(&data_dir)).await? {
        Ok(Some(previous)) => {
            let (state, delivery) = (state.clone(), delivery.clone());
            tokio::spawn(async move {
                if let Err(error) =
                    super::key_transfer::transfer(&state, &delivery, &previous).await
                {
                    tracing::error!(%error, "telling agents the new server key failed; it is retried at the next start");
                }
            });
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(%error, "cannot read the previous server key; agents are not told the new key")
        }
    }
    let resender = tokio::spawn(resend_loop(
        state.clone(),
        delivery.clone(),
        mqtt.offline_alert_seconds,
    ));
    let handle = tokio::spawn(async move {
        let _ = delivery_task.await;
        forwarder.abort();
        resender.abort();
    });
    Ok((delivery, handle))
}

/// Publishes what the core announces; after a lag, republishes every latest rotation.
async fn forward_events(
    state: AppState,
    mut events: tokio::sync::broadcast::Receiver<ServerEvent>,
    delivery: Delivery,
) {
    loop {
        match events.recv().await {
            Ok(ServerEvent::RotationStored {
                screen_id,
                version,
                envelope,
            }) => {
                if let Err(error) = delivery
                    .publish_rotation(&screen_id, envelope.to_vec())
                    .await
                {
                    tracing::error!(screen = %screen_id, version, %error, "publishing a rotation failed");
                }
            }
            Ok(ServerEvent::Command {
                screen_id,
                envelope,
            }) => {
                if let Err(error) = delivery
                    .publish_command(&screen_id, envelope.to_vec())
                    .await
                {
                    tracing::error!(screen = %screen_id, %error, "publishing a command failed");
                }
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "event channel lagged; republishing every latest rotation"
                );
                if let Ok(latest) = state.store.latest_rotations().await {
                    for rotation in latest {
                        if let Ok(screen_id) = protocol::ScreenId::new(&rotation.screen_id) {
                            let _ = delivery
                                .publish_rotation(&screen_id, rotation.envelope)
                                .await;
                        }
                    }
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Every 10 s: screens online but behind get their rotation again; long
/// offline screens are logged (once per outage) as an operator alert.
async fn resend_loop(state: AppState, delivery: Delivery, offline_alert_seconds: u64) {
    let policy = PresencePolicy {
        resend_after_ms: 30_000,
        offline_alert_after_ms: offline_alert_seconds.saturating_mul(1000) as i64,
    };
    let mut last_sent: HashMap<String, protocol::Timestamp> = HashMap::new();
    let mut alerted: HashMap<String, i64> = HashMap::new();
    let mut warned_key_changed = false;
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        if !warned_key_changed && key_changed_on_disk(&state) {
            warned_key_changed = true;
            tracing::warn!("the server key on disk changed (keys rotate): restart the server to tell agents and sign with the new key");
        }
        let Ok(screens) = state.store.screen_versions().await else {
            continue;
        };
        let now = state.clock.now();
        for screen in screens {
            let reported = (screen.status != ScreenPresence::Never).then(|| Reported {
                version: screen.reported_version,
                online: screen.status == ScreenPresence::Online,
                status_since: protocol::Timestamp(screen.last_seen_at.unwrap_or(0)),
            });
            let step = next_step(
                screen.desired_version,
                reported.as_ref(),
                last_sent.get(&screen.screen_id).copied(),
                now,
                &policy,
            );
            match step {
                Step::Nothing => {
                    alerted.remove(&screen.screen_id);
                }
                Step::Resend { desired } => {
                    let Ok(Some(rotation)) = state.store.latest_rotation(&screen.screen_id).await
                    else {
                        continue;
                    };
                    let Ok(screen_id) = protocol::ScreenId::new(&screen.screen_id) else {
                        continue;
                    };
                    tracing::info!(screen = %screen_id, desired, reported = ?screen.reported_version, "screen behind; re-sending its rotation");
                    if delivery
                        .publish_rotation(&screen_id, rotation.envelope)
                        .await
                        .is_ok()
                    {
                        last_sent.insert(screen.screen_id.clone(), now);
                    }
                }
                Step::OfflineAlert { offline_for_ms } => {
                    let since = screen.last_seen_at.unwrap_or(0);
                    if alerted.insert(screen.screen_id.clone(), since) != Some(since) {
                        tracing::warn!(screen = %screen.screen_id, offline_s = offline_for_ms / 1000, "screen offline longer than mqtt.offline_alert_seconds");
                    }
                }
            }
        }
    }
}

/// Whether `keys/server.key` no longer holds the key this process signs with.
fn key_changed_on_disk(state: &AppState) -> bool {
    let path = crate::keys::key_path(&state.config.data_dir);
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim() != hex::encode(state.signing_key.to_bytes()),
        Err(_) => false,
    }
}

/// Embedded-broker logins: the server's own account, or an enrolled,
/// unrevoked device whose password's SHA-256 matches the stored one.
pub fn broker_auth(store_cell: Arc<OnceLock<Store>>, server_password: String) -> BrokerAuth {
    Arc::new(
        move |client_id: String,
              username: String,
              password: String|
              -> BoxFuture<'static, Option<BrokerLogin>> {
            let store = store_cell.get().cloned();
            let server_password = server_password.clone();
            Box::pin(async move {
                if username == SERVER_BROKER_USERNAME {
                    return crate::auth::same_secret(&password, &server_password)
                        .then_some(BrokerLogin::Server);
                }
                let store = store?;
                let device = match store.device_by_broker_username(&username).await {
                    Ok(Some(device)) => device,
                    Ok(None) => {
                        tracing::debug!(%username, "broker login refused: no enrolled device");
                        return None;
                    }
                    Err(error) => {
                        tracing::warn!(%username, %error, "broker login refused: the store did not answer");
                        return None;
                    }
                };
                let password_ok = crate::auth::same_secret(
                    &crate::auth::token_sha256(&password),
                    &device.broker_password_sha256,
                );
                // A device is who it logged in as: its client id is its own
                // (another's would kick that screen off and fire its Last Will).
                let screen = protocol::ScreenId::new(&device.screen_id).ok()?;
                let own_client_id = protocol::agent_client_id(&screen) == client_id;
                if password_ok && !own_client_id {
                    tracing::warn!(%username, %client_id, "broker login refused: another screen's client id");
                }
                (password_ok && own_client_id).then_some(BrokerLogin::Device(screen))
            })
        },
    )
}
