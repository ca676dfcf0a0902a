//! Materials (with their approval state), renditions, media objects (what
//! `/media/{sha256}` may serve) and the playlist files (`playlists/` TOML,
//! stored verbatim so export gives them back byte for byte).
//!
//! It does not decode media or parse TOML.

use serde::Serialize;
use sqlx::Row;

use super::domain::{decode, MaterialKind, MaterialState, ScheduleState, StoredWord, Verdict};
use super::{conflict_or, to_i64, Store, StoreResult};

/// A material as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct MaterialRow {
    /// Stable id.
    pub id: String,
    /// SHA-256 of the stored (re-encoded) bytes.
    pub sha256: String,
    /// Poster, video or text.
    pub kind: MaterialKind,
    /// Title.
    pub title: String,
    /// Fraud category tags.
    pub tags: Vec<String>,
    /// Where it came from (e.g. `county pack 2026-W48`).
    pub source: String,
    /// MIME type of the stored bytes.
    pub mime: String,
    /// Stored size.
    pub size_bytes: i64,
    /// Pixel width, when visual.
    pub width: Option<i64>,
    /// Pixel height, when visual.
    pub height: Option<i64>,
    /// Video length.
    pub duration_ms: Option<i64>,
    /// Validity start (ms).
    pub valid_from: Option<i64>,
    /// Validity end (ms).
    pub valid_until: Option<i64>,
    /// Pending, approved, rejected or retired.
    pub state: MaterialState,
    /// Uploader's user id.
    pub uploaded_by: String,
    /// Upload instant (ms).
    pub uploaded_at: i64,
    /// Approver / rejecter.
    pub decided_by: Option<String>,
    /// Decision instant.
    pub decided_at: Option<i64>,
    /// Counts as an anti-fraud warning for compliance rules.
    pub is_warning: bool,
}

/// A material to insert.
#[derive(Debug, Clone)]
pub struct NewMaterial {
    /// The row (state is set to `pending`).
    pub row: MaterialRow,
}

/// Filters for listing materials.
#[derive(Debug, Clone, Default)]
pub struct MaterialFilter {
    /// Only this state.
    pub state: Option<MaterialState>,
    /// Only materials carrying this tag.
    pub tag: Option<String>,
    /// Only this kind.
    pub kind: Option<MaterialKind>,
}

/// A rendition as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RenditionRow {
    /// Material.
    pub material_id: String,
    /// Profile it was made for.
    pub profile_id: String,
    /// Content address.
    pub sha256: String,
    /// Size.
    pub size_bytes: i64,
    /// MIME.
    pub mime: String,
    /// Width.
    pub width: i64,
    /// Height.
    pub height: i64,
    /// What the renderer measured and judged (`legibility::RenditionFacts`
    /// as JSON); `None` for renditions made before the legibility rules.
    pub facts: Option<String>,
}

/// One file of `playlists/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaylistFile {
    /// File name, e.g. `schedules.toml`.
    pub name: String,
    /// Its text, verbatim.
    pub text: String,
}

fn material_from_row(r: &sqlx::any::AnyRow) -> StoreResult<MaterialRow> {
    let tags: String = r.try_get("tags")?;
    let id: String = r.try_get("id")?;
    Ok(MaterialRow {
        kind: decode(r, "materials", &id, "kind")?,
        state: decode(r, "materials", &id, "state")?,
        id,
        sha256: r.try_get("sha256")?,
        title: r.try_get("title")?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        source: r.try_get("source")?,
        mime: r.try_get("mime")?,
        size_bytes: r.try_get("size_bytes")?,
        width: r.try_get("width")?,
        height: r.try_get("height")?,
        duration_ms: r.try_get("duration_ms")?,
        valid_from: r.try_get("valid_from")?,
        valid_until: r.try_get("valid_until")?,
        uploaded_by: r.try_get("uploaded_by")?,
        uploaded_at: r.try_get("uploaded_at")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
        is_warning: r.try_get::<i64, _>("is_warning")? != 0,
    })
}

