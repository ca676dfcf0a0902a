//! Evidence and delivery state: signed rotation versions per screen, raw
//! play records with their per-screen-per-day aggregate, screenshots and
//! branch confirmations.
//!
//! It stores what it is given: signing, verifying envelopes and computing
//! compliance from the aggregates happen elsewhere.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::TimeZone;
use ledcast_protocol::v1 as protocol;
use serde::Serialize;
use sqlx::Row;

use super::{bool_i64, to_i64, to_u64, Store, StoreResult};

/// A stored, signed rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRotation {
    /// The screen.
    pub screen_id: String,
    /// Its version.
    pub version: u64,
    /// The signed envelope bytes (JSON) exactly as published.
    pub envelope: Vec<u8>,
    /// SHA-256 hex of `envelope`.
    pub envelope_sha256: String,
    /// SHA-256 hex of the rotation content without version and issue time.
    pub content_sha256: String,
    /// Issue instant (ms).
    pub issued_at: i64,
    /// Expiry instant (ms).
    pub expires_at: i64,
}

/// The per-screen-per-day play aggregate (day in the screen's time zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlayDay {
    /// The screen.
    pub screen_id: String,
    /// Local date, `YYYY-MM-DD`.
    pub day: String,
    /// Records.
    pub plays: i64,
    /// Records that were warnings.
    pub warning_plays: i64,
    /// Records that ended by interruption.
    pub interrupted_plays: i64,
    /// Total shown time (ms) of records with an end.
    pub played_ms: i64,
    /// Shown time of warnings (ms).
    pub warning_ms: i64,
    /// Earliest start seen (ms).
    pub first_started_at: i64,
    /// Latest end seen (ms).
    pub last_ended_at: Option<i64>,
    /// When the latest record for this day arrived (server clock, ms): the
    /// "records received up to when" of compliance.
    pub last_received_at: i64,
}

/// A stored screenshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScreenshotRow {
    /// Sequence.
    pub id: i64,
    /// The screen.
    pub screen_id: String,
    /// SHA-256 of the PNG (its file name).
    pub sha256: String,
    /// Size.
    pub size_bytes: i64,
    /// The device's signing time (ms).
    pub signed_at: i64,
    /// Arrival (server clock, ms).
    pub received_at: i64,
}

