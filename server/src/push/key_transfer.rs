//! After `ledcast-server keys rotate`: tell every agent the new server key
//! in a `trust_server_key` command signed by the previous key (retained on
//! each screen's `command` topic, so agents offline now get it when they
//! connect), then re-sign every screen's current rotation with the new key
//! as a new version, so agents switch to new-key rotations at once.
//!
//! Runs at every start while `keys/server.previous.key` exists: the trust
//! commands are re-published (an embedded broker forgets retained messages
//! on restart); rotations are re-signed only once (when the newest stored
//! one is not signed by the current key).

use ed25519_dalek::SigningKey;
use ledcast_protocol::v1 as protocol;

use super::Delivery;
use crate::events::ServerEvent;
use crate::state::AppState;

/// How long a key-transfer command stays valid for an agent that was away.
pub const TRUST_COMMAND_DAYS: i64 = 90;

/// What [`transfer`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TransferReport {
    /// Screens sent a trust command.
    pub commands: usize,
    /// Rotations re-signed with the new key (new versions).
    pub resigned: usize,
}

/// The `trust_server_key` command for one screen, sealed with `previous`.
pub fn trust_command(
    screen_id: &protocol::ScreenId,
    previous: &SigningKey,
    current: &SigningKey,
    now: protocol::Timestamp,
) -> Vec<u8> {
    let new_key = protocol::TrustedKey::new(current.verifying_key());
    let command = protocol::Command {
        screen_id: screen_id.clone(),
        // Stable per key, so an agent that sees it twice applies it once.
        command_id: format!("trust-{}", &new_key.public_key_hex()[..16]),
        issued_at: now,
        expires_at: now.plus_ms(TRUST_COMMAND_DAYS * 24 * 3600 * 1000),
        action: protocol::CommandAction::TrustServerKey {
            key_id: new_key.key_id.clone(),
            public_key_hex: new_key.public_key_hex(),
        },
    };
    protocol::seal(&command, previous)
}

/// Publishes the trust commands and re-signs rotations not signed by the
/// current key. Rotations go out through the event channel (the forwarder
/// publishes them after the commands, on the same connection).
pub async fn transfer(
    state: &AppState,
    delivery: &Delivery,
    previous: &SigningKey,
) -> anyhow::Result<TransferReport> {
    let current_id = protocol::key_id_for(&state.signing_key.verifying_key());
    let now = state.clock.now();
    let mut report = TransferReport::default();
    // Under the compile gate and lease, from the first trust command to the
    // last re-signed store: a compile (this replica's or another's) that
    // reacts to something an agent does after the hand-over stores after
    // the re-signed versions, never between reading and re-signing one
    // (it used to: the re-signed copy of the old content then collided
    // with, or superseded, the fresh compile).
    let _gate = state.compile_lock.lock().await;
    let lease = state.store.compile_lease().await?;
    let resigned = hand_over(state, delivery, previous, now, &mut report).await;
    lease.release().await;
    resigned?;
    tracing::info!(
        commands = report.commands,
        resigned = report.resigned,
        new_key = %current_id,
        "told agents the new server key (signed by the previous key)"
    );
    Ok(report)
}

/// [`transfer`]'s work, under the compile gate and lease.
async fn hand_over(
    state: &AppState,
    delivery: &Delivery,
    previous: &SigningKey,
    now: protocol::Timestamp,
    report: &mut TransferReport,
) -> anyhow::Result<()> {
    let current = &*state.signing_key;
    let current_id = protocol::key_id_for(&current.verifying_key());
    let previous_trusted = protocol::TrustedKey::new(previous.verifying_key());
    for screen in state.store.list_screens(None).await? {
        let Ok(screen_id) = protocol::ScreenId::new(&screen.id) else {
            continue;
        };
        let envelope = trust_command(&screen_id, previous, current, now);
        delivery
            .publish_command_retained(&screen_id, envelope)
            .await?;
        report.commands += 1;
    }
    for stored in state.store.latest_rotations().await? {
        let signed_by = serde_json::from_slice::<protocol::Envelope>(&stored.envelope)
            .map(|e| e.key_id)
            .unwrap_or_default();
        if signed_by == current_id {
            continue;
        }
        let rotation = match protocol::open::<protocol::Rotation>(
            &stored.envelope,
            &previous_trusted,
        ) {
            Ok(rotation) => rotation,
            Err(error) => {
                tracing::warn!(screen = %stored.screen_id, %error, "stored rotation not signed by the previous key; left for the next compile");
                continue;
            }
        };
        let resigned = state
            .store
            .store_rotation_resigned(
                &stored.screen_id,
                &stored.content_sha256,
                now.as_millis(),
                stored.expires_at,
                |version| {
                    let mut stamped = rotation.clone();
                    stamped.version = version;
                    stamped.issued_at = now;
                    protocol::seal(&stamped, current)
                },
            )
            .await?;
        report.resigned += 1;
        let _ = state.events.send(ServerEvent::RotationStored {
            screen_id: rotation.screen_id.clone(),
            version: resigned.version,
            envelope: std::sync::Arc::new(resigned.envelope),
        });
    }
    Ok(())
}