impl Store {
    /// Registers a stored media file so `/media/{sha256}` may serve it.
    pub async fn register_media(
        &self,
        sha256: &str,
        mime: &str,
        size_bytes: u64,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO media_objects (sha256, mime, size_bytes, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(mime)
        .bind(to_i64(size_bytes))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The MIME type and size of a registered media file.
    pub async fn media_object(&self, sha256: &str) -> StoreResult<Option<(String, u64)>> {
        let row = sqlx::query("SELECT mime, size_bytes FROM media_objects WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("mime")?, super::to_u64(r.try_get("size_bytes")?))))
            .transpose()
    }

    /// Inserts a new material in state `pending`.
    pub async fn insert_material(&self, material: &MaterialRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO materials (id, sha256, kind, title, tags, source, mime, size_bytes, width, height, \
             duration_ms, valid_from, valid_until, state, uploaded_by, uploaded_at, is_warning) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'pending', $14, $15, $16)",
        )
        .bind(&material.id)
        .bind(&material.sha256)
        .bind(material.kind.as_str())
        .bind(&material.title)
        .bind(serde_json::to_string(&material.tags).unwrap_or_else(|_| "[]".to_owned()))
        .bind(&material.source)
        .bind(&material.mime)
        .bind(material.size_bytes)
        .bind(material.width)
        .bind(material.height)
        .bind(material.duration_ms)
        .bind(material.valid_from)
        .bind(material.valid_until)
        .bind(&material.uploaded_by)
        .bind(material.uploaded_at)
        .bind(super::bool_i64(material.is_warning))
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, format!("material {:?}", material.id)))?;
        Ok(())
    }

    /// One material.
    pub async fn material(&self, id: &str) -> StoreResult<Option<MaterialRow>> {
        let row = sqlx::query("SELECT * FROM materials WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(material_from_row).transpose()
    }

    /// The oldest material whose stored bytes have this SHA-256 (duplicate detection).
    pub async fn material_by_sha256(&self, sha256: &str) -> StoreResult<Option<MaterialRow>> {
        let row = sqlx::query(
            "SELECT * FROM materials WHERE sha256 = $1 ORDER BY uploaded_at, id LIMIT 1",
        )
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(material_from_row).transpose()
    }

    /// Approved materials whose `valid_until` is in `[from, until)` (ms),
    /// soonest first: the daily expiry report.
    pub async fn materials_expiring(&self, from: i64, until: i64) -> StoreResult<Vec<MaterialRow>> {
        let rows = sqlx::query(
            "SELECT * FROM materials WHERE state = 'approved' AND valid_until IS NOT NULL \
             AND valid_until >= $1 AND valid_until < $2 ORDER BY valid_until, id",
        )
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(material_from_row).collect()
    }

    /// Materials matching `filter`, newest first.
    pub async fn list_materials(&self, filter: &MaterialFilter) -> StoreResult<Vec<MaterialRow>> {
        let rows = sqlx::query(
            "SELECT * FROM materials WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR kind = $2) \
             ORDER BY uploaded_at DESC, id",
        )
        .bind(filter.state.map(MaterialState::as_str))
        .bind(filter.kind.map(StoredWord::as_str))
        .fetch_all(&self.pool)
        .await?;
        let materials = rows
            .iter()
            .map(material_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(match &filter.tag {
            Some(tag) => materials
                .into_iter()
                .filter(|m| m.tags.contains(tag))
                .collect(),
            None => materials,
        })
    }

    /// Moves a material from `from_state` to `to_state`, recording who
    /// decided; false when it was not in `from_state`.
    pub async fn decide_material(
        &self,
        id: &str,
        from_state: MaterialState,
        to_state: MaterialState,
        decided_by: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE materials SET state = $1, decided_by = $2, decided_at = $3 \
             WHERE id = $4 AND state = $5",
        )
        .bind(to_state.as_str())
        .bind(decided_by)
        .bind(now)
        .bind(id)
        .bind(from_state.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Retires a material (it leaves every future rotation); false when unknown or already retired.
    pub async fn retire_material(&self, id: &str, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE materials SET state = 'retired', retired_at = $1 WHERE id = $2 AND state <> 'retired'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records (or replaces) a material's rendition for a profile.
    pub async fn upsert_rendition(&self, rendition: &RenditionRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO renditions (material_id, profile_id, sha256, size_bytes, mime, width, height, facts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (material_id, profile_id) DO UPDATE SET \
             sha256 = excluded.sha256, size_bytes = excluded.size_bytes, mime = excluded.mime, \
             width = excluded.width, height = excluded.height, facts = excluded.facts",
        )
        .bind(&rendition.material_id)
        .bind(&rendition.profile_id)
        .bind(&rendition.sha256)
        .bind(rendition.size_bytes)
        .bind(&rendition.mime)
        .bind(rendition.width)
        .bind(rendition.height)
        .bind(&rendition.facts)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM rendition_refusals WHERE material_id = $1 AND profile_id = $2")
            .bind(&rendition.material_id)
            .bind(&rendition.profile_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records why `material_id` has no legible rendition for `profile_id`
    /// (`problem`: `legibility::Problem` as JSON).
    pub async fn upsert_rendition_refusal(
        &self,
        material_id: &str,
        profile_id: &str,
        problem: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO rendition_refusals (material_id, profile_id, problem) VALUES ($1, $2, $3) \
             ON CONFLICT (material_id, profile_id) DO UPDATE SET problem = excluded.problem",
        )
        .bind(material_id)
        .bind(profile_id)
        .bind(problem)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every refusal: `(material, profile, problem JSON)`.
    pub async fn list_rendition_refusals(&self) -> StoreResult<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT material_id, profile_id, problem FROM rendition_refusals ORDER BY material_id, profile_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("material_id")?,
                    r.try_get("profile_id")?,
                    r.try_get("problem")?,
                ))
            })
            .collect()
    }

    /// Lists media a person could not read (compliance does not count its
    /// plays as warnings). Idempotent.
    pub async fn mark_media_illegible(
        &self,
        sha256: &str,
        reason: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO illegible_media (sha256, reason, judged_at) VALUES ($1, $2, $3) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(reason)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every rendition, by material then profile.
    pub async fn list_renditions(&self) -> StoreResult<Vec<RenditionRow>> {
        let rows = sqlx::query("SELECT * FROM renditions ORDER BY material_id, profile_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RenditionRow {
                    material_id: r.try_get("material_id")?,
                    profile_id: r.try_get("profile_id")?,
                    sha256: r.try_get("sha256")?,
                    size_bytes: r.try_get("size_bytes")?,
                    mime: r.try_get("mime")?,
                    width: r.try_get("width")?,
                    height: r.try_get("height")?,
                    facts: r.try_get("facts")?,
                })
            })
            .collect()
    }

    /// Replaces the whole set of playlist files in one transaction.
    pub async fn replace_playlist_files(
        &self,
        files: &[PlaylistFile],
        updated_by: &str,
        now: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM playlist_files")
            .execute(&mut *tx)
            .await?;
        for file in files {
            sqlx::query(
                "INSERT INTO playlist_files (name, text, updated_at, updated_by) VALUES ($1, $2, $3, $4)",
            )
            .bind(&file.name)
            .bind(&file.text)
            .bind(now)
            .bind(updated_by)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The stored playlist files, by name.
    pub async fn playlist_files(&self) -> StoreResult<Vec<PlaylistFile>> {
        let rows = sqlx::query("SELECT name, text FROM playlist_files ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PlaylistFile {
                    name: r.try_get("name")?,
                    text: r.try_get("text")?,
                })
            })
            .collect()
    }
}

