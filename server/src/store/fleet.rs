//! Organisations, sites, profiles and screens; enrollment codes and device
//! keys; the last reported state of each screen and its presence history.
//!
//! Enrollment codes and broker passwords arrive hashed. Deciding whether a
//! state report is authentic is the caller's job (it opens the envelope).

use ledcast_protocol::v1 as protocol;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{bool_i64, conflict_or, to_i64, Store, StoreResult};

/// A site (bank branch, service hall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteRow {
    /// Stable id.
    pub id: String,
    /// Owning organisation's id (created on first use).
    pub organisation_id: String,
    /// Display name.
    pub name: String,
}

/// A screen profile (native size and capabilities).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRow {
    /// Stable id, e.g. `door-352x80`.
    pub id: String,
    /// Native width in pixels.
    pub width: u32,
    /// Native height in pixels.
    pub height: u32,
    /// `mono`, `dual` or `full`.
    pub color_class: String,
    /// Whether it plays video.
    pub can_play_video: bool,
    /// Whether it scrolls text strips.
    pub can_scroll: bool,
}

/// A screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreenRow {
    /// Screen id (topic-safe).
    pub id: String,
    /// Its site.
    pub site_id: String,
    /// Display name.
    pub name: String,
    /// Its profile.
    pub profile_id: String,
    /// Tags (`bank-door`, `atm`, …).
    pub tags: Vec<String>,
    /// IANA time zone.
    pub timezone: String,
    /// Opening hours in words (as written in the playlist files).
    pub opening_hours: String,
}

/// The device key of an enrolled screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceKeyRow {
    /// The screen.
    pub screen_id: String,
    /// Key id (`ed25519:…`).
    pub key_id: String,
    /// Public key, 64 hex digits.
    pub public_key_hex: String,
    /// Broker user name given to the device.
    pub broker_username: String,
    /// SHA-256 (hex) of the broker password given to the device.
    #[serde(skip)]
    pub broker_password_sha256: String,
    /// Enrollment instant (ms).
    pub enrolled_at: i64,
}

/// A device key to record at enrollment.
#[derive(Debug, Clone)]
pub struct NewDeviceKey<'a> {
    /// The screen.
    pub screen_id: &'a str,
    /// Key id.
    pub key_id: &'a str,
    /// Public key hex.
    pub public_key_hex: &'a str,
    /// Broker user name.
    pub broker_username: &'a str,
    /// SHA-256 hex of the broker password.
    pub broker_password_sha256: &'a str,
    /// The same password as a Mosquitto `$6$` hash (password file).
    pub broker_password_mosquitto: Option<&'a str>,
}

/// A live device's Mosquitto login (`broker-config mosquitto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerLoginRow {
    /// The screen.
    pub screen_id: String,
    /// Broker user name (`screen-{id}`).
    pub broker_username: String,
    /// Mosquitto `$6$` hash; `None` for devices enrolled before it was kept.
    pub password_mosquitto: Option<String>,
}

/// What [`Store::record_agent_states`] did with a group of reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordedStates {
    /// Per report, in order: its screen's previous status when it changed.
    pub previous: Vec<Option<String>>,
    /// Reports ignored because they were older than the last one kept.
    pub ignored: u64,
}

/// The last state a screen reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScreenStateRow {
    /// The screen.
    pub screen_id: String,
    /// `online` or `offline`.
    pub status: String,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScreenVersions {
    /// The screen.
    pub screen_id: String,
    /// Newest stored rotation version.
    pub desired_version: Option<u64>,
    /// Version the agent last reported in use.
    pub reported_version: Option<u64>,
    /// `online`, `offline`, or `never` (no report yet).
    pub status: String,
    /// Last report (server clock, ms).
    pub last_seen_at: Option<i64>,
}

fn screen_from_row(row: &sqlx::any::AnyRow) -> StoreResult<ScreenRow> {
    let tags: String = row.try_get("tags")?;
    Ok(ScreenRow {
        id: row.try_get("id")?,
        site_id: row.try_get("site_id")?,
        name: row.try_get("name")?,
        profile_id: row.try_get("profile_id")?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        timezone: row.try_get("timezone")?,
        opening_hours: row.try_get("opening_hours")?,
    })
}

