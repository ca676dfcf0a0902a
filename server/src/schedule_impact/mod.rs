//! What approving a schedule would change (issue 19, point 3: "approve with
//! eyes open"). Every screen the schedule targets is compiled twice at the
//! same instant, as the recompiler compiles: with the model on air now
//! ([`crate::applied::stored_model`]) and with the schedule counted
//! approved ([`crate::applied::model_of`]), same catalog, and the two
//! rotations are compared instant by instant over the coming week. Also:
//! on which screens its priority is above every schedule already there, so
//! that approving it replaces them in its hours.
//!
//! Nothing is stored. The approval page renders [`of_pending`]; the
//! playlist builder's 检查 and 提交 answers carry [`Summary`] of
//! [`of_file`] (the builder's own schedules, before they are submitted).

mod view;

use std::collections::BTreeSet;

use anyhow::Context;
use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;
use serde::Serialize;

use crate::applied::{catalog, model_of};
use crate::recompiler::compile_instant;
use crate::state::AppState;
use crate::store::PlaylistFile;

/// How far ahead the comparison looks: one week, so that a weekday-only
/// or weekend-only schedule shows whatever day it is looked at.
pub const PREVIEW_HOURS: i64 = 7 * 24;

pub use view::*;

/// What approving the stored schedule `schedule` would change, at `now`;
/// `None` when no stored file defines it.
pub async fn of_pending(
    state: &AppState,
    schedule: &str,
    now: protocol::Timestamp,
) -> anyhow::Result<Option<ScheduleImpact>> {
    let files = state.store.playlist_files().await?;
    compare(state, &files, schedule, now, false).await
}

/// What the schedules defined in `own_file` of `files` (a builder's
/// proposal, not stored yet) would change once stored and approved,
/// compared with what is on air now. The clerk who asks has usually just
/// uploaded its materials, so "after" counts the materials its playlist
/// names as approved too (and says so: [`ScheduleImpact::assumes_approved`]).
pub async fn of_file(
    state: &AppState,
    files: &[PlaylistFile],
    own_file: &str,
    now: protocol::Timestamp,
) -> anyhow::Result<Vec<ScheduleImpact>> {
    let (model, _) = crate::applied::parse_files(files);
    let mut out = Vec::new();
    for schedule in model
        .schedules
        .iter()
        .filter(|s| s.location.file == own_file)
    {
        out.extend(compare(state, files, &schedule.id, now, true).await?);
    }
    Ok(out)
}

