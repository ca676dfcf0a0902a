//! Library editions (issue 10) and the stored daily expiry reports.
//!
//! An edition row is written when a pack is imported (`pending`); approving
//! it makes it `current` and, in the same transaction, supersedes the
//! edition that was current and approves the edition's pending materials
//! (ids `{edition}-nnn`). It does not check roles or the two-person rule
//! (the HTTP layer does) and does not compile.

use serde::Serialize;
use sqlx::Row;

use super::domain::{decode, EditionState};
use super::{Store, StoreResult};

/// One imported library edition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct EditionRow {
    /// Edition id, e.g. `gaogang-2026-W48`.
    pub id: String,
    /// Who issued it.
    pub publisher: String,
    /// Issue date, `YYYY-MM-DD`.
    pub issued: String,
    /// First import (ms).
    pub imported_at: i64,
    /// The importing user's id.
    pub imported_by: String,
    /// Pending, current or superseded.
    pub state: EditionState,
    /// Approver's user id.
    pub approved_by: Option<String>,
    /// Approval (ms).
    pub approved_at: Option<i64>,
    /// When another edition replaced it (ms).
    pub superseded_at: Option<i64>,
    /// The edition that replaced it.
    pub superseded_by: Option<String>,
}

/// A stored daily expiry report.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ExpiryReportRow {
    /// The local day it covers (`YYYY-MM-DD`).
    pub day: String,
    /// When it was produced (ms).
    pub produced_at: i64,
    /// The report itself.
    pub report: serde_json::Value,
}

fn edition_from_row(r: &sqlx::any::AnyRow) -> StoreResult<EditionRow> {
    let id: String = r.try_get("id")?;
    Ok(EditionRow {
        state: decode(r, "editions", &id, "state")?,
        id,
        publisher: r.try_get("publisher")?,
        issued: r.try_get("issued")?,
        imported_at: r.try_get("imported_at")?,
        imported_by: r.try_get("imported_by")?,
        approved_by: r.try_get("approved_by")?,
        approved_at: r.try_get("approved_at")?,
        superseded_at: r.try_get("superseded_at")?,
        superseded_by: r.try_get("superseded_by")?,
    })
}

impl Store {
    /// Records an imported edition as pending; false (and nothing changed)
    /// when it is already known.
    pub async fn record_edition(
        &self,
        id: &str,
        publisher: &str,
        issued: &str,
        imported_by: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO editions (id, publisher, issued, imported_at, imported_by, state) \
             VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(publisher)
        .bind(issued)
        .bind(now)
        .bind(imported_by)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every edition, newest issue first.
    pub async fn list_editions(&self) -> StoreResult<Vec<EditionRow>> {
        let rows = sqlx::query("SELECT * FROM editions ORDER BY issued DESC, id DESC")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(edition_from_row).collect()
    }

    /// One edition.
    pub async fn edition(&self, id: &str) -> StoreResult<Option<EditionRow>> {
        let row = sqlx::query("SELECT * FROM editions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(edition_from_row).transpose()
    }

    /// The current edition, if one was approved.
    pub async fn current_edition(&self) -> StoreResult<Option<EditionRow>> {
        let row = sqlx::query(
            "SELECT * FROM editions WHERE state = 'current' ORDER BY approved_at DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(edition_from_row).transpose()
    }

    /// Makes pending edition `id` current: the current one (if any) becomes
    /// superseded at `now`, and the edition's pending materials are approved
    /// by `approver`, all in one transaction.
    pub async fn approve_edition(
        &self,
        id: &str,
        approver: &str,
        now: i64,
    ) -> StoreResult<ApproveOutcome> {
        let mut tx = self.pool.begin().await?;
        let previous: Option<String> =
            sqlx::query("SELECT id FROM editions WHERE state = 'current' AND id <> $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("id"))
                .transpose()?;
        let done = sqlx::query(
            "UPDATE editions SET state = 'current', approved_by = $1, approved_at = $2 \
             WHERE id = $3 AND state = 'pending'",
        )
        .bind(approver)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(ApproveOutcome::NotPending);
        }
        sqlx::query(
            "UPDATE editions SET state = 'superseded', superseded_at = $1, superseded_by = $2 \
             WHERE state = 'current' AND id <> $2",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let materials = sqlx::query(
            "UPDATE materials SET state = 'approved', decided_by = $1, decided_at = $2 \
             WHERE source = $3 AND id LIKE $4 AND state = 'pending'",
        )
        .bind(approver)
        .bind(now)
        .bind(id)
        .bind(format!("{id}-%"))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ApproveOutcome::Approved {
            superseded: previous,
            materials_approved: materials.rows_affected(),
        })
    }

    /// Stores the expiry report of local day `day`; false when that day
    /// already has one (another replica or an earlier run produced it).
    pub async fn store_expiry_report(
        &self,
        day: &str,
        produced_at: i64,
        report: &serde_json::Value,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO expiry_reports (day, produced_at, report) VALUES ($1, $2, $3) \
             ON CONFLICT (day) DO NOTHING",
        )
        .bind(day)
        .bind(produced_at)
        .bind(report.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The newest stored expiry report.
    pub async fn latest_expiry_report(&self) -> StoreResult<Option<ExpiryReportRow>> {
        let row = sqlx::query(
            "SELECT day, produced_at, report FROM expiry_reports ORDER BY day DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| -> StoreResult<ExpiryReportRow> {
            let text: String = r.try_get("report")?;
            Ok(ExpiryReportRow {
                day: r.try_get("day")?,
                produced_at: r.try_get("produced_at")?,
                report: serde_json::from_str(&text).map_err(|e| super::StoreError::Corrupt {
                    table: "expiry_reports",
                    detail: e.to_string(),
                })?,
            })
        })
        .transpose()
    }
}

/// What [`Store::approve_edition`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApproveOutcome {
    /// The edition is current now.
    Approved {
        /// The edition it replaced.
        superseded: Option<String>,
        /// How many pending materials were approved with it.
        materials_approved: u64,
    },
    /// It was not pending (unknown, current or superseded): nothing changed.
    NotPending,
}
