//! The rotations' recompiler (issue 18, item 4): changes are recorded by
//! their handlers, which call [`request`] and return; one task per process
//! coalesces the requests, compiles (the compiler itself on a blocking
//! thread), stores under the deployment-wide compile lease and announces
//! each stored chunk on `events`, which delivery publishes. [`Progress`]
//! says how far it got (`GET /api/v1/recompile`, the UI's "updating the
//! screens" line).
//!
//! Also here: the periodic refresh before rotations expire and the watcher
//! that publishes rotations another process stored. What a compile reads
//! (the stored playlists, the catalog, the API's alerts) is [`crate::applied`]'s.
//!
//! The compiler stays pure: this module gathers its inputs (files, catalog,
//! `now` from [`crate::clock`]) and does the I/O around it.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;
use tokio::sync::watch;

use crate::digest::sha256_hex;
use crate::events::ServerEvent;
use crate::state::AppState;
use crate::store::RotationCandidate;

pub use crate::compile_gate::{pending, CompileGate, LastCompile, Pending, Progress};

use crate::applied::{catalog, stored_model};

/// How long after a failed compile the task tries again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Records that rotations must be compiled again (a change that affects
/// them is stored) and returns at once with the request's ticket; the
/// recompiler task compiles soon after, once for every request that
/// arrived meanwhile. [`CompileGate::settled`] waits for it.
pub fn request(state: &AppState, reason: &'static str) -> u64 {
    let gate = &state.compile_lock;
    let ticket = gate.issued.fetch_add(1, Ordering::SeqCst) + 1;
    gate.reasons
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(reason);
    {
        let mut task = gate.task.lock().unwrap_or_else(|e| e.into_inner());
        if task.is_none() && !*gate.stop.borrow() {
            *task = Some(tokio::spawn(run(state.clone())));
        }
    }
    gate.wake.notify_one();
    ticket
}

/// The recompiler task: one compile per wake-up, covering every request
/// issued before it began; after a failure it tries again.
async fn run(state: AppState) {
    let gate = state.compile_lock.clone();
    let mut stop = gate.stop.subscribe();
    let mut failed = false;
    loop {
        // Told to stop: one last compile if a request is still waiting (a
        // change recorded just before the stop reaches the screens), then
        // return.
        let stopping = tokio::select! {
            () = gate.wake.notified() => false,
            () = tokio::time::sleep(RETRY_AFTER), if failed => false,
            _ = stop.wait_for(|stop| *stop) => true,
        };
        let reasons: Vec<&str> =
            std::mem::take(&mut *gate.reasons.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        let mut covered = gate.covered.lock().await;
        let upto = gate.issued.load(Ordering::SeqCst);
        if *covered >= upto {
            drop(covered);
            gate.settled
                .send_modify(|settled| *settled = (*settled).max(upto));
            failed = false;
            if stopping {
                return;
            }
            continue;
        }
        let started = crate::clock::monotonic();
        let result = recompile_leased(&state, state.clock.now()).await;
        let took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if result.is_ok() {
            *covered = (*covered).max(upto);
        }
        drop(covered);
        let finished_at = state.clock.now().as_millis();
        let last = match &result {
            Ok(report) => {
                tracing::info!(
                    reasons = reasons.join(", "),
                    stored = report.stored.len(),
                    screens = report.screens,
                    took_ms,
                    "recompiled"
                );
                LastCompile {
                    ticket: upto,
                    finished_at,
                    took_ms,
                    screens: report.screens,
                    stored: report.stored.len(),
                    error: None,
                }
            }
            Err(error) => {
                tracing::error!(reasons = reasons.join(", "), %error, "recompile failed; trying again shortly");
                LastCompile {
                    ticket: upto,
                    finished_at,
                    took_ms,
                    screens: 0,
                    stored: 0,
                    error: Some(format!("{error:#}")),
                }
            }
        };
        failed = result.is_err();
        *gate.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(last);
        gate.settled
            .send_modify(|settled| *settled = (*settled).max(upto));
        if stopping {
            return;
        }
    }
}

/// Marks `version` of `screen` as announced; false when it (or a newer one) already was.
pub(crate) fn announce_once(state: &AppState, screen: &str, version: u64) -> bool {
    let mut announced = state.announced.lock().unwrap_or_else(|e| e.into_inner());
    let known = announced.entry(screen.to_owned()).or_insert(0);
    if *known >= version {
        return false;
    }
    *known = version;
    true
}

/// Publishes rotations another process stored without publishing them
/// (`ledcast-server apply`): every 2 seconds it claims the unannounced ones
/// in the database, so that of several replicas exactly one publishes each
/// (issue 21: both used to publish every rotation), and announces the
/// newest of each screen on `events`.
pub(crate) async fn watch_stored_versions(state: AppState, stopping: watch::Receiver<bool>) {
    loop {
        if !crate::clock::pause(&stopping, Duration::from_secs(2)).await {
            return;
        }
        let claimed = match state.store.claim_unannounced_rotations().await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "could not claim rotations to publish");
                continue;
            }
        };
        let mut newest: BTreeMap<String, u64> = BTreeMap::new();
        for (screen, version) in claimed {
            let known = newest.entry(screen).or_insert(version);
            *known = (*known).max(version);
        }
        for (screen, version) in newest {
            let (Ok(screen_id), Ok(Some(stored))) = (
                protocol::ScreenId::new(&screen),
                state.store.latest_rotation(&screen).await,
            ) else {
                continue;
            };
            // A newer version stored since is published by whoever stored
            // it (or claimed in turn).
            if stored.version != version || !announce_once(&state, &screen, version) {
                continue;
            }
            let _ = state.events.send(ServerEvent::RotationStored {
                screen_id,
                version: stored.version,
                envelope: Arc::new(stored.envelope),
            });
        }
    }
}

