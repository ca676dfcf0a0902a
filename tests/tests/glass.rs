//! Proof by frames (issue 16): the whole demo site (`playlists/` +
//! `media/`) plays for seven simulated days on a virtual clock through the
//! agent's real player and display code ([`ledcast_server::glass`]), and
//! every screen is looked at every second:
//!
//! - every screen is lit in at least 99.9 % of its seconds;
//! - no sampled second of a text slot is dark;
//! - every character of every warning scroll that runs its whole pass is
//!   seen on the panel, with ink where the character stands;
//! - every demo text on every demo profile matches its golden PNG
//!   (`tests/golden/texts/`, looked at by a person; regenerate with
//!   `LEDCAST_UPDATE_GOLDEN=1`).
//!
//! The week is fixed (from Monday 2026-11-30 00:00 Asia/Shanghai), never
//! the day the test runs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledcast_agent::player::Content;
use ledcast_protocol::v1::{scroll, SlotKind, Timestamp};
use ledcast_server::glass::{self, GlassScreen};
use ledcast_server::site_files::{self, SiteFiles};

/// Monday 2026-11-30 00:00 +08:00.
const START: Timestamp = Timestamp(1_764_432_000_000);
/// Seven days; `LEDCAST_GLASS_DAYS` shortens the run while investigating.
fn days() -> u32 {
    std::env::var("LEDCAST_GLASS_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(7)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn site() -> SiteFiles {
    site_files::load(&repo().join("playlists"), &repo().join("media")).expect("the demo site loads")
}

/// This test's one clock read: how long loading and playing took (printed
/// only; the simulation itself runs on the virtual clock).
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> std::time::Instant {
    std::time::Instant::now()
}

/// What one screen's week looked like.
#[derive(Default, Debug)]
struct Week {
    seconds: u64,
    lit_seconds: u64,
    text_seconds: u64,
    dark_text: Vec<String>,
    scrolls_checked: u64,
    unseen: Vec<String>,
    errors: Vec<String>,
}

/// A scroll slot being watched: which characters were seen with ink.
struct Watch {
    seq: u64,
    material: String,
    slot_started_at: Timestamp,
    started_at: Timestamp,
    ends_at: Timestamp,
    strip_width: u32,
    px_per_second: u32,
    spans: Vec<(char, i64, u32)>,
    seen: Vec<bool>,
}

impl Watch {
    /// Whether the scroll ran at least one whole pass from its start and
    /// ended by `now` without a new rotation cutting in.
    fn whole_pass(&self, width: u32, now: Timestamp, deliveries: &[Timestamp]) -> bool {
        let pass = scroll::scroll_pass_ms(self.strip_width, width, self.px_per_second);
        self.started_at == self.slot_started_at
            && self.ends_at <= now
            && self.ends_at.millis_since(self.slot_started_at) >= pass as i64
            && !deliveries
                .iter()
                .any(|d| *d > self.slot_started_at && *d <= self.ends_at)
    }
}

/// Whether columns `from..to` of `frame` carry ink: row slices, the middle
/// rows first (where a character's strokes are), stopping at the first lit
/// byte.
fn column_has_ink(frame: &image::RgbImage, from: u32, to: u32) -> bool {
    let row = frame.width() as usize * 3;
    let (from, to) = (from as usize * 3, to as usize * 3);
    let raw = frame.as_raw();
    let rows = frame.height() as usize;
    let half = rows / 2;
    (0..rows)
        .map(|i| {
            if i % 2 == 0 {
                half + i / 2
            } else {
                half.wrapping_sub(i / 2 + 1)
            }
        })
        .filter(|&y| y < rows)
        .any(|y| raw[y * row + from..y * row + to].iter().any(|&v| v != 0))
}

fn play_week(site: &SiteFiles, screen_id: &str, rotations: &[(Timestamp, Vec<u8>)]) -> Week {
    let key = glass::glass_key();
    let model_screen = site.model.screen(screen_id).unwrap();
    let profile = &site.model.profiles[model_screen.profile];
    let width = profile.width;
    let mut glass = GlassScreen::new(site, screen_id, &key, START).unwrap();
    let mut pending = rotations.iter().peekable();
    let mut week = Week::default();
    let mut lit_cache: (usize, bool) = (0, false);
    let mut watch: Option<Watch> = None;
    let text_kind: HashMap<&str, bool> = site
        .entries
        .iter()
        .map(|e| {
            (
                e.id.as_str(),
                e.kind == ledcast_compiler::MaterialKind::Text,
            )
        })
        .collect();
    let deliveries: Vec<Timestamp> = rotations.iter().map(|(at, _)| *at).collect();
    let finish = |watch: Option<Watch>, week: &mut Week, now: Timestamp| {
        let Some(w) = watch else { return };
        if !w.whole_pass(width, now, &deliveries) {
            return;
        }
        week.scrolls_checked += 1;
        let missed: String = w
            .spans
            .iter()
            .zip(&w.seen)
            .filter(|((c, _, _), seen)| !**seen && !c.is_whitespace())
            .map(|((c, _, _), _)| *c)
            .collect();
        if !missed.is_empty() {
            week.unseen.push(format!(
                "{screen_id} {} from {}: never seen {missed:?}",
                w.material, w.slot_started_at.0
            ));
        }
    };
    for second in 0..i64::from(days()) * 86_400 {
        let t = START.plus_ms(second * 1000);
        while let Some((at, envelope)) = pending.next_if(|(at, _)| *at <= t) {
            glass.deliver(*at, envelope.clone());
        }
        glass.advance_to(t);
        let Some(showing) = glass.showing() else {
            continue;
        };
        let Some(frame) = glass.frame().cloned() else {
            continue;
        };
        week.seconds += 1;
        let identity = Arc::as_ptr(&frame) as usize;
        if lit_cache.0 != identity {
            lit_cache = (identity, glass::frame_lit(&frame));
        }
        let lit = lit_cache.1;
        week.lit_seconds += u64::from(lit);
        let (is_text, scroll) = match &showing.content {
            Content::Media {
                kind: SlotKind::Scroll { px_per_second },
                media,
            } => (true, Some((*px_per_second, *media))),
            Content::Media { .. } => (
                text_kind
                    .get(showing.material_id.as_str())
                    .copied()
                    .unwrap_or(false),
                None,
            ),
            Content::Builtin { .. } | Content::Identify { .. } => (true, None),
        };
        if is_text {
            week.text_seconds += 1;
            if !lit {
                week.dark_text.push(format!(
                    "{screen_id} {} dark at {} ({} ms into its slot)",
                    showing.material_id,
                    t.0,
                    t.millis_since(showing.slot_started_at)
                ));
            }
        }
        let seq = showing.seq;
        if watch.as_ref().is_some_and(|w| w.seq != seq) {
            finish(watch.take(), &mut week, t);
        }
        let Some((px_per_second, media)) = scroll else {
            continue;
        };
        let w = watch.get_or_insert_with(|| {
            let text = site
                .texts
                .get(&showing.material_id)
                .cloned()
                .unwrap_or_default();
            let strip_width = site
                .renditions
                .get(&(showing.material_id.clone(), profile.id.clone()))
                .filter(|r| r.media.sha256 == media)
                .map_or(0, |r| r.media.width);
            let spans = ledcast_media::strip_char_spans(&text, profile.height);
            Watch {
                seq: showing.seq,
                material: showing.material_id.clone(),
                slot_started_at: showing.slot_started_at,
                started_at: showing.started_at,
                ends_at: showing.ends_at,
                strip_width,
                px_per_second,
                seen: vec![false; spans.len()],
                spans,
            }
        });
        w.ends_at = showing.ends_at;
        let elapsed = t.millis_since(w.slot_started_at).max(0) as u64;
        let x0 = scroll::scroll_strip_x(w.strip_width, width, px_per_second, elapsed);
        for (i, &(_, sx, cw)) in w.spans.iter().enumerate() {
            let (left, right) = (x0 + sx, x0 + sx + i64::from(cw));
            if !w.seen[i] && left >= 0 && right <= i64::from(width) {
                w.seen[i] = column_has_ink(&frame, left as u32, right as u32);
            }
        }
    }
    let end = START.plus_ms(i64::from(days()) * 86_400_000 - 1000);
    finish(watch.take(), &mut week, end);
    week.errors = std::mem::take(&mut glass.errors);
    week
}

#[test]
fn a_week_of_the_demo_site_on_the_glass() {
    let started = wall_clock();
    let site = site();
    println!(
        "site loaded and rendered in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    check_goldens(&site);
    let key = glass::glass_key();
    let rotations = glass::rotations(&site, START, days(), &key);
    let screens: Vec<String> = site
        .model
        .screens
        .iter()
        .map(|s| s.id.as_str().to_owned())
        .collect();
    assert_eq!(screens.len(), 13, "the demo's screens");
    // Two workers: the machine has two cores.
    let weeks: Vec<(String, Week)> = std::thread::scope(|scope| {
        let chunks: Vec<Vec<String>> = (0..2)
            .map(|i| screens.iter().skip(i).step_by(2).cloned().collect())
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let (site, rotations) = (&site, &rotations);
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|id| {
                            let week = play_week(site, &id, &rotations[&id]);
                            (id, week)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    println!("played in {:.1} s", started.elapsed().as_secs_f64());
    let mut failures = Vec::new();
    for (id, week) in &weeks {
        let share = week.lit_seconds as f64 / week.seconds.max(1) as f64;
        println!(
            "{id:14} seconds={} lit={:.4} text_seconds={} scrolls_checked={}",
            week.seconds, share, week.text_seconds, week.scrolls_checked
        );
        if week.seconds < u64::from(days()) * 86_400 - 1 {
            failures.push(format!("{id}: only {} seconds sampled", week.seconds));
        }
        if share < 0.999 {
            failures.push(format!(
                "{id}: lit in {:.3} % of its seconds",
                share * 100.0
            ));
        }
        failures.extend(week.dark_text.iter().take(5).cloned());
        failures.extend(week.unseen.iter().take(5).cloned());
        failures.extend(week.errors.iter().take(5).map(|e| format!("{id}: {e}")));
    }
    // Every text screen really scrolled warnings through (the check ran).
    for id in ["icbc-door", "icbc-counter", "hall-wall"] {
        let week = &weeks.iter().find(|(s, _)| s == id).unwrap().1;
        assert!(week.scrolls_checked > 100, "{id}: {week:?}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every demo text on every demo profile, as rendered, against the golden
/// PNG a person looked at (pixels compared, not bytes).
fn check_goldens(site: &SiteFiles) {
    let dir = repo().join("tests/golden/texts");
    let update = std::env::var_os("LEDCAST_UPDATE_GOLDEN").is_some();
    let mut checked = 0;
    let mut differ: Vec<String> = Vec::new();
    let mut seen_files: Vec<String> = Vec::new();
    let texts: BTreeMap<&String, &String> = site.texts.iter().collect();
    for material in texts.keys() {
        for profile in &site.model.profiles {
            let key = ((*material).clone(), profile.id.clone());
            let name = format!("{material}@{}.png", profile.id);
            let path = dir.join(&name);
            let Some(rendition) = site.renditions.get(&key) else {
                assert!(
                    site.refusals.contains_key(&key),
                    "{name}: neither a rendition nor a reason"
                );
                continue;
            };
            seen_files.push(name.clone());
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &rendition.bytes).unwrap();
            }
            let golden = std::fs::read(&path)
                .unwrap_or_else(|_| panic!("{name} missing; run with LEDCAST_UPDATE_GOLDEN=1"));
            let decode = |png: &[u8]| {
                image::load_from_memory_with_format(png, image::ImageFormat::Png)
                    .unwrap()
                    .to_rgb8()
            };
            if decode(&golden) != decode(&rendition.bytes) {
                differ.push(name);
            }
            checked += 1;
        }
    }
    assert!(checked >= 6 * 4, "{checked} goldens");
    assert!(
        differ.is_empty(),
        "renditions differ from their goldens (look at them, then LEDCAST_UPDATE_GOLDEN=1): {differ:?}"
    );
}
