//! What replicas share through the database instead of a disk (issue 21):
//! the sealed server keys and the media, in parts. Sealing and the choice
//! of when to share live in `crate::replicas`; this module only stores.

use std::collections::HashSet;

use sqlx::Row;

use super::{Store, StoreResult};

/// Bytes per stored media part: a bound on one row (and one query's
/// memory) whatever the medium's size.
pub const MEDIA_PART_BYTES: usize = 1 << 20;

impl Store {
    /// The sealed key in `slot` (`current`, `previous`), if stored.
    pub async fn deployment_key(&self, slot: &str) -> StoreResult<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT sealed FROM deployment_keys WHERE slot = $1")
            .bind(slot)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("sealed"))
            .transpose()
            .map_err(Into::into)
    }

    /// Stores `sealed` in `slot` unless one is there already; returns
    /// whether it was stored (two replicas starting at once: one wins, the
    /// other reads the winner's).
    pub async fn put_deployment_key_if_absent(
        &self,
        slot: &str,
        sealed: &[u8],
        key_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO deployment_keys (slot, sealed, key_id, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (slot) DO NOTHING",
        )
        .bind(slot)
        .bind(sealed.to_vec())
        .bind(key_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces the keys in several slots in one transaction (after
    /// `keys rotate`): `(slot, sealed, key_id)`.
    pub async fn set_deployment_keys(
        &self,
        keys: &[(&str, Vec<u8>, String)],
        now: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for (slot, sealed, key_id) in keys {
            sqlx::query(
                "INSERT INTO deployment_keys (slot, sealed, key_id, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (slot) DO UPDATE SET sealed = excluded.sealed, key_id = excluded.key_id, \
                 updated_at = excluded.updated_at",
            )
            .bind(*slot)
            .bind(sealed.clone())
            .bind(key_id.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Keeps a medium's bytes (idempotent: a medium already kept is left).
    /// The parts go in one transaction, so a medium is kept whole or not at all.
    pub async fn put_media_blob(&self, sha256: &str, bytes: &[u8]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let kept = sqlx::query("SELECT 1 AS one FROM media_blobs WHERE sha256 = $1 AND part = 0")
            .bind(sha256)
            .fetch_optional(&mut *tx)
            .await?;
        if kept.is_some() {
            return Ok(());
        }
        let parts: Vec<&[u8]> = if bytes.is_empty() {
            vec![bytes]
        } else {
            bytes.chunks(MEDIA_PART_BYTES).collect()
        };
        for (part, chunk) in parts.into_iter().enumerate() {
            sqlx::query(
                "INSERT INTO media_blobs (sha256, part, bytes) VALUES ($1, $2, $3) \
                 ON CONFLICT (sha256, part) DO NOTHING",
            )
            .bind(sha256)
            .bind(i64::try_from(part).unwrap_or(i64::MAX))
            .bind(chunk.to_vec())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A kept medium's bytes, if any.
    pub async fn media_blob(&self, sha256: &str) -> StoreResult<Option<Vec<u8>>> {
        let rows = sqlx::query("SELECT bytes FROM media_blobs WHERE sha256 = $1 ORDER BY part")
            .bind(sha256)
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for row in rows {
            let part: Vec<u8> = row.try_get("bytes")?;
            out.extend_from_slice(&part);
        }
        Ok(Some(out))
    }

    /// The hashes of every kept medium.
    pub async fn media_blob_hashes(&self) -> StoreResult<HashSet<String>> {
        let rows = sqlx::query("SELECT sha256 FROM media_blobs WHERE part = 0")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get("sha256").map_err(Into::into))
            .collect()
    }
}