impl Store {
    /// Creates or renames an organisation.
    pub async fn upsert_organisation(&self, id: &str, name: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        )
        .bind(id)
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Creates or updates a site (its organisation is created when missing).
    pub async fn upsert_site(&self, site: &SiteRow, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO organisations (id, name, created_at) VALUES ($1, $1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&site.organisation_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "INSERT INTO sites (id, organisation_id, name, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET organisation_id = excluded.organisation_id, name = excluded.name",
        )
        .bind(&site.id)
        .bind(&site.organisation_id)
        .bind(&site.name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every site, by id.
    pub async fn list_sites(&self) -> StoreResult<Vec<SiteRow>> {
        let rows = sqlx::query("SELECT id, organisation_id, name FROM sites ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SiteRow {
                    id: r.try_get("id")?,
                    organisation_id: r.try_get("organisation_id")?,
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    /// Creates or updates a profile.
    pub async fn upsert_profile(&self, profile: &ProfileRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO profiles (id, width, height, color_class, can_play_video, can_scroll) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
             width = excluded.width, height = excluded.height, color_class = excluded.color_class, \
             can_play_video = excluded.can_play_video, can_scroll = excluded.can_scroll",
        )
        .bind(&profile.id)
        .bind(i64::from(profile.width))
        .bind(i64::from(profile.height))
        .bind(&profile.color_class)
        .bind(bool_i64(profile.can_play_video))
        .bind(bool_i64(profile.can_scroll))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every profile, by id.
    pub async fn list_profiles(&self) -> StoreResult<Vec<ProfileRow>> {
        let rows = sqlx::query("SELECT * FROM profiles ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ProfileRow {
                    id: r.try_get("id")?,
                    width: u32::try_from(r.try_get::<i64, _>("width")?).unwrap_or(0),
                    height: u32::try_from(r.try_get::<i64, _>("height")?).unwrap_or(0),
                    color_class: r.try_get("color_class")?,
                    can_play_video: r.try_get::<i64, _>("can_play_video")? != 0,
                    can_scroll: r.try_get::<i64, _>("can_scroll")? != 0,
                })
            })
            .collect()
    }

    /// Creates or updates a screen; its site and profile must exist.
    pub async fn upsert_screen(&self, screen: &ScreenRow, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO screens (id, site_id, name, profile_id, tags, timezone, opening_hours, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET \
             site_id = excluded.site_id, name = excluded.name, profile_id = excluded.profile_id, \
             tags = excluded.tags, timezone = excluded.timezone, opening_hours = excluded.opening_hours",
        )
        .bind(&screen.id)
        .bind(&screen.site_id)
        .bind(&screen.name)
        .bind(&screen.profile_id)
        .bind(serde_json::to_string(&screen.tags).unwrap_or_else(|_| "[]".to_owned()))
        .bind(&screen.timezone)
        .bind(&screen.opening_hours)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, format!("screen {:?}", screen.id)))?;
        Ok(())
    }

    /// Creates or updates several screens in ONE transaction, a few
    /// multi-row statements (an apply of a whole town's screens).
    pub async fn upsert_screens(&self, screens: &[ScreenRow], now: i64) -> StoreResult<()> {
        /// Rows per statement (8 binds each).
        const ROWS: usize = 200;
        let mut tx = self.pool.begin().await?;
        for chunk in screens.chunks(ROWS) {
            let sql = format!(
                "INSERT INTO screens (id, site_id, name, profile_id, tags, timezone, opening_hours, created_at) \
                 VALUES {} ON CONFLICT (id) DO UPDATE SET \
                 site_id = excluded.site_id, name = excluded.name, profile_id = excluded.profile_id, \
                 tags = excluded.tags, timezone = excluded.timezone, opening_hours = excluded.opening_hours",
                self.values_rows(chunk.len(), 8)
            );
            let mut query = sqlx::query(&sql);
            for screen in chunk {
                query = query
                    .bind(screen.id.as_str())
                    .bind(screen.site_id.as_str())
                    .bind(screen.name.as_str())
                    .bind(screen.profile_id.as_str())
                    .bind(serde_json::to_string(&screen.tags).unwrap_or_else(|_| "[]".to_owned()))
                    .bind(screen.timezone.as_str())
                    .bind(screen.opening_hours.as_str())
                    .bind(now);
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, "screens of an apply"))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One screen.
    pub async fn screen(&self, id: &str) -> StoreResult<Option<ScreenRow>> {
        let row = sqlx::query("SELECT * FROM screens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(screen_from_row).transpose()
    }

    /// Every screen, by id; only those of `sites` when given.
    pub async fn list_screens(&self, sites: Option<&[String]>) -> StoreResult<Vec<ScreenRow>> {
        let rows = sqlx::query("SELECT * FROM screens ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let screens = rows
            .iter()
            .map(screen_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(match sites {
            Some(sites) => screens
                .into_iter()
                .filter(|s| sites.contains(&s.site_id))
                .collect(),
            None => screens,
        })
    }

    /// Stores a new enrollment code (hashed).
    pub async fn create_enrollment_code(
        &self,
        code_sha256: &str,
        screen_id: &str,
        created_by: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO enrollment_codes (code_sha256, screen_id, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(code_sha256)
        .bind(screen_id)
        .bind(created_by)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Enrollment codes created for a screen since `since` (throttle).
    pub async fn count_enrollment_codes(&self, screen_id: &str, since: i64) -> StoreResult<u64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM enrollment_codes WHERE screen_id = $1 AND created_at > $2",
        )
        .bind(screen_id)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(super::to_u64(row.try_get("n")?))
    }

    /// Redeems a code: in one transaction, marks it used (only if unused and
    /// unexpired), revokes the screen's previous device keys and records the
    /// new one. Returns the screen id, or `None` when the code is unknown,
    /// used or expired.
    pub async fn redeem_enrollment_code(
        &self,
        code_sha256: &str,
        now: i64,
        key: impl FnOnce(&str) -> (String, String, String, String),
    ) -> StoreResult<Option<String>> {
        self.redeem_enrollment(code_sha256, now, |screen_id| {
            let (key_id, public_key_hex, broker_username, broker_password_sha256) = key(screen_id);
            (
                key_id,
                public_key_hex,
                broker_username,
                broker_password_sha256,
                None,
            )
        })
        .await
    }

    /// [`Store::redeem_enrollment_code`], also recording the broker
    /// password's Mosquitto hash (the fifth element).
    #[allow(clippy::type_complexity)]
    pub async fn redeem_enrollment(
        &self,
        code_sha256: &str,
        now: i64,
        key: impl FnOnce(&str) -> (String, String, String, String, Option<String>),
    ) -> StoreResult<Option<String>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE enrollment_codes SET used_at = $1 \
             WHERE code_sha256 = $2 AND used_at IS NULL AND expires_at > $1 RETURNING screen_id",
        )
        .bind(now)
        .bind(code_sha256)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let screen_id: String = row.try_get("screen_id")?;
        let (key_id, public_key_hex, broker_username, broker_password_sha256, mosquitto) =
            key(&screen_id);
        sqlx::query(
            "UPDATE device_keys SET revoked_at = $1 WHERE screen_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&screen_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO device_keys (key_id, screen_id, public_key_hex, broker_username, \
             broker_password_sha256, broker_password_mosquitto, enrolled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key_id)
        .bind(&screen_id)
        .bind(&public_key_hex)
        .bind(&broker_username)
        .bind(&broker_password_sha256)
        .bind(mosquitto)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(screen_id))
    }

    /// Records a device key directly (tests, the demo).
    pub async fn insert_device_key(&self, key: NewDeviceKey<'_>, now: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE device_keys SET revoked_at = $1 WHERE screen_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(key.screen_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO device_keys (key_id, screen_id, public_key_hex, broker_username, \
             broker_password_sha256, broker_password_mosquitto, enrolled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.key_id)
        .bind(key.screen_id)
        .bind(key.public_key_hex)
        .bind(key.broker_username)
        .bind(key.broker_password_sha256)
        .bind(key.broker_password_mosquitto)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The screen's current (unrevoked) device key, or `None` when it is not
    /// enrolled or its key was revoked.
    pub async fn device_key(&self, screen_id: &str) -> StoreResult<Option<DeviceKeyRow>> {
        let row = sqlx::query(
            "SELECT * FROM device_keys WHERE screen_id = $1 AND revoked_at IS NULL \
             ORDER BY enrolled_at DESC LIMIT 1",
        )
        .bind(screen_id)
        .fetch_optional(self.reader())
        .await?;
        row.map(|r| {
            Ok(DeviceKeyRow {
                screen_id: r.try_get("screen_id")?,
                key_id: r.try_get("key_id")?,
                public_key_hex: r.try_get("public_key_hex")?,
                broker_username: r.try_get("broker_username")?,
                broker_password_sha256: r.try_get("broker_password_sha256")?,
                enrolled_at: r.try_get("enrolled_at")?,
            })
        })
        .transpose()
    }

    /// The current device public key (64 hex digits) of a screen, or `None`.
    pub async fn device_public_key_hex(&self, screen_id: &str) -> StoreResult<Option<String>> {
        Ok(self.device_key(screen_id).await?.map(|k| k.public_key_hex))
    }

    /// Every live (unrevoked) device's broker login, by screen id. Revoked
    /// keys are left out, so re-enrollment drops the old password.
    pub async fn live_broker_logins(&self) -> StoreResult<Vec<BrokerLoginRow>> {
        let rows = sqlx::query(
            "SELECT screen_id, broker_username, broker_password_mosquitto FROM device_keys \
             WHERE revoked_at IS NULL ORDER BY screen_id, enrolled_at",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut logins: Vec<BrokerLoginRow> = Vec::with_capacity(rows.len());
        for r in &rows {
            let login = BrokerLoginRow {
                screen_id: r.try_get("screen_id")?,
                broker_username: r.try_get("broker_username")?,
                password_mosquitto: r.try_get("broker_password_mosquitto")?,
            };
            // One live key per screen; should two exist, the newest wins.
            match logins.last_mut() {
                Some(last) if last.screen_id == login.screen_id => *last = login,
                _ => logins.push(login),
            }
        }
        Ok(logins)
    }

    /// The current device public keys (hex) of several screens in one
    /// query: `screen id -> key`; screens without a live key are missing.
    pub async fn device_public_keys_hex(
        &self,
        screen_ids: &[&str],
    ) -> StoreResult<std::collections::HashMap<String, String>> {
        let mut out = std::collections::HashMap::new();
        for chunk in screen_ids.chunks(500) {
            let sql = format!(
                "SELECT screen_id, public_key_hex FROM device_keys WHERE revoked_at IS NULL \
                 AND screen_id IN ({}) ORDER BY enrolled_at",
                self.placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            // Newest last, so it wins should two live keys exist.
            for row in query.fetch_all(self.reader()).await? {
                out.insert(row.try_get("screen_id")?, row.try_get("public_key_hex")?);
            }
        }
        Ok(out)
    }

    /// The live device key holding broker user name `username` (broker auth).
    pub async fn device_by_broker_username(
        &self,
        username: &str,
    ) -> StoreResult<Option<DeviceKeyRow>> {
        let row = sqlx::query(
            "SELECT screen_id FROM device_keys WHERE broker_username = $1 AND revoked_at IS NULL \
             ORDER BY enrolled_at DESC LIMIT 1",
        )
        .bind(username)
        .fetch_optional(self.reader())
        .await?;
        match row {
            Some(r) => self.device_key(&r.try_get::<String, _>("screen_id")?).await,
            None => Ok(None),
        }
    }

    /// Records a verified state report: updates the screen's last state and,
    /// when the presence changed, appends a transition. Returns the previous
    /// status when it changed (`Some("never")` for a first report).
    pub async fn record_agent_state(
        &self,
        screen_id: &str,
        state: &protocol::AgentState,
        received_at: protocol::Timestamp,
    ) -> StoreResult<Option<String>> {
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
    /// status when it changed.
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
        if self.backend == super::Backend::Postgres {
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
        let mut running: std::collections::HashMap<String, (String, i64)> =
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
                running.insert(
                    screen_id,
                    (row.try_get("status")?, row.try_get("status_since")?),
                );
            }
        }
        let mut out = Vec::with_capacity(states.len());
        // The last report of each screen, with its `status_since`.
        let mut last: std::collections::HashMap<&str, (&protocol::AgentState, i64)> =
            std::collections::HashMap::with_capacity(screens.len());
        let mut events: Vec<(&str, &'static str, &str)> = Vec::new();
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
            let status = match state.status {
                protocol::Presence::Online => "online",
                protocol::Presence::Offline => "offline",
            };
            let (previous_status, since) = match running.get(*screen_id) {
                Some((previous, since)) if previous == status => (None, *since),
                Some((previous, _)) => (Some(previous.clone()), now),
                None => (Some("never".to_owned()), now),
            };
            running.insert((*screen_id).to_owned(), (status.to_owned(), since));
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
                let status = match state.status {
                    protocol::Presence::Online => "online",
                    protocol::Presence::Offline => "offline",
                };
                query = query
                    .bind(*screen_id)
                    .bind(status)
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
                    .bind(*status)
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
            Ok(ScreenStateRow {
                screen_id: r.try_get("screen_id")?,
                status: r.try_get("status")?,
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
             WHERE st.status = 'offline' AND st.status_since <= $1 \
             ORDER BY st.status_since, st.screen_id",
        )
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
    pub async fn presence_history(&self, screen_id: &str) -> StoreResult<Vec<(String, i64)>> {
        let rows =
            sqlx::query("SELECT status, at FROM presence_events WHERE screen_id = $1 ORDER BY id")
                .bind(screen_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("at")?)))
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
                Ok(ScreenVersions {
                    screen_id: r.try_get("screen_id")?,
                    desired_version: r
                        .try_get::<Option<i64>, _>("desired_version")?
                        .map(super::to_u64),
                    reported_version: r
                        .try_get::<Option<i64>, _>("reported_version")?
                        .map(super::to_u64),
                    status: r
                        .try_get::<Option<String>, _>("status")?
                        .unwrap_or_else(|| "never".to_owned()),
                    last_seen_at: r.try_get("last_seen_at")?,
                })
            })
            .collect()
    }
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