/// Keeps every screen's rotation ahead of its expiry: recompiles when any
/// stored rotation expires within `refresh_when_expiring_within_hours`.
pub(crate) async fn refresh_loop(state: AppState, stopping: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.config.rotations.check_interval_seconds.max(1));
    loop {
        let now = state.clock.now();
        let within = state.config.rotations.refresh_when_expiring_within_hours * 3_600_000;
        match state.store.latest_rotations().await {
            Ok(rotations) => {
                if rotations
                    .iter()
                    .any(|r| r.expires_at - now.as_millis() < within)
                {
                    request(&state, "rotations nearing expiry");
                }
            }
            Err(error) => tracing::warn!(%error, "could not check rotation expiry"),
        }
        if !crate::clock::pause(&stopping, every).await {
            return;
        }
    }
}

/// What a compile produced.
#[derive(Debug, Default)]
pub struct CompileReport {
    /// Screens compiled.
    pub screens: usize,
    /// `(screen, version)` of every newly stored rotation.
    pub stored: Vec<(String, u64)>,
    /// The compiler's diagnostics.
    pub diagnostics: Vec<compiler::Diagnostic>,
}

/// Rotations stored per transaction by [`recompile`].
const ROTATIONS_PER_TRANSACTION: usize = 250;

/// The instant compiles are made at: `now` floored to the hour, so that
/// recompiling within the same hour with unchanged inputs yields the same
/// content (and no new version); the periodic refresh moves it forward.
pub fn compile_instant(now: protocol::Timestamp) -> protocol::Timestamp {
    protocol::Timestamp(now.as_millis() - now.as_millis().rem_euclid(3_600_000))
}

/// SHA-256 of a rotation's content, ignoring its version and issue time
/// (which change on every compile).
pub fn content_sha256(rotation: &protocol::Rotation) -> String {
    let mut normalised = rotation.clone();
    normalised.version = 0;
    normalised.issued_at = protocol::Timestamp(0);
    sha256_hex(&serde_json::to_vec(&normalised).unwrap_or_default())
}

/// Parses the stored playlist files, compiles every screen at `now`, and
/// stores (and announces) a new signed version for each screen whose
/// content changed.
pub async fn recompile(
    state: &AppState,
    now: protocol::Timestamp,
) -> anyhow::Result<CompileReport> {
    let gate = &state.compile_lock;
    let mut covered = gate.covered.lock().await;
    let upto = gate.issued.load(Ordering::SeqCst);
    let started = tokio::time::Instant::now();
    let report = recompile_leased(state, now).await;
    state
        .metrics
        .recompile
        .observe(started.elapsed().as_secs_f64());
    if report.is_ok() {
        *covered = (*covered).max(upto);
    }
    gate.settled
        .send_modify(|settled| *settled = (*settled).max(upto));
    report
}