/// Compiles the screens `schedule` (in `files`) targets as on air now and
/// with it approved (and, with `assume_approved`, the materials its
/// playlist names), and compares them.
async fn compare(
    state: &AppState,
    files: &[PlaylistFile],
    schedule: &str,
    now: protocol::Timestamp,
    assume_approved: bool,
) -> anyhow::Result<Option<ScheduleImpact>> {
    let stored = state.store.playlist_files().await?;
    let before = model_of(state, &stored, now, &[]).await?.map(|(m, _)| m);
    let Some((after, _)) = model_of(state, files, now, &[schedule]).await? else {
        return Ok(None);
    };
    let Some(entry) = after.schedules.iter().find(|s| s.id == schedule).cloned() else {
        return Ok(None);
    };
    // The screens it targets, and those its version on air targets.
    let on_air = before.as_ref().and_then(|m| {
        m.schedules
            .iter()
            .find(|s| s.id == schedule)
            .map(|s| (m, s))
    });
    let mut targeted: BTreeSet<String> = targeted_by(&after, &entry);
    if let Some((model, old)) = on_air {
        targeted.extend(targeted_by(model, old));
    }
    let catalog = catalog(state).await?;
    let named_items: BTreeSet<&str> = after
        .playlists
        .get(entry.playlist)
        .into_iter()
        .flat_map(|p| &p.items)
        .filter_map(|item| match &item.source {
            compiler::model::ItemSource::Material(id) => Some(id.as_str()),
            compiler::model::ItemSource::Query(_) => None,
        })
        .collect();
    let after_catalog = if assume_approved {
        let materials = catalog
            .materials()
            .iter()
            .cloned()
            .map(|mut m| {
                m.approved |= named_items.contains(m.id.as_str());
                m
            })
            .collect();
        compiler::Catalog::new(materials)
            .with_current_edition(catalog.current_edition().map(str::to_owned))
    } else {
        catalog.clone()
    };
    let window = compiler::Window::hours(compile_instant(now), PREVIEW_HOURS, PREVIEW_HOURS);
    // Only the targeted screens can change: compile those (each screen
    // compiles on its own, so this is what a full compile gives them).
    let only_targeted = |model: &compiler::Model| {
        let mut model = model.clone();
        model.screens.retain(|s| targeted.contains(s.id.as_str()));
        model
    };
    let before_model = before.as_ref().map(only_targeted);
    let after_model = only_targeted(&after);
    // (Screens the version on air targeted and the new one does not are
    // among them, so a change that drops screens shows them too.)
    let (before_compiled, after_compiled, catalog, before_model, after_model) =
        tokio::task::spawn_blocking(move || {
            let before_compiled = before_model
                .as_ref()
                .map(|m| compiler::compile(m, &catalog, window).0)
                .unwrap_or_default();
            let (after_compiled, _) = compiler::compile(&after_model, &after_catalog, window);
            (
                before_compiled,
                after_compiled,
                catalog,
                before_model,
                after_model,
            )
        })
        .await
        .context("the compiler stopped")?;
    let from = now.as_millis();
    let until = window.now.as_millis() + PREVIEW_HOURS * 3_600_000;
    let playlist = after_model.playlists.get(entry.playlist);
    let mut screens = Vec::new();
    for screen in &after_model.screens {
        let id = screen.id.as_str();
        let named = named(&after_model, screen);
        let highest_other = before
            .as_ref()
            .map(|m| highest_other(m, screen, site_id(&after_model, screen), schedule))
            .unwrap_or_default();
        let old = before_compiled
            .iter()
            .find(|c| c.rotation.screen_id.as_str() == id);
        let new = after_compiled
            .iter()
            .find(|c| c.rotation.screen_id.as_str() == id);
        let changes = match new {
            Some(new) => loop_changes(
                old.map(|c| (c, before_model.as_ref().unwrap_or(&after_model))),
                (new, &after_model),
                from,
                until,
            ),
            None => Vec::new(),
        };
        let mut replaces: Vec<LoopSource> = changes
            .iter()
            .filter(|c| c.after.source.kind == "schedule" && c.after.source.id == schedule)
            .map(|c| c.before.source.clone())
            .filter(|s| !(s.kind == "schedule" && s.id == schedule))
            .collect();
        replaces.sort();
        replaces.dedup();
        screens.push(ScreenImpact {
            screen: named,
            timezone: screen.timezone.name().to_owned(),
            highest_other,
            changes,
            replaces,
            fails_after: new.is_none() && old.is_some(),
        });
    }
    screens.sort_by(|a, b| {
        a.changes
            .is_empty()
            .cmp(&b.changes.is_empty())
            .then_with(|| a.screen.id.cmp(&b.screen.id))
    });
    let targeted_now = targeted_by(&after_model, &entry);
    let outranked: Vec<(&NamedScreen, i32)> = screens
        .iter()
        .filter(|s| targeted_now.contains(&s.screen.id))
        .filter_map(|s| {
            s.highest_other
                .filter(|h| entry.priority > *h)
                .map(|h| (&s.screen, h))
        })
        .collect();
    let outranks = outranked
        .iter()
        .map(|(_, h)| *h)
        .max()
        .map(|highest| Outranks {
            highest,
            screens: outranked.iter().map(|(s, _)| (*s).clone()).collect(),
        });
    // Its materials: named items in order, then what its queries found.
    let mut materials: Vec<String> = Vec::new();
    if let Some(playlist) = playlist {
        for item in &playlist.items {
            if let compiler::model::ItemSource::Material(id) = &item.source {
                if !materials.contains(id) {
                    materials.push(id.clone());
                }
            }
        }
    }
    for compiled in &after_compiled {
        for (block, origin) in compiled.rotation.blocks.iter().zip(&compiled.origins) {
            let ours = matches!(&*origin.source, compiler::Source::Schedule { schedule: s, .. } if s == schedule);
            if !ours {
                continue;
            }
            for (slot, inserted) in block.slots.iter().zip(origin.inserted.iter()) {
                if !inserted && !materials.contains(&slot.material_id) {
                    materials.push(slot.material_id.clone());
                }
            }
        }
    }
    let pending_materials = materials
        .iter()
        .filter(|id| catalog.get(id).is_some_and(|m| !m.approved))
        .cloned()
        .collect();
    Ok(Some(ScheduleImpact {
        schedule: schedule.to_owned(),
        playlist: playlist.map(|p| p.id.clone()).unwrap_or_default(),
        playlist_name: playlist
            .map(|p| {
                if p.name.is_empty() {
                    p.id.clone()
                } else {
                    p.name.clone()
                }
            })
            .unwrap_or_default(),
        priority: entry.priority,
        targets: Targets {
            screens: entry.targets.screens.clone(),
            tags: entry.targets.tags.clone(),
            sites: entry.targets.sites.clone(),
        },
        materials,
        pending_materials,
        assumes_approved: assume_approved,
        screens,
        outranks,
        from,
        until,
    }))
}