/// A schedule's approval record (the schedule itself lives in the playlist files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ScheduleRow {
    /// Schedule id.
    pub id: String,
    /// Its playlist id.
    pub playlist_id: String,
    /// Pending, approved or rejected.
    pub state: ScheduleState,
    /// Who applied the current version.
    pub submitted_by: String,
    /// Who approved or rejected it.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<i64>,
    /// When the current version was applied.
    pub updated_at: i64,
}

impl Store {
    /// Records the schedules of an apply: new ones, and ones whose
    /// `fingerprint` changed, become `pending` (submitted by `submitted_by`);
    /// unchanged ones keep their state; missing ones are dropped. Returns the
    /// ids that became pending.
    pub async fn sync_schedules(
        &self,
        schedules: &[(String, String, String)],
        submitted_by: &str,
        now: i64,
    ) -> StoreResult<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT id, body FROM schedules")
            .fetch_all(&mut *tx)
            .await?;
        let existing: Vec<(String, String)> = rows
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("body")?)))
            .collect::<StoreResult<_>>()?;
        let mut pending = Vec::new();
        for (id, playlist_id, fingerprint) in schedules {
            match existing.iter().find(|(e, _)| e == id) {
                Some((_, body)) if body == fingerprint => continue,
                Some(_) => {
                    sqlx::query(
                        "UPDATE schedules SET playlist_id = $1, body = $2, state = 'pending', submitted_by = $3, \
                         decided_by = NULL, decided_at = NULL, updated_at = $4 WHERE id = $5",
                    )
                    .bind(playlist_id)
                    .bind(fingerprint)
                    .bind(submitted_by)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO schedules (id, playlist_id, body, state, submitted_by, updated_at) \
                         VALUES ($1, $2, $3, 'pending', $4, $5)",
                    )
                    .bind(id)
                    .bind(playlist_id)
                    .bind(fingerprint)
                    .bind(submitted_by)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            pending.push(id.clone());
        }
        for (id, _) in &existing {
            if !schedules.iter().any(|(s, _, _)| s == id) {
                sqlx::query("DELETE FROM schedules WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(pending)
    }

    /// Every schedule's approval record, by id.
    pub async fn list_schedules(&self) -> StoreResult<Vec<ScheduleRow>> {
        let rows = sqlx::query("SELECT * FROM schedules ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                Ok(ScheduleRow {
                    state: decode(r, "schedules", &id, "state")?,
                    id,
                    playlist_id: r.try_get("playlist_id")?,
                    submitted_by: r.try_get("submitted_by")?,
                    decided_by: r.try_get("decided_by")?,
                    decided_at: r.try_get("decided_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Moves a pending schedule to the state `verdict` leads to; false
    /// when it was not pending.
    pub async fn decide_schedule(
        &self,
        id: &str,
        verdict: Verdict,
        decided_by: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE schedules SET state = $1, decided_by = $2, decided_at = $3 WHERE id = $4 AND state = 'pending'",
        )
        .bind(verdict.schedule_state().as_str())
        .bind(decided_by)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 && verdict == Verdict::Approved {
            // What was approved: the files as they are now, so this version
            // stays on air while a later change to it waits for approval.
            let rows = sqlx::query("SELECT name, text FROM playlist_files ORDER BY name")
                .fetch_all(&mut *tx)
                .await?;
            let files = rows
                .iter()
                .map(|r| {
                    Ok(PlaylistFile {
                        name: r.try_get("name")?,
                        text: r.try_get("text")?,
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            sqlx::query("UPDATE schedules SET approved_files = $1 WHERE id = $2")
                .bind(serde_json::to_string(&files).unwrap_or_else(|_| "[]".to_owned()))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Schedules not approved in their current version (pending or
    /// rejected) that were approved before, with the playlist files as they
    /// were at that approval.
    pub async fn previously_approved_schedules(
        &self,
    ) -> StoreResult<Vec<(String, Vec<PlaylistFile>)>> {
        let rows = sqlx::query(
            "SELECT id, approved_files FROM schedules \
             WHERE state <> 'approved' AND approved_files IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let json: String = r.try_get("approved_files")?;
                let files =
                    serde_json::from_str(&json).map_err(|e| super::StoreError::Corrupt {
                        table: "schedules",
                        detail: format!("approved_files of {id}: {e}"),
                    })?;
                Ok((id, files))
            })
            .collect()
    }
}

/// An urgent alert created through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AlertRow {
    /// Alert id.
    pub id: String,
    /// The material shown.
    pub material_id: String,
    /// Targets as JSON `{screens, tags, sites}`.
    pub targets: serde_json::Value,
    /// Start (ms).
    pub starts_at: i64,
    /// End (ms, exclusive).
    pub until: i64,
    /// Creator's user id.
    pub created_by: String,
    /// Creation (ms).
    pub created_at: i64,
    /// Ended early at (ms).
    pub ended_at: Option<i64>,
}

impl Store {
    /// Stores a new alert.
    pub async fn insert_alert(&self, alert: &AlertRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO alerts (id, material_id, targets, starts_at, until, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&alert.id)
        .bind(&alert.material_id)
        .bind(alert.targets.to_string())
        .bind(alert.starts_at)
        .bind(alert.until)
        .bind(&alert.created_by)
        .bind(alert.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, format!("alert {:?}", alert.id)))?;
        Ok(())
    }

    /// Alerts not ended and not over at `now` (all when `now` is `None`), newest first.
    pub async fn list_alerts(&self, now: Option<i64>) -> StoreResult<Vec<AlertRow>> {
        let rows = sqlx::query(
            "SELECT * FROM alerts WHERE ($1 IS NULL OR (ended_at IS NULL AND until > $1)) \
             ORDER BY created_at DESC, id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let targets: String = r.try_get("targets")?;
                Ok(AlertRow {
                    id: r.try_get("id")?,
                    material_id: r
                        .try_get::<Option<String>, _>("material_id")?
                        .unwrap_or_default(),
                    targets: serde_json::from_str(&targets).unwrap_or_default(),
                    starts_at: r.try_get("starts_at")?,
                    until: r.try_get("until")?,
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                    ended_at: r.try_get("ended_at")?,
                })
            })
            .collect()
    }

    /// Ends an alert early; false when unknown or already ended.
    pub async fn end_alert(&self, id: &str, now: i64) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE alerts SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