fn rotation_from_row(r: &sqlx::any::AnyRow) -> StoreResult<StoredRotation> {
    Ok(StoredRotation {
        screen_id: r.try_get("screen_id")?,
        version: to_u64(r.try_get("version")?),
        envelope: r.try_get("envelope")?,
        envelope_sha256: r.try_get("envelope_sha256")?,
        content_sha256: r.try_get("content_sha256")?,
        issued_at: r.try_get("issued_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

/// The local calendar day of `at_ms` in `timezone` (UTC when unknown).
pub fn local_day(at_ms: i64, timezone: &str) -> String {
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    match tz.timestamp_millis_opt(at_ms).single() {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => "1970-01-01".to_owned(),
    }
}

/// New records' contribution to one screen-day of `play_daily`.
#[derive(Default)]
struct DailyDelta {
    plays: i64,
    warning_plays: i64,
    interrupted_plays: i64,
    played_ms: i64,
    warning_ms: i64,
    first_started_at: i64,
    last_ended_at: Option<i64>,
}

impl DailyDelta {
    fn add(&mut self, record: &protocol::PlayRecord) {
        let started = record.started_at.as_millis();
        let ended = record.ended_at.map(|t| t.as_millis());
        let played = ended.map(|e| (e - started).max(0)).unwrap_or(0);
        self.first_started_at = if self.plays == 0 {
            started
        } else {
            self.first_started_at.min(started)
        };
        self.plays += 1;
        self.warning_plays += i64::from(record.is_warning);
        self.interrupted_plays += i64::from(record.outcome == protocol::PlayOutcome::Interrupted);
        self.played_ms += played;
        if record.is_warning {
            self.warning_ms += played;
        }
        self.last_ended_at = match (self.last_ended_at, ended) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

impl Store {
    /// The newest stored rotation of a screen.
    pub async fn latest_rotation(&self, screen_id: &str) -> StoreResult<Option<StoredRotation>> {
        let row = sqlx::query(
            "SELECT * FROM rotations WHERE screen_id = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(screen_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rotation_from_row).transpose()
    }

    /// The newest stored rotation of every screen that has one, by screen id.
    pub async fn latest_rotations(&self) -> StoreResult<Vec<StoredRotation>> {
        let rows = sqlx::query(
            "SELECT r.* FROM rotations r WHERE r.version = \
             (SELECT MAX(r2.version) FROM rotations r2 WHERE r2.screen_id = r.screen_id) \
             ORDER BY r.screen_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rotation_from_row).collect()
    }

    /// The newest stored version of every screen: `(screen, version)`, by screen.
    pub async fn latest_versions(&self) -> StoreResult<Vec<(String, u64)>> {
        let rows = sqlx::query(
            "SELECT screen_id, MAX(version) AS version FROM rotations GROUP BY screen_id ORDER BY screen_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("screen_id")?, to_u64(r.try_get("version")?))))
            .collect()
    }

    /// Stores the next version of a screen's rotation unless its content is
    /// unchanged. `make_envelope(version)` seals the rotation with that
    /// version. Returns the stored rotation, or `None` when the newest stored
    /// one already has `content_sha256`. Versions are strictly increasing:
    /// the insert collides on `(screen, version)` if another writer got there
    /// first, and the caller may retry. It is stored unannounced: a serving
    /// server claims it ([`Store::claim_unannounced_rotations`]) and
    /// publishes it.
    pub async fn store_rotation_if_changed(
        &self,
        screen_id: &str,
        content_sha256: &str,
        issued_at: i64,
        expires_at: i64,
        make_envelope: impl FnOnce(u64) -> Vec<u8>,
    ) -> StoreResult<Option<StoredRotation>> {
        self.store_rotation(
            screen_id,
            content_sha256,
            issued_at,
            expires_at,
            false,
            make_envelope,
        )
        .await
    }

    /// Stores the next version of a screen's rotation even when its content
    /// is unchanged (re-signing after a server key rotation). The caller
    /// publishes it.
    pub async fn store_rotation_resigned(
        &self,
        screen_id: &str,
        content_sha256: &str,
        issued_at: i64,
        expires_at: i64,
        make_envelope: impl FnOnce(u64) -> Vec<u8>,
    ) -> StoreResult<StoredRotation> {
        let stored = self
            .store_rotation(
                screen_id,
                content_sha256,
                issued_at,
                expires_at,
                true,
                make_envelope,
            )
            .await?;
        stored.ok_or_else(|| super::StoreError::Corrupt {
            table: "rotations",
            detail: "a forced store returned nothing".to_owned(),
        })
    }

    async fn store_rotation(
        &self,
        screen_id: &str,
        content_sha256: &str,
        issued_at: i64,
        expires_at: i64,
        force: bool,
        make_envelope: impl FnOnce(u64) -> Vec<u8>,
    ) -> StoreResult<Option<StoredRotation>> {
        // A forced store is the server's key hand-over, which publishes it;
        // a plain one comes from a process that does not publish.
        let announced = force;
        let candidate = RotationCandidate {
            screen_id,
            content_sha256,
            issued_at,
            expires_at,
        };
        let mut make_envelope = Some(make_envelope);
        let stored = self
            .store_rotations(&[candidate], force, announced, |_, version| {
                make_envelope
                    .take()
                    .map_or_else(Vec::new, |make| make(version))
            })
            .await?;
        Ok(stored.into_iter().next().map(|(_, rotation)| rotation))
    }

    /// [`Store::store_rotation_if_changed`] for many screens in ONE
    /// transaction (one commit, so one fsync on SQLite, for the lot).
    /// `make_envelope(i, version)` seals `candidates[i]` with that version.
    /// Returns the rotations stored with their candidate index, in candidate
    /// order; a collision on `(screen, version)` fails the whole call and
    /// stores nothing. `announced`: the caller publishes what is stored (a
    /// serving server); when false a serving replica claims and publishes it.
    pub async fn store_rotations_if_changed(
        &self,
        candidates: &[RotationCandidate<'_>],
        announced: bool,
        make_envelope: impl FnMut(usize, u64) -> Vec<u8>,
    ) -> StoreResult<Vec<(usize, StoredRotation)>> {
        self.store_rotations(candidates, false, announced, make_envelope)
            .await
    }

    /// Claims every rotation stored unannounced (by a process that does not
    /// publish, e.g. `ledcast-server apply`): marks them announced and
    /// returns `(screen, version)` of each, so that exactly one of several
    /// replicas polling at once publishes them (the update takes the rows;
    /// a second replica's update finds them taken).
    pub async fn claim_unannounced_rotations(&self) -> StoreResult<Vec<(String, u64)>> {
        let rows = sqlx::query(
            "UPDATE rotations SET announced = 1 WHERE announced = 0 RETURNING screen_id, version",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("screen_id")?, to_u64(r.try_get("version")?))))
            .collect()
    }

    /// Stores the next version of each candidate's rotation, skipping those
    /// whose newest stored content is the same unless `force`.
    async fn store_rotations(
        &self,
        candidates: &[RotationCandidate<'_>],
        force: bool,
        announced: bool,
        mut make_envelope: impl FnMut(usize, u64) -> Vec<u8>,
    ) -> StoreResult<Vec<(usize, StoredRotation)>> {
        // Two statements per call, not two per screen: each statement is a
        // round trip to the database (for SQLite, to its worker thread).
        let mut tx = self.pool.begin().await?;
        let mut latest: HashMap<String, (u64, String)> = HashMap::with_capacity(candidates.len());
        for chunk in candidates.chunks(ROTATIONS_PER_STATEMENT) {
            let sql = format!(
                "SELECT r.screen_id AS screen_id, r.version AS version, r.content_sha256 AS content_sha256 \
                 FROM rotations r JOIN (SELECT screen_id, MAX(version) AS version FROM rotations \
                 WHERE screen_id IN ({}) GROUP BY screen_id) m \
                 ON r.screen_id = m.screen_id AND r.version = m.version",
                self.placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for c in chunk {
                query = query.bind(c.screen_id);
            }
            for row in query.fetch_all(&mut *tx).await? {
                latest.insert(
                    row.try_get("screen_id")?,
                    (
                        to_u64(row.try_get("version")?),
                        row.try_get("content_sha256")?,
                    ),
                );
            }
        }
        let mut stored = Vec::new();
        for (i, c) in candidates.iter().enumerate() {
            let next_version = match latest.get(c.screen_id) {
                Some((_, content)) if content == c.content_sha256 && !force => continue,
                Some((version, _)) => version + 1,
                None => 1,
            };
            let envelope = make_envelope(i, next_version);
            let envelope_sha256 = crate::digest::sha256_hex(&envelope);
            stored.push((
                i,
                StoredRotation {
                    screen_id: c.screen_id.to_owned(),
                    version: next_version,
                    envelope,
                    envelope_sha256,
                    content_sha256: c.content_sha256.to_owned(),
                    issued_at: c.issued_at,
                    expires_at: c.expires_at,
                },
            ));
        }
        for chunk in stored.chunks(ROTATIONS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO rotations (screen_id, version, content_sha256, envelope, envelope_sha256, \
                 issued_at, expires_at, announced) VALUES {}",
                self.values_rows(chunk.len(), 8)
            );
            let mut query = sqlx::query(&sql);
            for (_, r) in chunk {
                query = query
                    .bind(r.screen_id.as_str())
                    .bind(to_i64(r.version))
                    .bind(r.content_sha256.as_str())
                    .bind(r.envelope.clone())
                    .bind(r.envelope_sha256.as_str())
                    .bind(r.issued_at)
                    .bind(r.expires_at)
                    .bind(super::bool_i64(announced));
            }
            query.execute(&mut *tx).await.map_err(|e| {
                super::conflict_or(e, "a rotation version another writer stored first")
            })?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// Inserts a verified play batch idempotently on `(screen, boot_id, seq)`
    /// in one transaction, updating the per-day aggregate for the new
    /// records only. Returns how many records were new (0 for a duplicate).
    pub async fn insert_play_batch(
        &self,
        screen_id: &str,
        batch: &protocol::PlayBatch,
        received_at: protocol::Timestamp,
    ) -> StoreResult<u64> {
        let inserted = self
            .insert_play_batches(&[(screen_id, batch)], received_at)
            .await?;
        Ok(inserted.first().copied().unwrap_or(0))
    }

    /// Inserts several verified batches in ONE transaction, idempotently on
    /// `(screen, boot_id, seq)`: multi-row `INSERT … ON CONFLICT DO NOTHING
    /// RETURNING` names the records that were new, and only those are added
    /// to the per-day aggregate (one upsert per screen and day). A record
    /// repeated within the call counts once, for its first batch. Returns
    /// each batch's new-record count.
    pub async fn insert_play_batches(
        &self,
        batches: &[(&str, &protocol::PlayBatch)],
        received_at: protocol::Timestamp,
    ) -> StoreResult<Vec<u64>> {
        /// Rows per INSERT statement (12 binds each; far below both backends' bind limits).
        const ROWS_PER_INSERT: usize = 400;
        struct Pending<'a> {
            batch: usize,
            screen: &'a str,
            boot: &'a str,
            record: &'a protocol::PlayRecord,
        }
        let received = received_at.as_millis();
        let mut screens: Vec<&str> = batches.iter().map(|(s, _)| *s).collect();
        screens.sort_unstable();
        screens.dedup();
        let timezones = self.screen_timezones(&screens).await?;
        let mut seen = HashSet::new();
        let mut rows = Vec::new();
        for (i, (screen, batch)) in batches.iter().enumerate() {
            for record in &batch.records {
                // Ingest refuses these (with a reason in the ack) before they
                // get here; skip any that slip through rather than let one
                // absurd record fail the whole transaction.
                if record.refusal().is_some() {
                    continue;
                }
                if seen.insert((*screen, batch.boot_id.as_str(), record.seq)) {
                    rows.push(Pending {
                        batch: i,
                        screen,
                        boot: batch.boot_id.as_str(),
                        record,
                    });
                }
            }
        }
        let index: HashMap<(&str, &str, u64), usize> = rows
            .iter()
            .enumerate()
            .map(|(n, r)| ((r.screen, r.boot, r.record.seq), n))
            .collect();
        let mut inserted = vec![0u64; batches.len()];
        let mut daily: BTreeMap<(&str, String), DailyDelta> = BTreeMap::new();
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut sql = format!(
                "INSERT INTO play_records (screen_id, boot_id, seq, media, material_id, rotation_version, \
                 is_warning, started_at, ended_at, outcome, clock_suspect, received_at, \
                 bridge_vendor, bridge_confirmed) VALUES {}",
                self.values_rows(chunk.len(), 14)
            );
            sql.push_str(
                " ON CONFLICT (screen_id, boot_id, seq) DO NOTHING RETURNING screen_id, boot_id, seq",
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                let record = row.record;
                query = query
                    .bind(row.screen)
                    .bind(row.boot)
                    .bind(to_i64(record.seq))
                    .bind(record.media.to_hex())
                    .bind(&record.material_id)
                    .bind(record.rotation_version.map(to_i64))
                    .bind(bool_i64(record.is_warning))
                    .bind(record.started_at.as_millis())
                    .bind(record.ended_at.map(|t| t.as_millis()))
                    .bind(match record.outcome {
                        protocol::PlayOutcome::Completed => "completed",
                        protocol::PlayOutcome::Interrupted => "interrupted",
                    })
                    .bind(bool_i64(record.clock_suspect))
                    .bind(received)
                    .bind(record.bridge.as_ref().map(|b| b.vendor.as_str()))
                    .bind(bool_i64(record.bridge.as_ref().is_none_or(|b| b.confirmed)));
            }
            for returned in query.fetch_all(&mut *tx).await? {
                let screen: String = returned.try_get("screen_id")?;
                let boot: String = returned.try_get("boot_id")?;
                let seq = to_u64(returned.try_get("seq")?);
                let Some(&n) = index.get(&(screen.as_str(), boot.as_str(), seq)) else {
                    return Err(super::StoreError::Corrupt {
                        table: "play_records",
                        detail: format!(
                            "insert returned a record it was not given: {screen}/{boot}/{seq}"
                        ),
                    });
                };
                let row = &rows[n];
                inserted[row.batch] += 1;
                let timezone = timezones
                    .get(row.screen)
                    .map(String::as_str)
                    .unwrap_or("Asia/Shanghai");
                let started = row.record.started_at.as_millis();
                daily
                    .entry((row.screen, local_day(started, timezone)))
                    .or_default()
                    .add(row.record);
            }
        }
        for ((screen, day), d) in daily {
            sqlx::query(
                "INSERT INTO play_daily (screen_id, day, plays, warning_plays, interrupted_plays, \
                 played_ms, warning_ms, first_started_at, last_ended_at, last_received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (screen_id, day) DO UPDATE SET \
                 plays = play_daily.plays + excluded.plays, \
                 warning_plays = play_daily.warning_plays + excluded.warning_plays, \
                 interrupted_plays = play_daily.interrupted_plays + excluded.interrupted_plays, \
                 played_ms = play_daily.played_ms + excluded.played_ms, \
                 warning_ms = play_daily.warning_ms + excluded.warning_ms, \
                 first_started_at = CASE WHEN excluded.first_started_at < play_daily.first_started_at \
                   THEN excluded.first_started_at ELSE play_daily.first_started_at END, \
                 last_ended_at = CASE WHEN play_daily.last_ended_at IS NULL \
                   OR excluded.last_ended_at > play_daily.last_ended_at \
                   THEN COALESCE(excluded.last_ended_at, play_daily.last_ended_at) \
                   ELSE play_daily.last_ended_at END, \
                 last_received_at = excluded.last_received_at",
            )
            .bind(screen)
            .bind(day)
            .bind(d.plays)
            .bind(d.warning_plays)
            .bind(d.interrupted_plays)
            .bind(d.played_ms)
            .bind(d.warning_ms)
            .bind(d.first_started_at)
            .bind(d.last_ended_at)
            .bind(received)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// `screen id -> IANA time zone` for the given screens (unknown ones missing).
    async fn screen_timezones(&self, screen_ids: &[&str]) -> StoreResult<HashMap<String, String>> {
        let mut out = HashMap::new();
        for chunk in screen_ids.chunks(500) {
            let sql = format!(
                "SELECT id, timezone FROM screens WHERE id IN ({})",
                self.placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(self.reader()).await? {
                out.insert(row.try_get("id")?, row.try_get("timezone")?);
            }
        }
        Ok(out)
    }

    /// Raw play records of a screen that started in `[from, until)` (ms), oldest first.
    pub async fn play_records(
        &self,
        screen_id: &str,
        from: i64,
        until: i64,
        limit: i64,
    ) -> StoreResult<Vec<protocol::PlayRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM play_records WHERE screen_id = $1 AND started_at >= $2 AND started_at < $3 \
             ORDER BY started_at, boot_id, seq LIMIT $4",
        )
        .bind(screen_id)
        .bind(from)
        .bind(until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let media: String = r.try_get("media")?;
                let outcome: String = r.try_get("outcome")?;
                Ok(protocol::PlayRecord {
                    seq: to_u64(r.try_get("seq")?),
                    media: protocol::Sha256::from_hex(&media).map_err(|e| {
                        super::StoreError::Corrupt {
                            table: "play_records",
                            detail: e.to_string(),
                        }
                    })?,
                    material_id: r.try_get("material_id")?,
                    rotation_version: r.try_get::<Option<i64>, _>("rotation_version")?.map(to_u64),
                    is_warning: r.try_get::<i64, _>("is_warning")? != 0,
                    started_at: protocol::Timestamp(r.try_get("started_at")?),
                    ended_at: r
                        .try_get::<Option<i64>, _>("ended_at")?
                        .map(protocol::Timestamp),
                    outcome: if outcome == "interrupted" {
                        protocol::PlayOutcome::Interrupted
                    } else {
                        protocol::PlayOutcome::Completed
                    },
                    clock_suspect: r.try_get::<i64, _>("clock_suspect")? != 0,
                    bridge: r
                        .try_get::<Option<String>, _>("bridge_vendor")?
                        .map(|vendor| protocol::BridgeEvidence {
                            vendor,
                            confirmed: r
                                .try_get::<i64, _>("bridge_confirmed")
                                .map_or(true, |c| c != 0),
                        }),
                })
            })
            .collect()
    }

    /// Daily aggregates of `screens` for local days in `[from_day, until_day]`.
    pub async fn play_days(
        &self,
        screens: &[String],
        from_day: &str,
        until_day: &str,
    ) -> StoreResult<Vec<PlayDay>> {
        let mut out = Vec::new();
        for screen in screens {
            let rows = sqlx::query(
                "SELECT * FROM play_daily WHERE screen_id = $1 AND day >= $2 AND day <= $3 ORDER BY day",
            )
            .bind(screen)
            .bind(from_day)
            .bind(until_day)
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                out.push(PlayDay {
                    screen_id: r.try_get("screen_id")?,
                    day: r.try_get("day")?,
                    plays: r.try_get("plays")?,
                    warning_plays: r.try_get("warning_plays")?,
                    interrupted_plays: r.try_get("interrupted_plays")?,
                    played_ms: r.try_get("played_ms")?,
                    warning_ms: r.try_get("warning_ms")?,
                    first_started_at: r.try_get("first_started_at")?,
                    last_ended_at: r.try_get("last_ended_at")?,
                    last_received_at: r.try_get("last_received_at")?,
                });
            }
        }
        Ok(out)
    }

    /// Records a screenshot and drops all but the newest `keep` of the
    /// screen. Returns the SHA-256s no row references any more (files the
    /// caller may delete).
    pub async fn add_screenshot(
        &self,
        screen_id: &str,
        sha256: &str,
        size_bytes: u64,
        signed_at: i64,
        received_at: i64,
        keep: u32,
    ) -> StoreResult<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO screenshots (screen_id, sha256, size_bytes, signed_at, received_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(screen_id)
        .bind(sha256)
        .bind(to_i64(size_bytes))
        .bind(signed_at)
        .bind(received_at)
        .execute(&mut *tx)
        .await?;
        let rows =
            sqlx::query("SELECT id, sha256 FROM screenshots WHERE screen_id = $1 ORDER BY id DESC")
                .bind(screen_id)
                .fetch_all(&mut *tx)
                .await?;
        let mut orphans = Vec::new();
        for row in rows.iter().skip(keep as usize) {
            let id: i64 = row.try_get("id")?;
            let sha: String = row.try_get("sha256")?;
            sqlx::query("DELETE FROM screenshots WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let still = sqlx::query("SELECT COUNT(*) AS n FROM screenshots WHERE sha256 = $1")
                .bind(&sha)
                .fetch_one(&mut *tx)
                .await?;
            if still.try_get::<i64, _>("n")? == 0 {
                orphans.push(sha);
            }
        }
        tx.commit().await?;
        Ok(orphans)
    }

    /// The screenshots of a screen, newest first.
    pub async fn screenshots(&self, screen_id: &str) -> StoreResult<Vec<ScreenshotRow>> {
        let rows = sqlx::query("SELECT * FROM screenshots WHERE screen_id = $1 ORDER BY id DESC")
            .bind(screen_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ScreenshotRow {
                    id: r.try_get("id")?,
                    screen_id: r.try_get("screen_id")?,
                    sha256: r.try_get("sha256")?,
                    size_bytes: r.try_get("size_bytes")?,
                    signed_at: r.try_get("signed_at")?,
                    received_at: r.try_get("received_at")?,
                })
            })
            .collect()
    }
}

/// One screen's rotation for [`Store::store_rotations_if_changed`].
#[derive(Debug, Clone, Copy)]
pub struct RotationCandidate<'a> {
    /// The screen.
    pub screen_id: &'a str,
    /// Hash of the rotation's content (unchanged content stores nothing).
    pub content_sha256: &'a str,
    /// Issue instant, ms.
    pub issued_at: i64,
    /// Expiry instant, ms.
    pub expires_at: i64,
}

/// Stores the next version of `c` inside `tx` unless its content is
/// unchanged (or `force`).
/// Screens per statement in [`Store::store_rotations_if_changed`] (7 binds
/// per row; far below both backends' bind limits).
const ROTATIONS_PER_STATEMENT: usize = 250;
