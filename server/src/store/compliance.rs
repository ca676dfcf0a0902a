//! Compliance inputs and branch confirmations: the play records compliance
//! is computed from (with their arrival time), and the append-only
//! confirmation log (`confirmations`, made immutable by triggers in
//! migration 0005: a correction is a new row naming the earlier one).

use serde::Serialize;
use sqlx::Row;

use super::{BranchVerdict, Store, StoreError, StoreResult};

/// One play record, as compliance needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Play {
    /// When it went on screen (agent clock, ms).
    pub started_at: i64,
    /// When it left the screen (`None`: the agent died while showing it).
    pub ended_at: Option<i64>,
    /// Whether it was an anti-fraud warning.
    pub is_warning: bool,
    /// The agent distrusted its clock; such records are not evidence.
    pub clock_suspect: bool,
    /// A controller card played it through a vendor bridge and did not
    /// confirm the loop for the record's whole time; such time is unproven.
    pub bridge_unconfirmed: bool,
    /// When the server received it (ms).
    pub received_at: i64,
}

/// One stored confirmation.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConfirmationRow {
    /// Id (`cf-` + 16 hex digits).
    pub id: String,
    /// Order of insertion (1, 2, …).
    pub seq: i64,
    /// The screen confirmed.
    pub screen_id: String,
    /// Its site at the time.
    pub site_id: String,
    /// ISO week, `2026-W48`.
    pub week: String,
    /// First instant of the week (ms, site time).
    pub period_from: i64,
    /// End of the week (ms, exclusive).
    pub period_until: i64,
    /// `ok` or `problem`.
    pub verdict: BranchVerdict,
    /// What the confirmer wrote.
    pub note: String,
    /// An uploaded photo (SHA-256), if any.
    pub photo_sha256: Option<String>,
    /// The earlier entry this one corrects, if any.
    pub corrects: Option<String>,
    /// What the confirmation was based on (compliance figures, screenshot hashes).
    pub evidence: serde_json::Value,
    /// Who (user id).
    pub confirmed_by: String,
    /// When (server clock, ms).
    pub confirmed_at: i64,
}

/// A confirmation to store.
#[derive(Debug, Clone)]
pub struct NewConfirmation<'a> {
    /// Id.
    pub id: &'a str,
    /// Screen.
    pub screen_id: &'a str,
    /// Site.
    pub site_id: &'a str,
    /// ISO week.
    pub week: &'a str,
    /// Week start (ms).
    pub period_from: i64,
    /// Week end (ms).
    pub period_until: i64,
    /// `ok` or `problem`.
    pub verdict: BranchVerdict,
    /// Note.
    pub note: &'a str,
    /// Photo.
    pub photo_sha256: Option<&'a str>,
    /// The entry it corrects: `None` lets the store pick the latest entry of
    /// the same screen and week (if there is one).
    pub corrects: Option<&'a str>,
    /// Evidence JSON.
    pub evidence: &'a serde_json::Value,
    /// User id.
    pub confirmed_by: &'a str,
    /// Now (ms).
    pub confirmed_at: i64,
}

