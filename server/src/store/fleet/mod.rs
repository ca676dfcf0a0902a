//! Organisations, sites, profiles and screens; enrollment codes and device
//! keys; the last reported state of each screen and its presence history.
//!
//! Enrollment codes and broker passwords arrive hashed. Deciding whether a
//! state report is authentic is the caller's job (it opens the envelope).

mod enrollment;
mod presence;

pub use enrollment::{BrokerLoginRow, DeviceKeyRow, NewDeviceKey};
pub use presence::{OfflineScreen, RecordedStates, ScreenStateRow, ScreenVersions};

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{bool_i64, conflict_or, Store, StoreResult};

/// A site (bank branch, service hall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
}
