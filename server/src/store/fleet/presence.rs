//! The last reported state of each screen, its presence (online/offline)
//! and presence history. Deciding whether a state report is authentic is
//! the caller's job (it opens the envelope).

use ledcast_protocol::v1 as protocol;
use serde::Serialize;
use sqlx::Row;

use crate::store::domain::{decode_among, ScreenPresence};
use crate::store::{bool_i64, to_i64, Store, StoreResult};

/// What [`Store::record_agent_states`] did with a group of reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordedStates {
    /// Per report, in order: its screen's previous presence when it
    /// changed ([`ScreenPresence::Never`] for a first report).
    pub previous: Vec<Option<ScreenPresence>>,
    /// Reports ignored because they were older than the last one kept.
    pub ignored: u64,
}

/// The last state a screen reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ScreenStateRow {
    /// The screen.
    pub screen_id: String,
    /// Online or offline (a stored state is never `never`).
    pub status: ScreenPresence,
    /// When the current status began (server clock, ms).
    pub status_since: i64,
    /// Last report received (server clock, ms).
    pub last_seen_at: i64,
    /// The agent's own report time (ms).
    pub reported_at: i64,
    /// Reported rotation version.
    pub rotation_version: Option<i64>,
    /// Version waiting for media.
    pub pending_version: Option<i64>,
    /// Playing the fallback.
    pub stale: bool,
    /// Cache: items, bytes, missing.
    pub cache_items: i64,
    /// Cache bytes.
    pub cache_bytes: i64,
    /// Needed but not cached.
    pub cache_missing: i64,
    /// Unacknowledged play records.
    pub journal_pending: i64,
    /// Last error in words.
    pub last_error: Option<String>,
    /// Agent build.
    pub agent_version: String,
    /// What a bridged controller card reported (from the stored report).
    pub bridge: Option<protocol::BridgeState>,
    /// The agent distrusts its clock (e.g. booted without time sync) and
    /// shows its built-in warnings (from the stored report).
    pub clock_suspect: bool,
    /// The agent's display device is missing: nothing is on the glass
    /// (from the stored report).
    pub display_missing: bool,
}

/// The parts of a screen's state read from its stored report.
struct FromReport {
    bridge: Option<protocol::BridgeState>,
    clock_suspect: bool,
    display_missing: bool,
}

fn from_report(state: Option<protocol::AgentState>) -> FromReport {
    match state {
        Some(state) => FromReport {
            bridge: state.bridge,
            clock_suspect: state.clock_suspect,
            display_missing: state.display_missing,
        },
        None => FromReport {
            bridge: None,
            clock_suspect: false,
            display_missing: false,
        },
    }
}

/// A screen whose last presence is `offline` (alerts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OfflineScreen {
    /// The screen.
    pub screen_id: String,
    /// Its site.
    pub site_id: String,
    /// Its display name.
    pub name: String,
    /// When it went offline (server clock, ms).
    pub offline_since: i64,
}

/// Desired versus reported rotation version of a screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ScreenVersions {
    /// The screen.
    pub screen_id: String,
    /// Newest stored rotation version.
    pub desired_version: Option<u64>,
    /// Version the agent last reported in use.
    pub reported_version: Option<u64>,
    /// Online, offline, or never (no report yet).
    pub status: ScreenPresence,
    /// Last report (server clock, ms).
    pub last_seen_at: Option<i64>,
}

impl Store {
    /// Records a verified state report: updates the screen's last state and,
    /// when the presence changed, appends a transition. Returns the previous
    /// presence when it changed (`Some(ScreenPresence::Never)` for a first
    /// report).
    pub async fn record_agent_state(
        &self,
        screen_id: &str,
        state: &protocol::AgentState,
        received_at: protocol::Timestamp,
    ) -> StoreResult<Option<ScreenPresence>> {
        let mut recorded = self
            .record_agent_states(&[(screen_id, state)], received_at)
            .await?;
        Ok(recorded.previous.pop().flatten())
    }

