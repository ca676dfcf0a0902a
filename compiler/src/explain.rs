//! `--explain`: a compiled screen's timeline as text a supervisor can check:
//! each block from–until in the screen's local time, what produced it
//! (alert, schedule, default), the rules enforced, and its loop. On a day
//! whose UTC offset changes (DST), times carry their offset (`01:15:00
//! UTC-05:00`), so the two 01:15 of a fall-back night read apart.
//!
//! Formatting only: it neither compiles nor checks anything.

use std::fmt::Write;

use chrono::{Offset, TimeZone};
use chrono_tz::Tz;
use ledcast_protocol::v1 as protocol;

use crate::catalog::Catalog;
use crate::compile::{CompiledScreen, Source};
use crate::model::Model;

fn local(tz: Tz, t: protocol::Timestamp) -> String {
    match tz.timestamp_millis_opt(t.0).single() {
        Some(d) if offset_changes_on(tz, d.date_naive()) => {
            d.format("%Y-%m-%d %a %H:%M:%S UTC%:z").to_string()
        }
        Some(d) => d.format("%Y-%m-%d %a %H:%M:%S").to_string(),
        None => format!("{} ms", t.0),
    }
}

/// Whether the UTC offset of `tz` changes during local `date` (or at its
/// first instant).
fn offset_changes_on(tz: Tz, date: chrono::NaiveDate) -> bool {
    let offset = |t: i64| {
        tz.timestamp_millis_opt(t)
            .single()
            .map(|d| d.offset().fix())
    };
    let start = crate::calendar::local_to_utc(tz, date, 0);
    let end = crate::calendar::local_to_utc(tz, date, 24 * 60);
    offset(start - 1) != offset(start) || offset(start) != offset(end - 1)
}

fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

fn slot_line(out: &mut String, catalog: &Catalog, slot: &protocol::Slot, inserted: bool) {
    let kind = match slot.kind {
        protocol::SlotKind::Still => "still".to_owned(),
        protocol::SlotKind::Video => "video".to_owned(),
        protocol::SlotKind::Scroll { px_per_second } => format!("scroll {px_per_second} px/s"),
    };
    let title = catalog
        .get(&slot.material_id)
        .map_or("", |m| m.title.as_str());
    let mut notes = Vec::new();
    if slot.is_warning {
        notes.push("warning");
    }
    if inserted {
        notes.push("inserted for the rules");
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("  [{}]", notes.join(", "))
    };
    let _ = writeln!(
        out,
        "        {:>7}  {:<15} {}  {}{}",
        seconds(slot.duration_ms),
        kind,
        slot.material_id,
        title,
        notes
    );
}

fn opening_hours(site: &crate::model::Site) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    if site.opening_hours.is_empty() {
        return "never open".to_owned();
    }
    site.opening_hours
        .iter()
        .map(|(days, ranges)| {
            let days: Vec<&str> = (0..7)
                .filter(|d| days.0 & (1 << d) != 0)
                .map(|d| DAYS[d])
                .collect();
            let ranges: Vec<String> = ranges
                .iter()
                .map(|r| {
                    format!(
                        "{:02}:{:02}-{:02}:{:02}",
                        r.start_minute / 60,
                        r.start_minute % 60,
                        (r.end_minute / 60) % 24,
                        r.end_minute % 60
                    )
                })
                .collect();
            format!("{} {}", days.join(","), ranges.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The timeline of `compiled` as text.
pub fn explain(model: &Model, catalog: &Catalog, compiled: &CompiledScreen) -> String {
    let rotation = &compiled.rotation;
    let tz: Tz = rotation
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Asia::Shanghai);
    let mut out = String::new();
    if let Some(screen) = model.screen(rotation.screen_id.as_str()) {
        let site = &model.sites[screen.site];
        let profile = &model.profiles[screen.profile];
        let _ = writeln!(
            out,
            "screen {} · {} · {} ({})",
            screen.id, screen.name, site.name, site.id
        );
        let _ = writeln!(
            out,
            "profile {} · {}×{} {} · video {} · scroll {} · time zone {}",
            profile.id,
            profile.width,
            profile.height,
            match profile.color {
                crate::model::ColorClass::Mono => "mono",
                crate::model::ColorClass::Dual => "dual",
                crate::model::ColorClass::Full => "full colour",
            },
            if profile.video { "yes" } else { "no" },
            if profile.scroll { "yes" } else { "no" },
            rotation.timezone
        );
    }
    if let Some(screen) = model.screen(rotation.screen_id.as_str()) {
        let site = &model.sites[screen.site];
        for rule in &model.rules {
            if !rule.targets.matches(screen, &site.id) {
                continue;
            }
            let mut asks = Vec::new();
            if let Some(gap) = rule.max_gap_seconds {
                asks.push(format!("a warning at least every {gap} s"));
            }
            if let Some(share) = rule.min_warning_share {
                asks.push(format!(
                    "at least {:.0} % of airtime warnings",
                    share * 100.0
                ));
            }
            let _ = writeln!(
                out,
                "rule {}: {} during opening hours ({})",
                rule.id,
                asks.join(", "),
                opening_hours(site)
            );
        }
    }
    let _ = writeln!(
        out,
        "compiled for {}  ·  expires {}",
        local(tz, rotation.issued_at),
        local(tz, rotation.expires_at)
    );
    let _ = writeln!(
        out,
        "{} block(s); the highest priority plays; outside every block the fallback plays",
        rotation.blocks.len()
    );
    for (index, (block, origin)) in rotation.blocks.iter().zip(&compiled.origins).enumerate() {
        let source = match origin.source.as_ref() {
            Source::Alert { alert, playlist } => format!("ALERT `{alert}` (playlist `{playlist}`)"),
            Source::Schedule { schedule, playlist } => {
                format!("schedule `{schedule}` (playlist `{playlist}`)")
            }
            Source::Default { playlist } => {
                format!("default playlist `{playlist}` (no schedule active)")
            }
        };
        let loop_ms: u64 = block.slots.iter().map(|s| s.duration_ms).sum();
        let warn_ms: u64 = block
            .slots
            .iter()
            .filter(|s| s.is_warning)
            .map(|s| s.duration_ms)
            .sum();
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:>3}. {} → {}  priority {}",
            index + 1,
            local(tz, block.from),
            local(tz, block.until),
            block.priority
        );
        let _ = writeln!(out, "     from {source}");
        if origin.rules.is_empty() {
            let _ = writeln!(
                out,
                "     rules: none in force (outside opening hours or no rule for this screen)"
            );
        } else {
            let _ = writeln!(
                out,
                "     rules: {} (opening hours)",
                origin.rules.join(", ")
            );
        }
        let share = if loop_ms == 0 {
            0.0
        } else {
            warn_ms as f64 * 100.0 / loop_ms as f64
        };
        let _ = writeln!(
            out,
            "     loop of {} slot(s), {} per round, {:.0} % warnings:",
            block.slots.len(),
            seconds(loop_ms),
            share
        );
        for (slot, inserted) in block.slots.iter().zip(origin.inserted.iter()) {
            slot_line(&mut out, catalog, slot, *inserted);
        }
    }
    let _ = writeln!(out);
    if rotation.fallback.is_empty() {
        let _ = writeln!(
            out,
            "fallback: none in this rotation (the agent's built-in warnings play)"
        );
    } else {
        let _ = writeln!(
            out,
            "fallback (standard warnings, when no block covers the time or after expiry):"
        );
        for slot in &rotation.fallback {
            slot_line(&mut out, catalog, slot, false);
        }
    }
    out
}