/// Why a confirmation was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// `corrects` names no entry of this screen and week.
    #[error("there is no confirmation {0:?} of this screen and week to correct")]
    UnknownCorrected(String),
    /// `corrects` names an entry that a later one already corrected.
    #[error(
        "confirmation {corrected:?} was already corrected by {by:?}; correct the latest entry"
    )]
    AlreadyCorrected {
        /// The named entry.
        corrected: String,
        /// Its correction.
        by: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ConfirmError {
    fn from(e: sqlx::Error) -> Self {
        ConfirmError::Store(StoreError::Database(e))
    }
}

fn confirmation_from_row(r: &sqlx::any::AnyRow) -> StoreResult<ConfirmationRow> {
    let evidence: String = r.try_get("evidence")?;
    let id: String = r.try_get("id")?;
    Ok(ConfirmationRow {
        verdict: super::domain::decode(r, "confirmations", &id, "status")?,
        id,
        seq: r.try_get("seq")?,
        screen_id: r.try_get("screen_id")?,
        site_id: r.try_get("site_id")?,
        week: r.try_get("week")?,
        period_from: r.try_get("period_from")?,
        period_until: r.try_get("period_until")?,
        note: r.try_get("note")?,
        photo_sha256: r.try_get("photo_sha256")?,
        corrects: r.try_get("corrects")?,
        evidence: serde_json::from_str(&evidence).map_err(|e| StoreError::Corrupt {
            table: "confirmations",
            detail: e.to_string(),
        })?,
        confirmed_by: r.try_get("confirmed_by")?,
        confirmed_at: r.try_get("confirmed_at")?,
    })
}

impl Store {
    /// Play records of a screen that started in `[from, until)` (ms), with
    /// their arrival time, oldest first, for compliance.
    pub async fn compliance_plays(
        &self,
        screen_id: &str,
        from: i64,
        until: i64,
    ) -> StoreResult<Vec<Play>> {
        let rows = sqlx::query(
            // A play of media nobody could read (a dark strip) is no warning,
            // whatever the rotation said.
            "SELECT p.started_at, p.ended_at, \
             CAST(CASE WHEN p.is_warning <> 0 AND NOT EXISTS \
               (SELECT 1 FROM illegible_media i WHERE i.sha256 = p.media) THEN 1 ELSE 0 END AS BIGINT) AS is_warning, \
             p.clock_suspect, p.received_at, p.bridge_confirmed FROM play_records p \
             WHERE p.screen_id = $1 AND p.started_at >= $2 AND p.started_at < $3 ORDER BY p.started_at",
        )
        .bind(screen_id)
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Play {
                    started_at: r.try_get("started_at")?,
                    ended_at: r.try_get("ended_at")?,
                    is_warning: r.try_get::<i64, _>("is_warning")? != 0,
                    clock_suspect: r.try_get::<i64, _>("clock_suspect")? != 0,
                    bridge_unconfirmed: r.try_get::<i64, _>("bridge_confirmed")? == 0,
                    received_at: r.try_get("received_at")?,
                })
            })
            .collect()
    }

    /// Appends a confirmation. When `corrects` is `None` and the screen
    /// already has entries for the week, the new one corrects the latest.
    pub async fn add_confirmation(
        &self,
        new: &NewConfirmation<'_>,
    ) -> Result<ConfirmationRow, ConfirmError> {
        let mut tx = self.pool.begin().await?;
        let latest = sqlx::query(
            "SELECT id FROM confirmations c WHERE screen_id = $1 AND week = $2 \
             AND NOT EXISTS (SELECT 1 FROM confirmations d WHERE d.corrects = c.id) \
             ORDER BY seq DESC LIMIT 1",
        )
        .bind(new.screen_id)
        .bind(new.week)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get::<String, _>("id"))
        .transpose()?;
        let corrects = match new.corrects {
            None => latest,
            Some(named) => {
                let found = sqlx::query(
                    "SELECT id FROM confirmations WHERE id = $1 AND screen_id = $2 AND week = $3",
                )
                .bind(named)
                .bind(new.screen_id)
                .bind(new.week)
                .fetch_optional(&mut *tx)
                .await?;
                if found.is_none() {
                    return Err(ConfirmError::UnknownCorrected(named.to_owned()));
                }
                let by = sqlx::query("SELECT id FROM confirmations WHERE corrects = $1")
                    .bind(named)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(by) = by {
                    return Err(ConfirmError::AlreadyCorrected {
                        corrected: named.to_owned(),
                        by: by.try_get("id")?,
                    });
                }
                Some(named.to_owned())
            }
        };
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM confirmations")
            .fetch_one(&mut *tx)
            .await?
            .try_get("next")?;
        sqlx::query(
            "INSERT INTO confirmations (id, screen_id, period_from, period_until, status, note, \
             evidence, confirmed_by, confirmed_at, site_id, week, photo_sha256, corrects, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(new.id)
        .bind(new.screen_id)
        .bind(new.period_from)
        .bind(new.period_until)
        .bind(new.verdict.as_str())
        .bind(new.note)
        .bind(new.evidence.to_string())
        .bind(new.confirmed_by)
        .bind(new.confirmed_at)
        .bind(new.site_id)
        .bind(new.week)
        .bind(new.photo_sha256)
        .bind(corrects.as_deref())
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(|e| super::conflict_or(e, "a correction of that confirmation"))?;
        tx.commit().await?;
        Ok(ConfirmationRow {
            id: new.id.to_owned(),
            seq,
            screen_id: new.screen_id.to_owned(),
            site_id: new.site_id.to_owned(),
            week: new.week.to_owned(),
            period_from: new.period_from,
            period_until: new.period_until,
            verdict: new.verdict,
            note: new.note.to_owned(),
            photo_sha256: new.photo_sha256.map(str::to_owned),
            corrects,
            evidence: new.evidence.clone(),
            confirmed_by: new.confirmed_by.to_owned(),
            confirmed_at: new.confirmed_at,
        })
    }

    /// Records that the photo `sha256` was uploaded for each of `sites`
    /// (`["*"]` for a user who sees every site).
    pub async fn record_confirmation_photo(
        &self,
        sha256: &str,
        sites: &[String],
        uploaded_by: &str,
        uploaded_at: i64,
    ) -> StoreResult<()> {
        for site in sites {
            sqlx::query(
                "INSERT INTO confirmation_photo_sites (sha256, site_id, uploaded_by, uploaded_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (sha256, site_id) DO NOTHING",
            )
            .bind(sha256)
            .bind(site)
            .bind(uploaded_by)
            .bind(uploaded_at)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Whether the photo `sha256` was uploaded for `site` (or by a user who
    /// sees every site).
    pub async fn confirmation_photo_is_for_site(
        &self,
        sha256: &str,
        site: &str,
    ) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM confirmation_photo_sites \
             WHERE sha256 = $1 AND (site_id = $2 OR site_id = '*')",
        )
        .bind(sha256)
        .bind(site)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Confirmations, oldest first, filtered by sites (`None` = all), week
    /// and screen.
    pub async fn confirmations(
        &self,
        sites: Option<&[String]>,
        week: Option<&str>,
        screen_id: Option<&str>,
    ) -> StoreResult<Vec<ConfirmationRow>> {
        let rows = sqlx::query(
            "SELECT * FROM confirmations WHERE ($1 = '' OR week = $1) AND ($2 = '' OR screen_id = $2) \
             ORDER BY seq",
        )
        .bind(week.unwrap_or(""))
        .bind(screen_id.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let row = confirmation_from_row(r)?;
            if sites.is_none_or(|s| s.contains(&row.site_id)) {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// Confirmations whose week overlaps `[from, until)` (ms), oldest first.
    pub async fn confirmations_between(
        &self,
        screens: &[String],
        from: i64,
        until: i64,
    ) -> StoreResult<Vec<ConfirmationRow>> {
        let rows = sqlx::query(
            "SELECT * FROM confirmations WHERE period_until > $1 AND period_from < $2 ORDER BY seq",
        )
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let row = confirmation_from_row(r)?;
            if screens.contains(&row.screen_id) {
                out.push(row);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::backends;

    fn new<'a>(
        id: &'a str,
        corrects: Option<&'a str>,
        evidence: &'a serde_json::Value,
    ) -> NewConfirmation<'a> {
        NewConfirmation {
            id,
            screen_id: "s1",
            site_id: "site-a",
            week: "2026-W48",
            period_from: 1,
            period_until: 2,
            verdict: BranchVerdict::Ok,
            note: "fine",
            photo_sha256: None,
            corrects,
            evidence,
            confirmed_by: "u1",
            confirmed_at: 10,
        }
    }

    #[tokio::test]
    async fn confirmations_are_append_only_and_corrections_chain() {
        for db in backends().await {
            let store = &db.store;
            let ev = serde_json::json!({"days": [1, 2]});
            let first = store
                .add_confirmation(&new("cf-1", None, &ev))
                .await
                .unwrap();
            assert_eq!(first.corrects, None);
            // A second entry without `corrects` corrects the latest.
            let second = store
                .add_confirmation(&new("cf-2", None, &ev))
                .await
                .unwrap();
            assert_eq!(second.corrects.as_deref(), Some("cf-1"), "{}", db.name);
            // Correcting an already corrected entry is refused.
            let err = store
                .add_confirmation(&new("cf-3", Some("cf-1"), &ev))
                .await
                .unwrap_err();
            assert!(
                matches!(err, ConfirmError::AlreadyCorrected { .. }),
                "{err}"
            );
            let err = store
                .add_confirmation(&new("cf-3", Some("cf-none"), &ev))
                .await
                .unwrap_err();
            assert!(matches!(err, ConfirmError::UnknownCorrected(_)), "{err}");
            // The database itself refuses edits and deletes.
            for sql in [
                "UPDATE confirmations SET note = 'changed' WHERE id = 'cf-1'",
                "DELETE FROM confirmations WHERE id = 'cf-1'",
            ] {
                let result = sqlx::query(sql).execute(store.pool()).await;
                assert!(result.is_err(), "{}: {sql} succeeded", db.name);
            }
            let listed = store
                .confirmations(None, Some("2026-W48"), None)
                .await
                .unwrap();
            assert_eq!(listed.len(), 2);
            assert_eq!(listed[0].note, "fine");
            assert_eq!(listed[0].evidence, ev);
            assert!(store
                .confirmations(Some(&["site-b".to_owned()]), None, None)
                .await
                .unwrap()
                .is_empty());
            db.finish().await;
        }
    }
}