    /// Records several verified state reports, in arrival order, in ONE
    /// transaction (one commit, one fsync on SQLite, for a burst of reports)
    /// and a few multi-row statements: the same effect as
    /// [`Store::record_agent_state`] for each in turn, including every
    /// presence transition between them. A report that does not supersede
    /// the last one kept for its screen (`AgentState::supersedes`: a replayed
    /// older report) is ignored and counted. Returns each report's previous
    /// presence when it changed.
    pub async fn record_agent_states(
        &self,
        states: &[(&str, &protocol::AgentState)],
        received_at: protocol::Timestamp,
    ) -> StoreResult<RecordedStates> {
        /// Screens per `IN` list / state rows per upsert (16 binds each) /
        /// transitions per insert (4 binds each).
        const LOOKUP: usize = 500;
        const UPSERT: usize = 100;
        const EVENTS: usize = 250;
        let now = received_at.as_millis();
        let mut screens: Vec<&str> = states.iter().map(|(s, _)| *s).collect();
        screens.sort_unstable();
        screens.dedup();
        let mut tx = self.pool.begin().await?;
        if self.backend == crate::store::Backend::Postgres {
            // Every replica receives every state report (the subscription
            // is not shared, so each keeps the retained states handed over
            // at connect): take each screen's row in turn, so that the
            // second replica reads what the first wrote and records no
            // transition twice (issue 21). Keys are locked in ascending
            // order across chunks, so two replicas never deadlock.
            let mut keys: Vec<i64> = screens.iter().map(|s| state_lock_key(s)).collect();
            keys.sort_unstable();
            keys.dedup();
            for chunk in keys.chunks(LOOKUP) {
                let sql = format!(
                    "SELECT pg_advisory_xact_lock(k) FROM \
                     (SELECT v.k FROM (VALUES {}) AS v(k) ORDER BY v.k) AS o",
                    (1..=chunk.len())
                        .map(|n| format!("(${n}::BIGINT)"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let mut query = sqlx::query(&sql);
                for key in chunk {
                    query = query.bind(*key);
                }
                query.execute(&mut *tx).await?;
            }
        }
        // (status, since) of each screen as the reports are applied in turn.
        let mut running: std::collections::HashMap<String, (ScreenPresence, i64)> =
            std::collections::HashMap::with_capacity(screens.len());
        // The last report kept for each screen, as the reports are applied.
        let mut kept: std::collections::HashMap<String, protocol::AgentState> =
            std::collections::HashMap::with_capacity(screens.len());
        for chunk in screens.chunks(LOOKUP) {
            let sql = format!(
                "SELECT screen_id, status, status_since, state_json FROM screen_state WHERE screen_id IN ({})",
                self.placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for screen in chunk {
                query = query.bind(*screen);
            }
            for row in query.fetch_all(&mut *tx).await? {
                let screen_id: String = row.try_get("screen_id")?;
                let json: Option<String> = row.try_get("state_json")?;
                if let Some(state) = json.and_then(|j| serde_json::from_str(&j).ok()) {
                    kept.insert(screen_id.clone(), state);
                }
                let status = reported_presence(&row, &screen_id)?;
                running.insert(screen_id, (status, row.try_get("status_since")?));
            }
        }
        let mut out = Vec::with_capacity(states.len());
        // The last report of each screen, with its `status_since`.
        let mut last: std::collections::HashMap<&str, (&protocol::AgentState, i64)> =
            std::collections::HashMap::with_capacity(screens.len());
        let mut events: Vec<(&str, ScreenPresence, &str)> = Vec::new();
        let mut ignored = 0u64;
        for (screen_id, state) in states {
            if kept
                .get(*screen_id)
                .is_some_and(|previous| !state.supersedes(previous))
            {
                ignored += 1;
                out.push(None);
                continue;
            }
            kept.insert((*screen_id).to_owned(), (*state).clone());
            let status = ScreenPresence::from(state.status);
            let (previous_status, since) = match running.get(*screen_id) {
                Some((previous, since)) if *previous == status => (None, *since),
                Some((previous, _)) => (Some(*previous), now),
                None => (Some(ScreenPresence::Never), now),
            };
            running.insert((*screen_id).to_owned(), (status, since));
            if previous_status.is_some() {
                events.push((screen_id, status, state.boot_id.as_str()));
            }
            last.insert(screen_id, (state, since));
            out.push(previous_status);
        }
        let last: Vec<(&str, &protocol::AgentState, i64)> = last
            .into_iter()
            .map(|(screen_id, (state, since))| (screen_id, state, since))
            .collect();
        for chunk in last.chunks(UPSERT) {
            let sql = format!(
                "INSERT INTO screen_state (screen_id, status, status_since, last_seen_at, reported_at, boot_id, \
                 rotation_version, pending_version, stale, cache_items, cache_bytes, cache_missing, \
                 journal_pending, last_error, agent_version, state_json) VALUES {} \
                 ON CONFLICT (screen_id) DO UPDATE SET status = excluded.status, \
                 status_since = excluded.status_since, last_seen_at = excluded.last_seen_at, \
                 reported_at = excluded.reported_at, boot_id = excluded.boot_id, \
                 rotation_version = excluded.rotation_version, pending_version = excluded.pending_version, \
                 stale = excluded.stale, cache_items = excluded.cache_items, cache_bytes = excluded.cache_bytes, \
                 cache_missing = excluded.cache_missing, journal_pending = excluded.journal_pending, \
                 last_error = excluded.last_error, agent_version = excluded.agent_version, \
                 state_json = excluded.state_json",
                self.values_rows(chunk.len(), 16)
            );
            let mut query = sqlx::query(&sql);
            for (screen_id, state, since) in chunk {
                query = query
                    .bind(*screen_id)
                    .bind(ScreenPresence::from(state.status).as_str())
                    .bind(*since)
                    .bind(now)
                    .bind(state.reported_at.as_millis())
                    .bind(state.boot_id.as_str())
                    .bind(state.rotation_version.map(to_i64))
                    .bind(state.pending_version.map(to_i64))
                    .bind(bool_i64(state.stale))
                    .bind(to_i64(state.cache.items))
                    .bind(to_i64(state.cache.bytes))
                    .bind(to_i64(state.cache.missing))
                    .bind(to_i64(state.journal_pending))
                    .bind(state.last_error.as_deref())
                    .bind(state.agent_version.as_str())
                    .bind(serde_json::to_string(state).unwrap_or_default());
            }
            query.execute(&mut *tx).await?;
        }
        for chunk in events.chunks(EVENTS) {
            let sql = format!(
                "INSERT INTO presence_events (screen_id, status, at, boot_id) VALUES {}",
                self.values_rows(chunk.len(), 4)
            );
            let mut query = sqlx::query(&sql);
            for (screen_id, status, boot_id) in chunk {
                query = query
                    .bind(*screen_id)
                    .bind(status.as_str())
                    .bind(now)
                    .bind(*boot_id);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(RecordedStates {
            previous: out,
            ignored,
        })
    }

    /// The last state of a screen.
    pub async fn screen_state(&self, screen_id: &str) -> StoreResult<Option<ScreenStateRow>> {
        let row = sqlx::query("SELECT * FROM screen_state WHERE screen_id = $1")
            .bind(screen_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let report = from_report(
                r.try_get::<String, _>("state_json")
                    .ok()
                    .and_then(|json| serde_json::from_str::<protocol::AgentState>(&json).ok()),
            );
            let screen_id: String = r.try_get("screen_id")?;
            Ok(ScreenStateRow {
                status: reported_presence(&r, &screen_id)?,
                screen_id,
                status_since: r.try_get("status_since")?,
                last_seen_at: r.try_get("last_seen_at")?,
                reported_at: r.try_get("reported_at")?,
                rotation_version: r.try_get("rotation_version")?,
                pending_version: r.try_get("pending_version")?,
                stale: r.try_get::<i64, _>("stale")? != 0,
                cache_items: r.try_get("cache_items")?,
                cache_bytes: r.try_get("cache_bytes")?,
                cache_missing: r.try_get("cache_missing")?,
                journal_pending: r.try_get("journal_pending")?,
                last_error: r.try_get("last_error")?,
                agent_version: r.try_get("agent_version")?,
                bridge: report.bridge,
                clock_suspect: report.clock_suspect,
                display_missing: report.display_missing,
            })
        })
        .transpose()
    }

    /// Screens offline since `at_or_before` (ms) or earlier, longest offline
    /// first; only those of `sites` when given.
    pub async fn offline_screens(
        &self,
        at_or_before: i64,
        sites: Option<&[String]>,
    ) -> StoreResult<Vec<OfflineScreen>> {
        let rows = sqlx::query(
            "SELECT st.screen_id AS screen_id, s.site_id AS site_id, s.name AS name, \
             st.status_since AS status_since FROM screen_state st \
             JOIN screens s ON s.id = st.screen_id \
             WHERE st.status = $1 AND st.status_since <= $2 \
             ORDER BY st.status_since, st.screen_id",
        )
        .bind(ScreenPresence::Offline.as_str())
        .bind(at_or_before)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let screen = OfflineScreen {
                screen_id: r.try_get("screen_id")?,
                site_id: r.try_get("site_id")?,
                name: r.try_get("name")?,
                offline_since: r.try_get("status_since")?,
            };
            if sites.is_none_or(|sites| sites.contains(&screen.site_id)) {
                out.push(screen);
            }
        }
        Ok(out)
    }

    /// Presence transitions of a screen, oldest first: `(status, at)`.
    pub async fn presence_history(
        &self,
        screen_id: &str,
    ) -> StoreResult<Vec<(ScreenPresence, i64)>> {
        let rows = sqlx::query(
            "SELECT id, status, at FROM presence_events WHERE screen_id = $1 ORDER BY id",
        )
        .bind(screen_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let text: String = r.try_get("status")?;
                let status = decode_among(
                    &text,
                    ScreenPresence::REPORTED,
                    "presence_events",
                    &format!("{id} ({screen_id})"),
                    "status",
                )?;
                Ok((status, r.try_get("at")?))
            })
            .collect()
    }

    /// Every screen with its desired (newest stored) and reported version.
    pub async fn screen_versions(&self) -> StoreResult<Vec<ScreenVersions>> {
        let rows = sqlx::query(
            "SELECT s.id AS screen_id, \
             (SELECT MAX(r.version) FROM rotations r WHERE r.screen_id = s.id) AS desired_version, \
             st.rotation_version AS reported_version, st.status AS status, st.last_seen_at AS last_seen_at \
             FROM screens s LEFT JOIN screen_state st ON st.screen_id = s.id ORDER BY s.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let screen_id: String = r.try_get("screen_id")?;
                // No state row (the LEFT JOIN's NULL): no report yet.
                let status = match r.try_get::<Option<String>, _>("status")? {
                    Some(text) => decode_among(
                        &text,
                        ScreenPresence::REPORTED,
                        "screen_state",
                        &screen_id,
                        "status",
                    )?,
                    None => ScreenPresence::Never,
                };
                Ok(ScreenVersions {
                    screen_id,
                    status,
                    desired_version: r
                        .try_get::<Option<i64>, _>("desired_version")?
                        .map(crate::store::to_u64),
                    reported_version: r
                        .try_get::<Option<i64>, _>("reported_version")?
                        .map(crate::store::to_u64),
                    last_seen_at: r.try_get("last_seen_at")?,
                })
            })
            .collect()
    }
}

/// The `status` of a `screen_state` row (of `screen_id`): online or
/// offline; any other word, `never` included, is corrupt.
fn reported_presence(row: &sqlx::any::AnyRow, screen_id: &str) -> StoreResult<ScreenPresence> {
    let text: String = row.try_get("status")?;
    decode_among(
        &text,
        ScreenPresence::REPORTED,
        "screen_state",
        screen_id,
        "status",
    )
}

/// The advisory-lock key of a screen's state row on PostgreSQL: the first
/// eight bytes of a SHA-256 of its id.
fn state_lock_key(screen_id: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("ledcast.state.{screen_id}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}
