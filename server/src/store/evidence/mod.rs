//! Evidence and delivery state: signed rotation versions per screen (here),
//! raw play records with their per-screen-per-day aggregate ([`plays`]) and
//! screenshots ([`screenshots`]).
//!
//! It stores what it is given: signing, verifying envelopes and computing
//! compliance from the aggregates happen elsewhere.

use std::collections::HashMap;

use sqlx::Row;

use super::{to_i64, to_u64, Store, StoreResult};

mod plays;
mod screenshots;

pub use plays::PlayDay;
pub use screenshots::ScreenshotRow;

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
