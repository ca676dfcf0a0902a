//! What a *channel* — a place that is not a screen, such as the warning
//! feed of online-transfer pages — carries at one instant.
//!
//! A channel is addressed like a screen tag: the schedules whose `tags`
//! list the channel's name (e.g. `tags = ["online-transfer"]`) are its
//! schedules. At `now`, the active one with the highest priority wins (ties:
//! the id that sorts first), exactly as on a screen, read in the deployment's
//! time zone (`[settings] timezone`). There is no default playlist, no
//! alert and no fallback for a channel: when none of its schedules is
//! active it carries nothing. Of the winning playlist's items, the
//! materials live at `now` (approved, `valid_from <= now < valid_until`,
//! item validity too) are returned in play order, without duplicates.
//!
//! Pure: no clock, no I/O. It does not filter by kind or warning flag (the
//! caller, e.g. the feed, keeps the warning texts).

use crate::calendar::{expand_calendar, expand_cron, CalendarSpec, Millis};
use crate::catalog::{Catalog, CatalogMaterial};
use crate::compile::query_matches_statically;
use crate::model::{ItemSource, Model, When};

/// Channel names a schedule may target in `tags` without any screen
/// carrying them (no "no screen carries tag" warning).
pub const CHANNELS: &[&str] = &["online-transfer"];

/// What a channel carries at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelNow {
    /// The schedule in effect, if any.
    pub schedule: Option<String>,
    /// Its playlist.
    pub playlist: Option<String>,
    /// Material ids live at the instant, in play order.
    pub materials: Vec<String>,
}

/// Whether schedule `index` of `model` is active at `now` (settings time zone).
fn active_at(model: &Model, index: usize, now: Millis) -> bool {
    let tz = model.settings.timezone;
    let schedule = &model.schedules[index];
    let intervals = match &schedule.when {
        When::Calendar { days, dates, hours } => expand_calendar(
            CalendarSpec {
                days: *days,
                dates,
                hours,
            },
            tz,
            now,
            now + 1,
        ),
        When::Cron {
            schedule,
            duration_seconds,
        } => {
            expand_cron(
                schedule,
                i64::from(*duration_seconds) * 1000,
                tz,
                now,
                now + 1,
            )
            .0
        }
    };
    intervals
        .iter()
        .any(|&(from, until)| from <= now && now < until)
}

/// What channel `channel` carries at `now` (see the module documentation).
pub fn channel_at(model: &Model, catalog: &Catalog, channel: &str, now: Millis) -> ChannelNow {
    let winner = model
        .schedules
        .iter()
        .enumerate()
        .filter(|(_, s)| s.targets.tags.iter().any(|t| t == channel))
        .filter(|(i, _)| active_at(model, *i, now))
        // schedules are sorted by id: the first of the highest priority wins
        .fold(None::<usize>, |best, (i, s)| match best {
            Some(b) if model.schedules[b].priority >= s.priority => Some(b),
            _ => Some(i),
        });
    let Some(winner) = winner else {
        return ChannelNow::default();
    };
    let schedule = &model.schedules[winner];
    let playlist = &model.playlists[schedule.playlist];
    let mut materials: Vec<String> = Vec::new();
    let mut push = |m: &CatalogMaterial| {
        if m.is_live_at(now) && !materials.contains(&m.id) {
            materials.push(m.id.clone());
        }
    };
    for item in &playlist.items {
        if item.valid_from.is_some_and(|f| now < f) || item.valid_until.is_some_and(|u| now >= u) {
            continue;
        }
        match &item.source {
            ItemSource::Material(id) => {
                if let Some(m) = catalog.get(id) {
                    push(m);
                }
            }
            ItemSource::Query(query) => {
                let mut found: Vec<&CatalogMaterial> = catalog
                    .materials()
                    .iter()
                    .filter(|m| {
                        m.is_live_at(now)
                            && query_matches_statically(query, m, catalog.current_edition())
                    })
                    .collect();
                found.sort_by(|a, b| b.added_at.cmp(&a.added_at).then_with(|| a.id.cmp(&b.id)));
                if let Some(n) = query.newest {
                    found.truncate(n as usize);
                }
                for m in found {
                    push(m);
                }
            }
        }
    }
    ChannelNow {
        schedule: Some(schedule.id.clone()),
        playlist: Some(playlist.id.clone()),
        materials,
    }
}
