//! Screenshots a screen sent, the newest few kept per screen.

use serde::Serialize;
use sqlx::Row;

use crate::store::{to_i64, Store, StoreResult};

/// A stored screenshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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

impl Store {
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