/// [`recompile`] under the deployment-wide compile lease (the caller holds
/// the in-process lock): reading inputs, compiling and storing happen
/// while no other replica does the same.
async fn recompile_leased(
    state: &AppState,
    now: protocol::Timestamp,
) -> anyhow::Result<CompileReport> {
    let lease = state
        .store
        .compile_lease()
        .await
        .context("waiting for the compile lease")?;
    let report = recompile_inputs(state, now).await;
    lease.release().await;
    report
}

/// Times a stored chunk is retried when another writer stored a version
/// first (only a writer outside the compile lease can; the key hand-over's
/// re-signing takes the lease too). Each retry reads the newest versions
/// again.
const STORE_ATTEMPTS: usize = 5;

async fn recompile_inputs(
    state: &AppState,
    now: protocol::Timestamp,
) -> anyhow::Result<CompileReport> {
    let started = crate::clock::monotonic();
    let Some((model, mut diagnostics)) = stored_model(state, now).await? else {
        return Ok(CompileReport::default());
    };
    let catalog = catalog(state).await?;
    let loaded_ms = started.elapsed().as_millis();
    let rotations = &state.config.rotations;
    let window = compiler::Window::hours(
        compile_instant(now),
        rotations.horizon_hours,
        rotations.expires_after_hours,
    );
    // The compiler spreads over every core; off the async workers.
    let (compiled, compile_diagnostics) =
        tokio::task::spawn_blocking(move || compiler::compile(&model, &catalog, window))
            .await
            .context("the compiler stopped")?;
    diagnostics.extend(compile_diagnostics);
    let compiled_ms = started.elapsed().as_millis();
    let mut report = CompileReport {
        screens: compiled.len(),
        ..Default::default()
    };
    // Changed rotations are stored in chunks, one transaction each (one
    // fsync per chunk on SQLite, not one per screen), and each chunk is
    // announced as soon as it is committed, so screens start receiving while
    // later chunks are stored.
    let key = state.signing_key.clone();
    for chunk in compiled.chunks(ROTATIONS_PER_TRANSACTION) {
        let hashes: Vec<String> = chunk.iter().map(|s| content_sha256(&s.rotation)).collect();
        let candidates: Vec<RotationCandidate<'_>> = chunk
            .iter()
            .zip(&hashes)
            .map(|(screen, hash)| RotationCandidate {
                screen_id: screen.rotation.screen_id.as_str(),
                content_sha256: hash,
                issued_at: now.as_millis(),
                expires_at: screen.rotation.expires_at.as_millis(),
            })
            .collect();
        let publishes = state.compile_lock.publishes.load(Ordering::Relaxed);
        let mut attempt = 0;
        let stored = loop {
            attempt += 1;
            let stored = state
                .store
                .store_rotations_if_changed(&candidates, publishes, |i, version| {
                    let mut stamped = chunk[i].rotation.clone();
                    stamped.version = version;
                    stamped.issued_at = now;
                    protocol::seal(&stamped, &key)
                })
                .await;
            match stored {
                Err(crate::store::StoreError::Conflict { what }) if attempt < STORE_ATTEMPTS => {
                    tracing::warn!(attempt, %what, "rotation versions collided; storing again");
                }
                other => break other?,
            }
        };
        for (i, stored) in stored {
            state.metrics.rotations_stored.inc();
            report
                .stored
                .push((stored.screen_id.clone(), stored.version));
            announce_once(state, &stored.screen_id, stored.version);
            let _ = state.events.send(ServerEvent::RotationStored {
                screen_id: chunk[i].rotation.screen_id.clone(),
                version: stored.version,
                envelope: Arc::new(stored.envelope),
            });
        }
    }
    report.diagnostics = diagnostics;
    tracing::debug!(
        screens = report.screens,
        stored = report.stored.len(),
        loaded_ms,
        compiled_ms,
        total_ms = started.elapsed().as_millis(),
        "recompile timings (cumulative)"
    );
    Ok(report)
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