fn site_id<'a>(model: &'a compiler::Model, screen: &compiler::model::Screen) -> &'a str {
    model
        .sites
        .get(screen.site)
        .map_or("", |site| site.id.as_str())
}

fn named(model: &compiler::Model, screen: &compiler::model::Screen) -> NamedScreen {
    let or_id = |name: &str, id: &str| {
        if name.is_empty() {
            id.to_owned()
        } else {
            name.to_owned()
        }
    };
    let site = model.sites.get(screen.site);
    NamedScreen {
        id: screen.id.as_str().to_owned(),
        name: or_id(&screen.name, screen.id.as_str()),
        site_name: site.map_or_else(String::new, |s| or_id(&s.name, &s.id)),
    }
}

/// The ids of the screens `schedule` targets in `model`.
fn targeted_by(model: &compiler::Model, schedule: &compiler::model::Schedule) -> BTreeSet<String> {
    model
        .screens
        .iter()
        .filter(|s| schedule.targets.matches(s, site_id(model, s)))
        .map(|s| s.id.as_str().to_owned())
        .collect()
}

/// The highest priority of the schedules in `model` other than `except`
/// that target `screen` (at site `site`).
fn highest_other(
    model: &compiler::Model,
    screen: &compiler::model::Screen,
    site: &str,
    except: &str,
) -> Option<i32> {
    model
        .schedules
        .iter()
        .filter(|s| s.id != except && s.targets.matches(screen, site))
        .map(|s| s.priority)
        .max()
}

/// The loop playing at `t`: the highest-priority block containing it, or
/// the fallback.
fn loop_at(compiled: &compiler::CompiledScreen, model: &compiler::Model, t: i64) -> LoopView {
    let rotation = &compiled.rotation;
    let block = rotation
        .blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| b.from.as_millis() <= t && t < b.until.as_millis())
        .max_by_key(|(i, b)| (b.priority, std::cmp::Reverse(*i)));
    let playlist_name = |id: &str| {
        model
            .playlists
            .iter()
            .find(|p| p.id == id)
            .map(|p| {
                if p.name.is_empty() {
                    p.id.clone()
                } else {
                    p.name.clone()
                }
            })
            .unwrap_or_else(|| id.to_owned())
    };
    let (source, slots, inserted): (LoopSource, &[protocol::Slot], &[bool]) = match block {
        Some((i, b)) => {
            let origin = &compiled.origins[i];
            let source = match &*origin.source {
                compiler::Source::Schedule { schedule, playlist } => LoopSource {
                    kind: "schedule",
                    id: schedule.clone(),
                    playlist_name: playlist_name(playlist),
                    priority: Some(b.priority),
                },
                compiler::Source::Alert { alert, playlist } => LoopSource {
                    kind: "alert",
                    id: alert.clone(),
                    playlist_name: playlist_name(playlist),
                    priority: None,
                },
                compiler::Source::Default { playlist } => LoopSource {
                    kind: "default",
                    id: playlist.clone(),
                    playlist_name: playlist_name(playlist),
                    priority: None,
                },
            };
            (source, &b.slots, &origin.inserted)
        }
        None => (
            LoopSource {
                kind: "fallback",
                id: String::new(),
                playlist_name: String::new(),
                priority: None,
            },
            &rotation.fallback,
            &[],
        ),
    };
    LoopView {
        source,
        slots: slots
            .iter()
            .enumerate()
            .map(|(i, s)| SlotView {
                material: s.material_id.clone(),
                media: s.media.to_hex(),
                is_image: rotation
                    .media
                    .iter()
                    .any(|m| m.sha256 == s.media && m.mime.starts_with("image/")),
                is_warning: s.is_warning,
                inserted: inserted.get(i).copied().unwrap_or(false),
                seconds: s.duration_ms.div_ceil(1000),
            })
            .collect(),
    }
}

