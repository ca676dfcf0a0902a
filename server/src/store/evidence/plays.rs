//! Raw play records, inserted idempotently, with their per-screen-per-day
//! aggregate (the day in the screen's time zone).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::TimeZone;
use ledcast_protocol::v1 as protocol;
use serde::Serialize;
use sqlx::Row;

use crate::store::{bool_i64, to_i64, to_u64, Store, StoreResult};

/// The per-screen-per-day play aggregate (day in the screen's time zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
                    return Err(crate::store::StoreError::Corrupt {
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
                        crate::store::StoreError::Corrupt {
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
}