/// Each (now, after) pair of loop sources that differ within `[from,
/// until)`, with the loops of its first instant and how long it applies in
/// all, by first instant.
fn loop_changes(
    before: Option<(&compiler::CompiledScreen, &compiler::Model)>,
    after: (&compiler::CompiledScreen, &compiler::Model),
    from: i64,
    until: i64,
) -> Vec<LoopChange> {
    let mut edges: BTreeSet<i64> = BTreeSet::from([from, until]);
    let rotations = before.iter().map(|(c, _)| *c).chain([after.0]);
    for compiled in rotations {
        for block in &compiled.rotation.blocks {
            for edge in [block.from.as_millis(), block.until.as_millis()] {
                if from < edge && edge < until {
                    edges.insert(edge);
                }
            }
        }
    }
    let edges: Vec<i64> = edges.into_iter().collect();
    let mut changes: Vec<LoopChange> = Vec::new();
    for pair in edges.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let new = loop_at(after.0, after.1, a);
        let old = match before {
            Some((compiled, model)) => loop_at(compiled, model, a),
            None => LoopView {
                source: LoopSource {
                    kind: "fallback",
                    id: String::new(),
                    playlist_name: String::new(),
                    priority: None,
                },
                slots: Vec::new(),
            },
        };
        if old == new {
            continue;
        }
        // One change per (now, after) source pair: a loop that changes
        // within a source (an item expiring) is the same change to people.
        match changes
            .iter_mut()
            .find(|c| c.before.source == old.source && c.after.source == new.source)
        {
            Some(change) => change.duration_ms += b - a,
            None => changes.push(LoopChange {
                from: a,
                duration_ms: b - a,
                before: old,
                after: new,
            }),
        }
    }
    changes
}

/// The priority the builder offers a new schedule, and the range of the
/// schedules that play on screens now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PriorityAdvice {
    /// The default: below every schedule that targets a screen, so a new
    /// schedule plays only where nothing else is scheduled until its author
    /// raises it (issue 19: the old default 40 silently beat every demo
    /// schedule).
    pub default: i32,
    /// The lowest and highest priority of the schedules that target at
    /// least one screen (channels such as the online-transfer feed are not
    /// screens); `None` when there are none.
    pub range: Option<(i32, i32)>,
}

/// The priority for a new schedule when no schedule targets a screen.
pub const NEW_SCHEDULE_PRIORITY: i32 = 10;

/// [`PriorityAdvice`] for the playlist files `files`.
pub fn priority_advice(files: &[PlaylistFile]) -> PriorityAdvice {
    let (model, _) = crate::applied::parse_files(files);
    let on_screens: Vec<i32> = model
        .schedules
        .iter()
        .filter(|s| !targeted_by(&model, s).is_empty())
        .map(|s| s.priority)
        .collect();
    match (on_screens.iter().min(), on_screens.iter().max()) {
        (Some(&lowest), Some(&highest)) => PriorityAdvice {
            default: lowest
                .saturating_sub(1)
                .max(-compiler::model::MAX_SCHEDULE_PRIORITY),
            range: Some((lowest, highest)),
        },
        _ => PriorityAdvice {
            default: NEW_SCHEDULE_PRIORITY,
            range: None,
        },
    }
}
