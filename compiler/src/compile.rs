//! The rotation compiler: model + catalog + `now` → one `protocol::v1::Rotation`
//! per screen, with the provenance of every block, plus diagnostics.
//!
//! Pure: time arrives in [`Window`]; nothing here reads the clock or a file.
//!
//! How a screen's timetable is decided, for each instant of `[now, now + horizon)`:
//! 1. an active alert targeting the screen wins (ties: the alert id that sorts first);
//! 2. else the active schedule with the highest `priority` (ties: the schedule
//!    id that sorts first);
//! 3. else the default playlist (`[settings] default_playlist`).
//!
//! The winners become non-overlapping blocks (alerts at [`ALERT_PRIORITY`],
//! schedules at their priority, the default at [`DEFAULT_PRIORITY`]). Blocks
//! are split where the site opens and closes (for screens under a rule) and
//! where a material or item enters or leaves its validity, so nothing plays
//! outside its validity. Within opening hours every loop is made compliant by
//! construction: it starts with a warning, no run of non-warnings exceeds the
//! tightest `max_gap_seconds`, and the warning share of every prefix of the
//! loop is at least the largest `min_warning_share` (so every window, cut
//! anywhere, complies). Warnings come from the warning playlist, which is
//! also the fallback. A screen whose rules cannot be met gets an error and
//! no rotation.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono_tz::Tz;
use ledcast_protocol::v1 as protocol;
use protocol::Timestamp;

use crate::calendar::{expand_calendar, expand_cron, CalendarSpec, Interval, Millis};
use crate::catalog::{unknown_material_hint, Catalog, CatalogMaterial, MaterialKind};
use crate::diagnostic::{Diagnostic, Location};
use crate::model::{
    EditionSelector, ItemSource, Model, Playlist, Profile, Query, Screen, Targets, VideoMismatch,
    When, ALERT_PRIORITY, DEFAULT_PRIORITY,
};

/// Why `profile`'s player box cannot decode video `m` as rendered for it
/// (`None` for anything else, a video it decodes, no rendition, or one
/// whose codec was not probed, like the CLI's placeholder renditions).
fn video_mismatch(m: &CatalogMaterial, profile: &Profile) -> Option<VideoMismatch> {
    if m.kind != MaterialKind::Video {
        return None;
    }
    let rendition = m.renditions.get(&profile.id)?;
    profile.video_mismatch(
        rendition.media.width,
        rendition.media.height,
        rendition.video_codec?,
    )
}

/// The time a compilation covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The compile instant: the horizon starts here and rotations carry it as `issued_at`.
    pub now: Timestamp,
    /// How far ahead blocks are computed (e.g. 48 h).
    pub horizon_ms: i64,
    /// How long after `now` the rotation expires (e.g. 72 h; at least the horizon).
    pub expires_after_ms: i64,
}

impl Window {
    /// A window of `horizon_hours` that expires after `expires_after_hours`.
    pub fn hours(now: Timestamp, horizon_hours: i64, expires_after_hours: i64) -> Window {
        Window {
            now,
            horizon_ms: horizon_hours * 3_600_000,
            expires_after_ms: expires_after_hours.max(horizon_hours) * 3_600_000,
        }
    }

    fn end(&self) -> Millis {
        self.now.0 + self.horizon_ms
    }
}

/// What produced a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An urgent alert.
    Alert {
        /// Alert id.
        alert: String,
        /// Its playlist id.
        playlist: String,
    },
    /// A schedule entry.
    Schedule {
        /// Schedule id.
        schedule: String,
        /// Its playlist id.
        playlist: String,
    },
    /// The default playlist, outside all schedules.
    Default {
        /// The default playlist's id.
        playlist: String,
    },
}

impl Source {
    /// The playlist id behind the block.
    pub fn playlist(&self) -> &str {
        match self {
            Source::Alert { playlist, .. }
            | Source::Schedule { playlist, .. }
            | Source::Default { playlist } => playlist,
        }
    }
}

/// Why a block looks the way it does (for `--explain` and the UI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockOrigin {
    /// Alert, schedule or default.
    pub source: Arc<Source>,
    /// Rule ids enforced in this block (empty outside opening hours).
    pub rules: Arc<[String]>,
    /// Per slot: true when the compiler inserted this warning to satisfy a rule.
    pub inserted: Arc<[bool]>,
}

/// One screen's compiled rotation with the provenance of each block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledScreen {
    /// The rotation: `version` 0 (the server stamps it), `issued_at` = `now`.
    pub rotation: protocol::Rotation,
    /// `origins[i]` explains `rotation.blocks[i]`.
    pub origins: Vec<BlockOrigin>,
}

/// What changed between two compilations, by id (old or new), for [`recompile`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// `[settings]` changed: every screen is recompiled.
    pub settings: bool,
    /// Changed, added or removed profile ids.
    pub profiles: Vec<String>,
    /// Changed, added or removed site ids.
    pub sites: Vec<String>,
    /// Changed, added or removed screen ids.
    pub screens: Vec<String>,
    /// Changed, added or removed playlist ids.
    pub playlists: Vec<String>,
    /// Changed, added or removed schedule ids.
    pub schedules: Vec<String>,
    /// Changed, added or removed rule ids.
    pub rules: Vec<String>,
    /// Changed, added or removed alert ids.
    pub alerts: Vec<String>,
    /// Changed, added or removed material ids (catalog).
    pub materials: Vec<String>,
}

/// Compiles every screen of `model`. Screens with an error diagnostic get no
/// rotation. Output is sorted by screen id and deterministic.
pub fn compile(
    model: &Model,
    catalog: &Catalog,
    window: Window,
) -> (Vec<CompiledScreen>, Vec<Diagnostic>) {
    let jobs: Vec<(usize, Option<CompiledScreen>)> =
        (0..model.screens.len()).map(|i| (i, None)).collect();
    let (screens, mut diagnostics) = compile_jobs(model, catalog, window, jobs);
    let mut compiler = Compiler::new(model, catalog, window);
    compiler.global_diagnostics();
    diagnostics.extend(compiler.finish());
    (screens, sorted_unique(diagnostics))
}

/// Below this many screens one thread does all the work.
const SCREENS_PER_THREAD: usize = 500;

/// Compiles `jobs` (screen index, memory to recycle) in order, on up to as
/// many threads as the machine offers; each thread has its own caches, so the
/// result does not depend on the thread count.
fn compile_jobs(
    model: &Model,
    catalog: &Catalog,
    window: Window,
    jobs: Vec<(usize, Option<CompiledScreen>)>,
) -> (Vec<CompiledScreen>, Vec<Diagnostic>) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len() / SCREENS_PER_THREAD)
        .clamp(1, 8);
    compile_jobs_on(model, catalog, window, jobs, threads)
}

fn compile_jobs_on(
    model: &Model,
    catalog: &Catalog,
    window: Window,
    jobs: Vec<(usize, Option<CompiledScreen>)>,
    threads: usize,
) -> (Vec<CompiledScreen>, Vec<Diagnostic>) {
    let run = |jobs: Vec<(usize, Option<CompiledScreen>)>| {
        let mut compiler = Compiler::new(model, catalog, window);
        let screens: Vec<CompiledScreen> = jobs
            .into_iter()
            .filter_map(|(index, recycle)| compiler.compile_screen(index, recycle))
            .collect();
        (screens, compiler.finish())
    };
    if threads == 1 {
        return run(jobs);
    }
    let chunk = jobs.len().div_ceil(threads);
    let mut parts: Vec<Vec<(usize, Option<CompiledScreen>)>> = Vec::new();
    let mut rest = jobs.into_iter();
    for _ in 0..threads {
        parts.push(rest.by_ref().take(chunk).collect());
    }
    let results: Vec<(Vec<CompiledScreen>, Vec<Diagnostic>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || run(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut screens = Vec::new();
    let mut diagnostics = Vec::new();
    for (s, d) in results {
        screens.extend(s);
        diagnostics.extend(d);
    }
    (screens, diagnostics)
}

fn sorted_unique(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics.sort();
    diagnostics.dedup();
    diagnostics
}

/// Recompiles only the screens `changes` touch (judged in both the old and
/// the new model) and updates `previous` (a full result for `old`, same
/// catalog rules and window) in place so that it equals `compile(new, …)`.
/// Returns the diagnostics of the recompiled screens and the ids touched.
pub fn recompile(
    previous: &mut Vec<CompiledScreen>,
    old: &Model,
    new: &Model,
    catalog: &Catalog,
    window: Window,
    changes: &Changes,
) -> (Vec<protocol::ScreenId>, Vec<Diagnostic>) {
    let mut touched: BTreeSet<String> = BTreeSet::new();
    touched_screens(old, changes, &mut touched);
    touched_screens(new, changes, &mut touched);
    // Take the touched screens' old results out (to recycle their memory).
    let mut old_results: HashMap<String, CompiledScreen> = HashMap::new();
    let mut kept: Vec<CompiledScreen> = Vec::with_capacity(previous.len());
    for c in previous.drain(..) {
        if touched.contains(c.rotation.screen_id.as_str()) {
            old_results.insert(c.rotation.screen_id.as_str().to_owned(), c);
        } else {
            kept.push(c);
        }
    }
    let jobs: Vec<(usize, Option<CompiledScreen>)> = touched
        .iter()
        .filter_map(|id| {
            let index = new
                .screens
                .binary_search_by(|s| s.id.as_str().cmp(id))
                .ok()?;
            Some((index, old_results.remove(id)))
        })
        .collect();
    let (fresh, diagnostics) = compile_jobs(new, catalog, window, jobs);
    kept.extend(fresh);
    kept.sort_by(|a, b| a.rotation.screen_id.cmp(&b.rotation.screen_id));
    *previous = kept;
    let ids = touched
        .iter()
        .filter_map(|id| protocol::ScreenId::new(id).ok())
        .collect();
    (ids, sorted_unique(diagnostics))
}

/// The screens of `model` that `changes` can affect (any playlist with a
/// query counts as using every changed material).
fn touched_screens(model: &Model, changes: &Changes, out: &mut BTreeSet<String>) {
    let all = changes.settings
        || model
            .settings
            .default_playlist
            .is_some_and(|p| changes.playlists.contains(&model.playlists[p].id))
        || model
            .settings
            .warning_playlist
            .is_some_and(|p| changes.playlists.contains(&model.playlists[p].id));
    if all {
        out.extend(model.screens.iter().map(|s| s.id.as_str().to_owned()));
        return;
    }
    let mut playlists: HashSet<usize> = model
        .playlists
        .iter()
        .enumerate()
        .filter(|(_, p)| changes.playlists.contains(&p.id))
        .map(|(i, _)| i)
        .collect();
    if !changes.materials.is_empty() {
        for (index, playlist) in model.playlists.iter().enumerate() {
            let uses = playlist.items.iter().any(|item| match &item.source {
                ItemSource::Material(id) => changes.materials.contains(id),
                ItemSource::Query(_) => true,
            });
            if uses {
                playlists.insert(index);
            }
        }
        let warning_changed = model
            .settings
            .warning_playlist
            .is_some_and(|w| playlists.contains(&w));
        let default_changed = model
            .settings
            .default_playlist
            .is_some_and(|d| playlists.contains(&d));
        if warning_changed || default_changed {
            out.extend(model.screens.iter().map(|s| s.id.as_str().to_owned()));
            return;
        }
    }
    let mut targets: Vec<&Targets> = Vec::new();
    for s in &model.schedules {
        if changes.schedules.contains(&s.id) || playlists.contains(&s.playlist) {
            targets.push(&s.targets);
        }
    }
    for a in &model.alerts {
        if changes.alerts.contains(&a.id) || playlists.contains(&a.playlist) {
            targets.push(&a.targets);
        }
    }
    for r in &model.rules {
        if changes.rules.contains(&r.id) {
            targets.push(&r.targets);
        }
    }
    // Only screens that carry a targeted tag, sit at a targeted site or are
    // named can match: test those, not every screen.
    let tags: HashSet<&str> = targets
        .iter()
        .flat_map(|t| t.tags.iter().map(String::as_str))
        .collect();
    let sites: HashSet<&str> = targets
        .iter()
        .filter(|t| t.tags.is_empty())
        .flat_map(|t| t.sites.iter().map(String::as_str))
        .chain(changes.sites.iter().map(String::as_str))
        .collect();
    let named: HashSet<&str> = targets
        .iter()
        .flat_map(|t| t.screens.iter().map(String::as_str))
        .collect();
    let profiles: HashSet<&str> = changes.profiles.iter().map(String::as_str).collect();
    for screen in &model.screens {
        let site = &model.sites[screen.site].id;
        let candidate = screen.tags.iter().any(|t| tags.contains(t.as_str()))
            || sites.contains(site.as_str())
            || named.contains(screen.id.as_str())
            || profiles.contains(model.profiles[screen.profile].id.as_str());
        if !candidate {
            continue;
        }
        let hit = changes.sites.contains(site)
            || profiles.contains(model.profiles[screen.profile].id.as_str())
            || targets.iter().any(|t| t.matches(screen, site));
        if hit {
            out.insert(screen.id.as_str().to_owned());
        }
    }
    out.extend(changes.screens.iter().cloned());
}

/// The rules in force on one screen, combined.
#[derive(Clone, Debug, PartialEq)]
struct Constraint {
    max_gap_ms: Option<i64>,
    min_share: Option<f64>,
    rules: Vec<usize>,
}

impl Constraint {
    fn key(&self) -> (Option<i64>, Option<u64>) {
        (self.max_gap_ms, self.min_share.map(f64::to_bits))
    }
}

/// One resolved loop, shared by every block with the same playlist, profile,
/// rules and validity epoch.
#[derive(Debug)]
struct LoopPlan {
    slots: Vec<protocol::Slot>,
    media: Vec<protocol::MediaRef>,
    inserted: Arc<[bool]>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Default,
    Schedule {
        priority: i32,
        tie: std::cmp::Reverse<usize>,
    },
    Alert {
        tie: std::cmp::Reverse<usize>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Candidate {
    Default,
    Schedule(usize),
    Alert(usize),
}

/// FNV-1a: the compiler's internal maps have small, trusted keys; SipHash's
/// flooding resistance is not needed here and costs a few % of a large compile.
#[derive(Default, Clone, Copy)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

type LoopKey = (usize, usize, Option<(Option<i64>, Option<u64>)>, usize);

struct Compiler<'a> {
    model: &'a Model,
    catalog: &'a Catalog,
    window: Window,
    /// (schedule, tz) → active intervals.
    expansions: FastMap<(usize, Tz), Arc<Vec<Interval>>>,
    /// (site, tz) → opening intervals.
    openings: FastMap<(usize, Tz), Arc<Vec<Interval>>>,
    /// Schedules by the tag, site or screen that may target them.
    by_tag: FastMap<&'a str, Vec<usize>>,
    by_site: FastMap<&'a str, Vec<usize>>,
    by_screen: FastMap<&'a str, Vec<usize>>,
    /// Validity breakpoints per playlist (and per playlist ∪ warning playlist).
    breakpoints: FastMap<(usize, bool), Arc<Vec<Millis>>>,
    loops: FastMap<LoopKey, Result<Arc<LoopPlan>, ()>>,
    fallbacks: FastMap<usize, Arc<LoopPlan>>,
    /// `[now, now + horizon)` as one shared interval list.
    whole_horizon: Option<Arc<Vec<Interval>>>,
    /// Each candidate's playlist and provenance, shared by all its blocks.
    sources: FastMap<Candidate, (usize, Arc<Source>)>,
    /// Reused buffers (allocation is most of a large compile's cost).
    scratch_ids: Vec<usize>,
    scratch_points: Vec<Millis>,
    scratch_cursors: Vec<usize>,
    scratch_pieces: Vec<(Millis, Millis, bool)>,
    scratch_cuts: Vec<Millis>,
    diagnostics: Vec<Diagnostic>,
    seen: HashSet<(Location, String)>,
}

impl<'a> Compiler<'a> {
    fn new(model: &'a Model, catalog: &'a Catalog, window: Window) -> Compiler<'a> {
        let mut by_tag: FastMap<&str, Vec<usize>> = FastMap::default();
        let mut by_site: FastMap<&str, Vec<usize>> = FastMap::default();
        let mut by_screen: FastMap<&str, Vec<usize>> = FastMap::default();
        for (index, schedule) in model.schedules.iter().enumerate() {
            for s in &schedule.targets.screens {
                by_screen.entry(s).or_default().push(index);
            }
            // A schedule with tags is found through a tag (sites only narrow it).
            if !schedule.targets.tags.is_empty() {
                for t in &schedule.targets.tags {
                    by_tag.entry(t).or_default().push(index);
                }
            } else {
                for s in &schedule.targets.sites {
                    by_site.entry(s).or_default().push(index);
                }
            }
        }
        Compiler {
            model,
            catalog,
            window,
            expansions: FastMap::default(),
            openings: FastMap::default(),
            by_tag,
            by_site,
            by_screen,
            breakpoints: FastMap::default(),
            loops: FastMap::default(),
            fallbacks: FastMap::default(),
            whole_horizon: None,
            sources: FastMap::default(),
            scratch_ids: Vec::new(),
            scratch_points: Vec::new(),
            scratch_cursors: Vec::new(),
            scratch_pieces: Vec::new(),
            scratch_cuts: Vec::new(),
            diagnostics: Vec::new(),
            seen: HashSet::new(),
        }
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        if self
            .seen
            .insert((diagnostic.location.clone(), diagnostic.message.clone()))
        {
            self.diagnostics.push(diagnostic);
        }
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        self.diagnostics.sort();
        self.diagnostics
    }

    fn global_diagnostics(&mut self) {
        let now = self.window.now.0;
        let end = self.window.end();
        for alert in &self.model.alerts {
            if alert.until <= now {
                self.report(
                    Diagnostic::info(
                        &alert.location,
                        format!("alert `{}` has expired; it is not compiled in", alert.id),
                    )
                    .with_hint("remove it once it is no longer needed for the record")
                    .with_key(
                        "alert_expired",
                        [("owner_kind", "alert"), ("owner", alert.id.as_str())],
                    ),
                );
            } else if alert.from.is_some_and(|f| f >= end) {
                self.report(Diagnostic::info(
                    &alert.location,
                    format!("alert `{}` starts after this compilation's horizon; it will appear in a later one", alert.id),
                ).with_key("alert_later", [("owner_kind", "alert"), ("owner", alert.id.as_str())]));
            }
        }
        for rule in &self.model.rules {
            let any = self
                .model
                .screens
                .iter()
                .any(|s| rule.targets.matches(s, &self.model.sites[s.site].id));
            if !any {
                self.report(
                    Diagnostic::warning(
                        &rule.location,
                        format!("rule `{}` applies to no screen", rule.id),
                    )
                    .with_key(
                        "rule_on_no_screen",
                        [("owner_kind", "rule"), ("owner", rule.id.as_str())],
                    ),
                );
            }
        }
    }

    fn expansion(&mut self, schedule: usize, tz: Tz) -> Arc<Vec<Interval>> {
        if let Some(found) = self.expansions.get(&(schedule, tz)) {
            return found.clone();
        }
        let s = &self.model.schedules[schedule];
        let (from, until) = (self.window.now.0, self.window.end());
        let intervals = match &s.when {
            When::Calendar { days, dates, hours } => expand_calendar(
                CalendarSpec {
                    days: *days,
                    dates,
                    hours,
                },
                tz,
                from,
                until,
            ),
            When::Cron {
                schedule: cron,
                duration_seconds,
            } => {
                let (intervals, truncated) =
                    expand_cron(cron, i64::from(*duration_seconds) * 1000, tz, from, until);
                if truncated {
                    let location = s.location.clone();
                    self.report(
                        Diagnostic::warning(
                            &location,
                            format!(
                                "schedule `{}`: cron starts too often; only the first {} are used",
                                s.id,
                                crate::calendar::MAX_CRON_OCCURRENCES
                            ),
                        )
                        .with_hint("use days/hours for a continuous window"),
                    );
                }
                intervals
            }
        };
        let intervals = Arc::new(intervals);
        self.expansions.insert((schedule, tz), intervals.clone());
        intervals
    }

    fn opening(&mut self, site: usize, tz: Tz) -> Arc<Vec<Interval>> {
        if let Some(found) = self.openings.get(&(site, tz)) {
            return found.clone();
        }
        let mut all = Vec::new();
        for (days, hours) in &self.model.sites[site].opening_hours {
            all.extend(expand_calendar(
                CalendarSpec {
                    days: *days,
                    dates: &[],
                    hours,
                },
                tz,
                self.window.now.0,
                self.window.end(),
            ));
        }
        let intervals = Arc::new(crate::calendar::merge(all));
        self.openings.insert((site, tz), intervals.clone());
        intervals
    }

    fn constraint(&self, screen: &Screen) -> Option<Constraint> {
        let site = &self.model.sites[screen.site].id;
        let mut c = Constraint {
            max_gap_ms: None,
            min_share: None,
            rules: Vec::new(),
        };
        for (index, rule) in self.model.rules.iter().enumerate() {
            if !rule.targets.matches(screen, site) {
                continue;
            }
            c.rules.push(index);
            if let Some(gap) = rule.max_gap_seconds {
                let gap = i64::from(gap) * 1000;
                c.max_gap_ms = Some(c.max_gap_ms.map_or(gap, |g| g.min(gap)));
            }
            if let Some(share) = rule.min_warning_share {
                c.min_share = Some(c.min_share.map_or(share, |s| s.max(share)));
            }
        }
        (!c.rules.is_empty()).then_some(c)
    }

    fn candidates(&mut self, screen: &Screen) -> Vec<(Candidate, Rank, Arc<Vec<Interval>>)> {
        let model = self.model;
        let (now, end) = (self.window.now.0, self.window.end());
        let site = &model.sites[screen.site].id;
        let mut out = Vec::new();
        if model.settings.default_playlist.is_some() {
            let whole = self
                .whole_horizon
                .get_or_insert_with(|| Arc::new(vec![(now, end)]))
                .clone();
            out.push((Candidate::Default, Rank::Default, whole));
        }
        let mut ids = std::mem::take(&mut self.scratch_ids);
        ids.clear();
        for tag in &screen.tags {
            ids.extend(self.by_tag.get(tag.as_str()).into_iter().flatten());
        }
        ids.extend(self.by_site.get(site.as_str()).into_iter().flatten());
        ids.extend(self.by_screen.get(screen.id.as_str()).into_iter().flatten());
        ids.sort_unstable();
        ids.dedup();
        for &index in &ids {
            let schedule = &model.schedules[index];
            if !schedule.targets.matches(screen, site) {
                continue;
            }
            let intervals = self.expansion(index, screen.timezone);
            if !intervals.is_empty() {
                let rank = Rank::Schedule {
                    priority: schedule.priority,
                    tie: std::cmp::Reverse(index),
                };
                out.push((Candidate::Schedule(index), rank, intervals));
            }
        }
        self.scratch_ids = ids;
        for (index, alert) in model.alerts.iter().enumerate() {
            let from = alert.from.unwrap_or(now).max(now);
            let until = alert.until.min(end);
            if from < until && alert.targets.matches(screen, site) {
                out.push((
                    Candidate::Alert(index),
                    Rank::Alert {
                        tie: std::cmp::Reverse(index),
                    },
                    Arc::new(vec![(from, until)]),
                ));
            }
        }
        out
    }

    /// The winning candidate per stretch of time, as `(from, until, candidate)`.
    fn timeline(&mut self, screen: &Screen) -> Vec<(Millis, Millis, Candidate)> {
        let candidates = self.candidates(screen);
        let mut points = std::mem::take(&mut self.scratch_points);
        points.clear();
        points.extend(
            candidates
                .iter()
                .flat_map(|(_, _, iv)| iv.iter().flat_map(|&(s, e)| [s, e])),
        );
        points.sort_unstable();
        points.dedup();
        let mut cursors = std::mem::take(&mut self.scratch_cursors);
        cursors.clear();
        cursors.resize(candidates.len(), 0);
        let mut out: Vec<(Millis, Millis, Candidate)> = Vec::new();
        for pair in points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let mut best: Option<(Rank, Candidate)> = None;
            for (ci, (candidate, rank, intervals)) in candidates.iter().enumerate() {
                let cursor = &mut cursors[ci];
                while *cursor < intervals.len() && intervals[*cursor].1 <= a {
                    *cursor += 1;
                }
                let covers = *cursor < intervals.len() && intervals[*cursor].0 <= a;
                if covers && best.is_none_or(|(r, _)| *rank > r) {
                    best = Some((*rank, *candidate));
                }
            }
            if let Some((_, winner)) = best {
                match out.last_mut() {
                    Some(last) if last.1 == a && last.2 == winner => last.1 = b,
                    _ => out.push((a, b, winner)),
                }
            }
        }
        self.scratch_points = points;
        self.scratch_cursors = cursors;
        out
    }

    fn candidate_source(&self, candidate: Candidate) -> (usize, Source) {
        let model = self.model;
        match candidate {
            Candidate::Default => {
                let p = model.settings.default_playlist.unwrap_or_default();
                (
                    p,
                    Source::Default {
                        playlist: model.playlists[p].id.clone(),
                    },
                )
            }
            Candidate::Schedule(i) => {
                let s = &model.schedules[i];
                (
                    s.playlist,
                    Source::Schedule {
                        schedule: s.id.clone(),
                        playlist: model.playlists[s.playlist].id.clone(),
                    },
                )
            }
            Candidate::Alert(i) => {
                let a = &model.alerts[i];
                (
                    a.playlist,
                    Source::Alert {
                        alert: a.id.clone(),
                        playlist: model.playlists[a.playlist].id.clone(),
                    },
                )
            }
        }
    }

    fn priority(&self, candidate: Candidate) -> i32 {
        match candidate {
            Candidate::Default => DEFAULT_PRIORITY,
            Candidate::Schedule(i) => self.model.schedules[i].priority,
            Candidate::Alert(_) => ALERT_PRIORITY,
        }
    }

    fn breakpoints(&mut self, playlist: usize, with_warnings: bool) -> Arc<Vec<Millis>> {
        if let Some(found) = self.breakpoints.get(&(playlist, with_warnings)) {
            return found.clone();
        }
        let (now, end) = (self.window.now.0, self.window.end());
        let mut points = Vec::new();
        let mut lists = vec![playlist];
        if with_warnings {
            lists.extend(self.model.settings.warning_playlist);
        }
        for p in lists {
            for item in &self.model.playlists[p].items {
                points.extend(item.valid_from);
                points.extend(item.valid_until);
                let mut add = |m: &CatalogMaterial| {
                    points.extend(m.valid_from);
                    points.extend(m.valid_until);
                };
                match &item.source {
                    ItemSource::Material(id) => {
                        if let Some(m) = self.catalog.get(id) {
                            add(m);
                        }
                    }
                    ItemSource::Query(query) => {
                        let current = self.catalog.current_edition();
                        for m in self.catalog.materials() {
                            if query_matches_statically(query, m, current) {
                                add(m);
                            }
                        }
                    }
                }
            }
        }
        points.retain(|&t| now < t && t < end);
        points.sort_unstable();
        points.dedup();
        let points = Arc::new(points);
        self.breakpoints
            .insert((playlist, with_warnings), points.clone());
        points
    }

    /// Compiles one screen. `recycle` is an earlier result whose allocations
    /// (block and slot vectors, strings) are reused; it never affects the output.
    fn compile_screen(
        &mut self,
        screen_index: usize,
        recycle: Option<CompiledScreen>,
    ) -> Option<CompiledScreen> {
        let model = self.model;
        let screen = &model.screens[screen_index];
        let profile_index = screen.profile;
        let constraint = self.constraint(screen);
        let timeline = self.timeline(screen);
        let opening = match &constraint {
            Some(_) => self.opening(screen.site, screen.timezone),
            None => Arc::new(Vec::new()),
        };

        let (mut spare_blocks, mut origins, mut spare_media, mut fallback_slots) = match recycle {
            Some(old) => {
                let mut origins = old.origins;
                origins.clear();
                (
                    old.rotation.blocks,
                    origins,
                    old.rotation.media,
                    old.rotation.fallback,
                )
            }
            None => (Vec::new(), Vec::new(), Vec::new(), Vec::new()),
        };
        spare_blocks.reverse();
        spare_media.reverse();
        let mut blocks: Vec<protocol::Block> = Vec::with_capacity(spare_blocks.len());
        let mut media: Vec<protocol::MediaRef> = Vec::with_capacity(spare_media.len());
        let mut listed: Vec<protocol::Sha256> = Vec::new();
        let no_rules: Arc<[String]> = Arc::from(Vec::new());
        let screen_rules: Arc<[String]> = constraint.as_ref().map_or_else(
            || no_rules.clone(),
            |c| c.rules.iter().map(|&r| model.rules[r].id.clone()).collect(),
        );
        let mut failed = false;

        for (from, until, candidate) in timeline {
            let (playlist, source) = match self.sources.get(&candidate) {
                Some(found) => found.clone(),
                None => {
                    let (playlist, source) = self.candidate_source(candidate);
                    let made = (playlist, Arc::new(source));
                    self.sources.insert(candidate, made.clone());
                    made
                }
            };
            let priority = self.priority(candidate);
            // Split at opening-hour edges (rules apply inside only).
            let mut pieces = std::mem::take(&mut self.scratch_pieces);
            pieces.clear();
            let mut t = from;
            for &(os, oe) in opening.iter() {
                if oe <= t || os >= until {
                    continue;
                }
                if os > t {
                    pieces.push((t, os, false));
                    t = os;
                }
                let e = oe.min(until);
                pieces.push((t, e, true));
                t = e;
            }
            if t < until {
                pieces.push((t, until, false));
            }
            let mut cuts = std::mem::take(&mut self.scratch_cuts);
            for &(a, b, open) in &pieces {
                let enforced = if open { constraint.as_ref() } else { None };
                let points = self.breakpoints(playlist, enforced.is_some());
                let first = points.partition_point(|&p| p <= a);
                cuts.clear();
                cuts.push(a);
                cuts.extend(points[first..].iter().copied().take_while(|&p| p < b));
                cuts.push(b);
                for (k, pair) in cuts.windows(2).enumerate() {
                    let (s, e) = (pair[0], pair[1]);
                    let epoch = first + k;
                    let plan =
                        match self.loop_plan(playlist, profile_index, enforced, epoch, s, screen) {
                            Ok(plan) => plan,
                            Err(()) => {
                                failed = true;
                                continue;
                            }
                        };
                    if plan.slots.is_empty() {
                        continue;
                    }
                    for m in &plan.media {
                        if !listed.contains(&m.sha256) {
                            listed.push(m.sha256);
                            media.push(reuse_media(&mut spare_media, m));
                        }
                    }
                    let origin = BlockOrigin {
                        source: source.clone(),
                        rules: if enforced.is_some() {
                            screen_rules.clone()
                        } else {
                            no_rules.clone()
                        },
                        inserted: plan.inserted.clone(),
                    };
                    // A validity edge that changed nothing here: one longer block.
                    if let (Some(last), Some(last_origin)) = (blocks.last_mut(), origins.last()) {
                        if last.until.0 == s
                            && last.priority == priority
                            && Arc::ptr_eq(&last_origin.source, &origin.source)
                            && Arc::ptr_eq(&last_origin.rules, &origin.rules)
                            && last_origin.inserted == origin.inserted
                            && last.slots == plan.slots
                        {
                            last.until = Timestamp(e);
                            continue;
                        }
                    }
                    let block = match spare_blocks.pop() {
                        Some(mut block) => {
                            block.from = Timestamp(s);
                            block.until = Timestamp(e);
                            block.priority = priority;
                            assign_slots(&mut block.slots, &plan.slots);
                            block
                        }
                        None => protocol::Block {
                            from: Timestamp(s),
                            until: Timestamp(e),
                            priority,
                            slots: plan.slots.clone(),
                        },
                    };
                    blocks.push(block);
                    origins.push(origin);
                }
            }
            self.scratch_pieces = pieces;
            self.scratch_cuts = cuts;
        }
        let fallback = self.fallback(profile_index);
        if !failed && constraint.is_some() && fallback.slots.is_empty() {
            let profile = &model.profiles[profile_index];
            let location = model.settings.location.clone();
            self.report(
                Diagnostic::error(&location, format!("screen `{}` is under a rule but the warning playlist has no warning without an expiry that profile `{}` can show; no rotation", screen.id, profile.id))
                    .with_hint("add a standard warning (text or poster) without an expiry that this profile can show")
                    .with_key("rule_no_lasting_warning", [("screen", screen.id.as_str()), ("profile", profile.id.as_str())]),
            );
            failed = true;
        }
        if failed {
            return None;
        }
        for m in &fallback.media {
            if !listed.contains(&m.sha256) {
                listed.push(m.sha256);
                media.push(reuse_media(&mut spare_media, m));
            }
        }
        assign_slots(&mut fallback_slots, &fallback.slots);
        let expires_at = self.window.now.plus_ms(self.window.expires_after_ms);
        let brightness = model
            .brightness_of(screen)
            .map(|b| {
                crate::brightness::windows(b, screen.timezone, self.window.now.0, expires_at.0)
            })
            .unwrap_or_default();
        // Off hours inside opening hours would leave a screen under a rule
        // dark when its warnings are owed: refuse, as for any unmet rule.
        let dark_while_open = brightness.iter().filter(|w| w.percent == 0).find_map(|w| {
            opening
                .iter()
                .find(|&&(open, close)| w.from.0 < close && open < w.until.0)
                .map(|&(open, _)| open.max(w.from.0))
        });
        if let Some(dark_from) = dark_while_open {
            let site = &model.sites[screen.site];
            let hours = model
                .brightness_of(screen)
                .map(|b| crate::brightness::hours_text(&b.off_hours))
                .unwrap_or_default();
            let at = chrono::DateTime::from_timestamp_millis(dark_from)
                .map(|d| {
                    d.with_timezone(&screen.timezone)
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                })
                .unwrap_or_default();
            self.report(
                Diagnostic::error(
                    &screen.location,
                    format!(
                        "screen `{}` is under a rule but its brightness off_hours ({hours}) switch it off while site `{}` is open (e.g. {at}); no rotation",
                        screen.id, site.id
                    ),
                )
                .with_hint("move off_hours outside the site's opening hours, or give this screen its own brightness"),
            );
            return None;
        }
        let rotation = protocol::Rotation {
            screen_id: screen.id.clone(),
            version: 0,
            issued_at: self.window.now,
            expires_at,
            timezone: screen.timezone.name().to_owned(),
            blocks,
            fallback: fallback_slots,
            media,
            brightness,
        };
        Some(CompiledScreen { rotation, origins })
    }

    fn fallback(&mut self, profile: usize) -> Arc<LoopPlan> {
        if let Some(found) = self.fallbacks.get(&profile) {
            return found.clone();
        }
        let now = self.window.now.0;
        let mut plan = LoopPlan {
            slots: Vec::new(),
            media: Vec::new(),
            inserted: Arc::from(Vec::new()),
        };
        if let Some(w) = self.model.settings.warning_playlist {
            let resolved = self.resolve(w, profile, now);
            for (slot, m, valid_until) in resolved {
                // The agent keeps playing the fallback after the rotation
                // expires (offline, for as long as it takes), and a slot
                // carries no validity: only warnings that never expire.
                if slot.is_warning && valid_until.is_none() {
                    plan.slots.push(slot);
                    plan.media.push(m);
                }
            }
        }
        plan.inserted = vec![false; plan.slots.len()].into();
        let plan = Arc::new(plan);
        self.fallbacks.insert(profile, plan.clone());
        plan
    }

    /// The playlist's items as slots for `profile` at instant `t`, with the
    /// instant each stops being valid. Reports skipped items.
    fn resolve(
        &mut self,
        playlist_index: usize,
        profile_index: usize,
        t: Millis,
    ) -> Vec<(protocol::Slot, protocol::MediaRef, Option<Millis>)> {
        let model = self.model;
        let playlist: &Playlist = &model.playlists[playlist_index];
        let profile: &Profile = &model.profiles[profile_index];
        let mut out = Vec::new();
        for item in &playlist.items {
            if item.valid_from.is_some_and(|f| t < f) || item.valid_until.is_some_and(|u| t >= u) {
                continue;
            }
            let materials: Vec<&CatalogMaterial> = match &item.source {
                ItemSource::Material(id) => {
                    match self.catalog.get(id) {
                        None => {
                            let hint = unknown_material_hint(self.catalog, id);
                            self.report(Diagnostic::error(&item.location, format!("playlist `{}`: unknown material `{id}`; the item is skipped", playlist.id)).with_hint(hint)
                                .with_key("unknown_material", [("owner_kind", "playlist"), ("owner", playlist.id.as_str()), ("id", id.as_str())]));
                            continue;
                        }
                        Some(m) if !m.approved => {
                            self.report(Diagnostic::warning(&item.location, format!("playlist `{}`: material `{id}` is not approved; the item is skipped", playlist.id)).with_hint("ask an approver to approve it")
                                .with_key("material_not_approved", [("owner_kind", "playlist"), ("owner", playlist.id.as_str()), ("id", id.as_str())]));
                            continue;
                        }
                        Some(m) if !m.is_live_at(t) => continue,
                        Some(m) if m.refused.contains_key(&profile.id) => {
                            let why = &m.refused[&profile.id];
                            let screens = self.screens_of(profile_index);
                            self.report(Diagnostic::error(&item.location, format!("playlist `{}`: `{id}` cannot be read on profile `{}` (screens {screens}): {why}; it is left out there", playlist.id, profile.id)).with_hint("shorten the text, or schedule it only on screens that can scroll")
                                .with_key("unreadable_on_profile", [("owner_kind", "playlist"), ("owner", playlist.id.as_str()), ("id", id.as_str()), ("profile", profile.id.as_str()), ("screens", screens.as_str()), ("why", why.as_str())]));
                            continue;
                        }
                        Some(m) => match self.showable(m, profile) {
                            Ok(()) => match video_mismatch(m, profile) {
                                None => vec![m],
                                Some(mismatch) => {
                                    self.report_undecodable(
                                        playlist,
                                        &item.location,
                                        &m.id,
                                        profile_index,
                                        &mismatch,
                                        true,
                                    );
                                    continue;
                                }
                            },
                            Err((why, why_key)) => {
                                self.report(Diagnostic::warning(&item.location, format!("playlist `{}`: `{id}` is skipped on profile `{}`: {why}", playlist.id, profile.id))
                                        .with_key("skipped_on_profile", [("owner_kind", "playlist"), ("owner", playlist.id.as_str()), ("id", id.as_str()), ("profile", profile.id.as_str()), ("why", why.as_str()), ("why_key", why_key)]));
                                continue;
                            }
                        },
                    }
                }
                ItemSource::Query(query) => {
                    let mut found: Vec<&CatalogMaterial> = self
                        .catalog
                        .materials()
                        .iter()
                        .filter(|m| {
                            m.is_live_at(t)
                                && query_matches_statically(
                                    query,
                                    m,
                                    self.catalog.current_edition(),
                                )
                                && self.showable(m, profile).is_ok()
                        })
                        .collect();
                    let refused: Vec<(&str, &str)> = self
                        .catalog
                        .materials()
                        .iter()
                        .filter(|m| {
                            m.is_live_at(t)
                                && query_matches_statically(
                                    query,
                                    m,
                                    self.catalog.current_edition(),
                                )
                        })
                        .filter_map(|m| {
                            m.refused
                                .get(&profile.id)
                                .map(|why| (m.id.as_str(), why.as_str()))
                        })
                        .collect();
                    let mut undecodable = Vec::new();
                    found.retain(|m| match video_mismatch(m, profile) {
                        None => true,
                        Some(mismatch) => {
                            undecodable.push((m.id.as_str(), mismatch));
                            false
                        }
                    });
                    for (id, mismatch) in &undecodable {
                        self.report_undecodable(
                            playlist,
                            &item.location,
                            id,
                            profile_index,
                            mismatch,
                            false,
                        );
                    }
                    for (id, why) in refused {
                        let screens = self.screens_of(profile_index);
                        self.report(Diagnostic::warning(&item.location, format!("playlist `{}`: the query's `{id}` cannot be read on profile `{}` (screens {screens}): {why}; it is left out there", playlist.id, profile.id)).with_hint("shorten the text, or schedule it only on screens that can scroll")
                            .with_key("unreadable_on_profile", [("owner_kind", "playlist"), ("owner", playlist.id.as_str()), ("id", id), ("profile", profile.id.as_str()), ("screens", screens.as_str()), ("why", why)]));
                    }
                    found.sort_by(|a, b| b.added_at.cmp(&a.added_at).then_with(|| a.id.cmp(&b.id)));
                    if let Some(n) = query.newest {
                        found.truncate(n as usize);
                    }
                    if found.is_empty() {
                        let hint = match (query.edition, self.catalog.current_edition()) {
                            (Some(_), None) => "no library edition is current yet: import one and approve it (POST /api/v1/editions/{id}/approve)".to_owned(),
                            (Some(_), Some(current)) => format!("the current edition is `{current}`: check the query's category/kind/tags against its materials, their validity and the screens' profiles"),
                            (None, _) => "check the query's tags/category, and the materials' approval and validity".to_owned(),
                        };
                        self.report(Diagnostic::warning(&item.location, format!("playlist `{}`: the query matches no approved, valid material that profile `{}` can show", playlist.id, profile.id)).with_hint(hint)
                            .with_key("query_matches_nothing", [("owner_kind", "playlist"), ("owner", playlist.id.as_str()), ("profile", profile.id.as_str())]));
                    }
                    found
                }
            };
            let explicit = matches!(item.source, ItemSource::Material(_));
            for m in materials {
                let Some(rendition) = m.renditions.get(&profile.id) else {
                    continue;
                };
                let (kind, duration_ms, illegible) =
                    slot_timing(model, profile, m, rendition, item.seconds);
                if let Some(why) = illegible {
                    let screens = self.screens_of(profile_index);
                    let message = format!("playlist `{}`: `{}` cannot be read on profile `{}` (screens {screens}): {why}; it is left out there and is no warning airtime", playlist.id, m.id, profile.id);
                    let diagnostic = if explicit {
                        Diagnostic::error(&item.location, message)
                    } else {
                        Diagnostic::warning(&item.location, message)
                    };
                    self.report(
                        diagnostic
                            .with_hint("see the material's page for how it looks on each screen")
                            .with_key(
                                "unreadable_no_airtime",
                                [
                                    ("owner_kind", "playlist"),
                                    ("owner", playlist.id.as_str()),
                                    ("id", m.id.as_str()),
                                    ("profile", profile.id.as_str()),
                                    ("screens", screens.as_str()),
                                    ("why", why.to_string().as_str()),
                                ],
                            ),
                    );
                    continue;
                }
                let valid_until = match (item.valid_until, m.valid_until) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                out.push((
                    protocol::Slot {
                        media: rendition.media.sha256,
                        duration_ms,
                        kind,
                        material_id: m.id.clone(),
                        is_warning: m.is_warning,
                    },
                    rendition.media.clone(),
                    valid_until,
                ));
            }
        }
        out
    }

    /// The ids of the screens with profile `profile`, for diagnostics.
    fn screens_of(&self, profile: usize) -> String {
        let ids: Vec<&str> = self
            .model
            .screens
            .iter()
            .filter(|s| s.profile == profile)
            .map(|s| s.id.as_str())
            .collect();
        if ids.is_empty() {
            "none".to_owned()
        } else {
            ids.join(", ")
        }
    }

    /// Reports that `profile`'s player box cannot decode video `id`, which
    /// a playlist names (`explicit`: an error) or a query matched (a
    /// warning); it is left out there either way.
    fn report_undecodable(
        &mut self,
        playlist: &Playlist,
        location: &Location,
        id: &str,
        profile_index: usize,
        mismatch: &VideoMismatch,
        explicit: bool,
    ) {
        let profile = &self.model.profiles[profile_index];
        let screens = self.screens_of(profile_index);
        let why = mismatch.en();
        let message = format!(
            "playlist `{}`: video `{id}` cannot be played on profile `{}` (screens {screens}): {why}; it is left out there",
            playlist.id, profile.id
        );
        let diagnostic = if explicit {
            Diagnostic::error(location, message)
        } else {
            Diagnostic::warning(location, message)
        };
        let [codec, video_size, codecs, max_size] = mismatch.params();
        let mut params = vec![
            ("owner_kind", "playlist".to_owned()),
            ("owner", playlist.id.clone()),
            ("id", id.to_owned()),
            ("profile", profile.id.clone()),
            ("screens", screens),
            ("why", why),
            ("why_key", mismatch.key().to_owned()),
        ];
        let hint = format!(
            "re-export it as {} of at most {} and upload it again, or schedule it only on screens whose player box decodes it",
            codecs.1, max_size.1
        );
        params.extend([codec, video_size, codecs, max_size]);
        self.report(
            diagnostic
                .with_hint(hint)
                .with_key("video_not_decodable", params),
        );
    }

    /// Whether `profile` can show `m`; if not, why (in English) and the
    /// reason's message key (`why_key`).
    fn showable(
        &self,
        m: &CatalogMaterial,
        profile: &Profile,
    ) -> Result<(), (String, &'static str)> {
        match m.kind {
            MaterialKind::Video if !profile.video => {
                return Err((
                    "a video on a screen that cannot play video".into(),
                    "video_without_video",
                ))
            }
            MaterialKind::Poster if !profile.still => {
                return Err((
                    format!(
                        "a poster on a {}×{} text scroller",
                        profile.width, profile.height
                    ),
                    "poster_on_scroller",
                ))
            }
            MaterialKind::Text if !profile.scroll && !profile.still => {
                return Err((
                    "a text on a screen that can neither scroll nor show stills".into(),
                    "text_without_scroll_or_still",
                ))
            }
            _ => {}
        }
        if !m.renditions.contains_key(&profile.id) {
            return Err((
                format!("no rendition for profile `{}` yet", profile.id),
                "no_rendition_yet",
            ));
        }
        Ok(())
    }

    fn loop_plan(
        &mut self,
        playlist: usize,
        profile: usize,
        constraint: Option<&Constraint>,
        epoch: usize,
        at: Millis,
        screen: &Screen,
    ) -> Result<Arc<LoopPlan>, ()> {
        let key: LoopKey = (playlist, profile, constraint.map(Constraint::key), epoch);
        if let Some(found) = self.loops.get(&key).cloned() {
            if found.is_err() {
                self.report_unsatisfiable(screen, constraint);
            }
            return found;
        }
        let items = self.resolve(playlist, profile, at);
        let result = match constraint {
            None => Ok(Arc::new(LoopPlan {
                inserted: vec![false; items.len()].into(),
                media: items.iter().map(|(_, m, _)| m.clone()).collect(),
                slots: items.into_iter().map(|(s, _, _)| s).collect(),
            })),
            Some(c) => {
                let pool: Vec<(protocol::Slot, protocol::MediaRef)> =
                    match self.model.settings.warning_playlist {
                        Some(w) => self
                            .resolve(w, profile, at)
                            .into_iter()
                            .filter(|(s, _, _)| s.is_warning)
                            .map(|(s, m, _)| (s, m))
                            .collect(),
                        None => Vec::new(),
                    };
                if pool.is_empty() {
                    Err(())
                } else {
                    Ok(Arc::new(
                        self.interleave(playlist, profile, items, &pool, c),
                    ))
                }
            }
        };
        if result.is_err() {
            self.report_unsatisfiable(screen, constraint);
        }
        self.loops.insert(key, result.clone());
        result
    }

    fn report_unsatisfiable(&mut self, screen: &Screen, constraint: Option<&Constraint>) {
        let model = self.model;
        let Some(c) = constraint else { return };
        let rule = &model.rules[c.rules[0]];
        let profile = &model.profiles[screen.profile];
        let warning = model
            .settings
            .warning_playlist
            .map_or("(none)".to_owned(), |w| model.playlists[w].id.clone());
        self.report(
            Diagnostic::error(&rule.location, format!("rule `{}` cannot be met on screen `{}`: warning playlist `{warning}` has no valid warning that profile `{}` can show; no rotation for this screen", rule.id, screen.id, profile.id))
                .with_hint(format!("add a warning text or poster with a rendition for `{}` to `{warning}`", profile.id))
                .with_key("rule_cannot_be_met", [("owner_kind", "rule"), ("owner", rule.id.as_str()), ("screen", screen.id.as_str()), ("playlist", warning.as_str()), ("profile", profile.id.as_str())]),
        );
    }

    fn interleave(
        &mut self,
        playlist: usize,
        profile: usize,
        items: Vec<(protocol::Slot, protocol::MediaRef, Option<Millis>)>,
        pool: &[(protocol::Slot, protocol::MediaRef)],
        c: &Constraint,
    ) -> LoopPlan {
        let model = self.model;
        let mut slots: Vec<protocol::Slot> = Vec::new();
        let mut media: Vec<protocol::MediaRef> = Vec::new();
        let mut flags: Vec<bool> = Vec::new();
        let (mut warn_ms, mut total_ms, mut run_ms) = (0u64, 0u64, 0u64);
        let mut next = 0usize;
        let mut inserted = 0usize;
        let mut dropped: Vec<String> = Vec::new();
        let share_ok =
            |warn: u64, total: u64| c.min_share.is_none_or(|s| warn as f64 >= s * total as f64);
        let first_is_warning = items.first().is_some_and(|(s, _, _)| s.is_warning);
        let mut need_warning = !first_is_warning;
        for (slot, m, _) in items {
            let d = slot.duration_ms;
            let too_long = !slot.is_warning && c.max_gap_ms.is_some_and(|g| d as i64 > g);
            let never = !slot.is_warning && c.min_share.is_some_and(|s| s >= 1.0);
            if too_long || never {
                dropped.push(slot.material_id.clone());
                continue;
            }
            let mut guard = 0;
            loop {
                let breaks_rules = !slot.is_warning
                    && (c.max_gap_ms.is_some_and(|g| (run_ms + d) as i64 > g)
                        || !share_ok(warn_ms, total_ms + d));
                if !(need_warning || breaks_rules) || guard > 10_000 {
                    break;
                }
                let (w, wm) = pool[next % pool.len()].clone();
                next += 1;
                warn_ms += w.duration_ms;
                total_ms += w.duration_ms;
                run_ms = 0;
                slots.push(w);
                media.push(wm);
                flags.push(true);
                inserted += 1;
                guard += 1;
                need_warning = false;
            }
            need_warning = false;
            total_ms += d;
            if slot.is_warning {
                warn_ms += d;
                run_ms = 0;
            } else {
                run_ms += d;
            }
            slots.push(slot);
            media.push(m);
            flags.push(false);
        }
        if slots.is_empty() || need_warning {
            let (w, wm) = pool[0].clone();
            slots.push(w);
            media.push(wm);
            flags.push(true);
            inserted += 1;
        }
        let plan = LoopPlan {
            slots,
            media,
            inserted: flags.into(),
        };
        let rules: Vec<&str> = c
            .rules
            .iter()
            .map(|&r| model.rules[r].id.as_str())
            .collect();
        let playlist = &model.playlists[playlist];
        let profile = &model.profiles[profile];
        let mut asks = Vec::new();
        // What the rules ask, for the message keys: `asks_key` names the
        // combination, `gap` and `share` its numbers.
        let mut ask_params = Vec::new();
        if let Some(g) = c.max_gap_ms {
            asks.push(format!("a warning at least every {} s", g / 1000));
            ask_params.push(("gap", (g / 1000).to_string()));
        }
        if let Some(s) = c.min_share {
            asks.push(format!("at least {:.0} % warnings", s * 100.0));
            ask_params.push(("share", format!("{:.0}", s * 100.0)));
        }
        let asks_key = match (c.max_gap_ms, c.min_share) {
            (Some(_), Some(_)) => "gap_and_share",
            (Some(_), None) => "gap",
            _ => "share",
        };
        ask_params.push(("asks_key", asks_key.to_owned()));
        if inserted > 0 {
            self.report(Diagnostic::info(
                &playlist.location,
                format!("playlist `{}` on profile `{}`: interleaved {inserted} warning slot(s) during opening hours for rule(s) {} ({})", playlist.id, profile.id, rules.join(", "), asks.join(", ")),
            ).with_key("warnings_interleaved", [("owner_kind", "playlist".to_owned()), ("owner", playlist.id.clone()), ("profile", profile.id.clone()), ("n", inserted.to_string()), ("rules", rules.join(", ")), ("asks", asks.join(", "))].into_iter().chain(ask_params.clone())));
        }
        if !dropped.is_empty() {
            self.report(
                Diagnostic::warning(&playlist.location, format!("playlist `{}` on profile `{}`: left out {} during opening hours: longer than the rules allow without a warning ({})", playlist.id, profile.id, dropped.join(", "), asks.join(", ")))
                    .with_hint("shorten the item (seconds = …) or relax max_gap_seconds")
                    .with_key("items_too_long_for_rules", [("owner_kind", "playlist".to_owned()), ("owner", playlist.id.clone()), ("profile", profile.id.clone()), ("items", dropped.join(", ")), ("asks", asks.join(", "))].into_iter().chain(ask_params)),
            );
        }
        plan
    }
}

/// How `m` plays on `profile` from `rendition`: its slot kind, its duration
/// (`seconds` from the playlist item, if any) and, when a person could not
/// read it there, why. Text durations come from the one function in
/// `protocol::v1::scroll` that the agent and the UI use too.
fn slot_timing(
    model: &Model,
    profile: &Profile,
    m: &CatalogMaterial,
    rendition: &crate::catalog::Rendition,
    seconds: Option<u32>,
) -> (protocol::SlotKind, u64, Option<String>) {
    use protocol::scroll;
    let requested_ms = seconds.map(|s| u64::from(s) * 1000);
    let still_ms = u64::from(model.settings.still_seconds) * 1000;
    let mut illegible = rendition.problems.first().cloned();
    let (kind, duration_ms) = match (m.kind, rendition.strip_width_px) {
        (MaterialKind::Video, _) => (protocol::SlotKind::Video, m.duration_ms.unwrap_or(still_ms)),
        (MaterialKind::Text, Some(strip_width_px)) if profile.scroll => {
            let glyph_px = rendition.text.map_or(profile.height, |t| t.glyph_px);
            let px_per_second = scroll::px_per_second(profile.scroll_chars_per_second, glyph_px);
            let visible_ms = scroll::char_visible_ms(glyph_px, profile.width, px_per_second);
            if illegible.is_none() && visible_ms < scroll::MIN_CHAR_VISIBLE_MS {
                illegible = Some(format!(
                    "at {} characters per second each character is on the screen for {:.1} s, less than the {:.1} s a person needs; lower scroll_chars_per_second",
                    profile.scroll_chars_per_second,
                    visible_ms as f64 / 1000.0,
                    scroll::MIN_CHAR_VISIBLE_MS as f64 / 1000.0
                ));
            }
            let layout = scroll::TextSlotLayout::Scroll {
                strip_width_px,
                screen_width_px: profile.width,
                px_per_second,
            };
            (
                protocol::SlotKind::Scroll { px_per_second },
                scroll::text_slot_duration_ms(layout, requested_ms, still_ms),
            )
        }
        (MaterialKind::Text, _) => {
            let layout = scroll::TextSlotLayout::Page {
                chars: rendition.text.map_or(0, |t| t.chars),
                chars_per_second: profile.scroll_chars_per_second,
            };
            (
                protocol::SlotKind::Still,
                scroll::text_slot_duration_ms(layout, requested_ms, still_ms),
            )
        }
        (MaterialKind::Poster, _) => (protocol::SlotKind::Still, requested_ms.unwrap_or(still_ms)),
    };
    (kind, duration_ms.max(1), illegible)
}

/// Makes `dst` equal to `src`, reusing `dst`'s vector and string buffers.
fn assign_slots(dst: &mut Vec<protocol::Slot>, src: &[protocol::Slot]) {
    dst.truncate(src.len());
    for (d, s) in dst.iter_mut().zip(src) {
        d.media = s.media;
        d.duration_ms = s.duration_ms;
        d.kind = s.kind;
        d.is_warning = s.is_warning;
        d.material_id.clone_from(&s.material_id);
    }
    let have = dst.len();
    dst.extend_from_slice(&src[have..]);
}

/// A copy of `m`, reusing a spare media entry's string buffer if there is one.
fn reuse_media(spare: &mut Vec<protocol::MediaRef>, m: &protocol::MediaRef) -> protocol::MediaRef {
    match spare.pop() {
        Some(mut old) => {
            old.sha256 = m.sha256;
            old.size_bytes = m.size_bytes;
            old.width = m.width;
            old.height = m.height;
            old.mime.clone_from(&m.mime);
            old
        }
        None => m.clone(),
    }
}

/// The query filters that do not depend on time or profile. A `category`
/// matches the material's category or one of its tags (library materials
/// carry their category's slug first and its name, e.g. `冒充公检法`, as a
/// tag); `edition = "current"` matches materials of `current` only.
pub(crate) fn query_matches_statically(
    query: &Query,
    m: &CatalogMaterial,
    current: Option<&str>,
) -> bool {
    query.tags.iter().all(|t| m.tags.contains(t))
        && query
            .category
            .as_ref()
            .is_none_or(|c| m.category.as_ref() == Some(c) || m.tags.contains(c))
        && query.kind.is_none_or(|k| k == m.kind)
        && query.edition.is_none_or(|EditionSelector::Current| {
            current.is_some() && m.edition.as_deref() == current
        })
}

impl Changes {
    /// What differs between two parsed models, by id (source locations are
    /// ignored, so moving text around a file changes nothing). Materials are
    /// not compared: list changed catalog entries in `materials` yourself.
    pub fn between(old: &Model, new: &Model) -> Changes {
        fn diff<T>(
            old: &[T],
            new: &[T],
            id: impl Fn(&T) -> &str,
            same: impl Fn(&T, &T) -> bool,
        ) -> Vec<String> {
            let mut out = Vec::new();
            for a in old {
                match new.iter().find(|b| id(b) == id(a)) {
                    Some(b) if same(a, b) => {}
                    _ => out.push(id(a).to_owned()),
                }
            }
            for b in new {
                if !old.iter().any(|a| id(a) == id(b)) {
                    out.push(id(b).to_owned());
                }
            }
            out
        }
        let playlist_id = |m: &Model, i: Option<usize>| i.map(|i| m.playlists[i].id.clone());
        let items_equal = |a: &Playlist, b: &Playlist| {
            a.items.len() == b.items.len()
                && a.items.iter().zip(&b.items).all(|(x, y)| {
                    x.source == y.source
                        && x.seconds == y.seconds
                        && x.valid_from == y.valid_from
                        && x.valid_until == y.valid_until
                })
        };
        let (so, sn) = (&old.settings, &new.settings);
        Changes {
            settings: so.timezone != sn.timezone
                || so.still_seconds != sn.still_seconds
                || so.scroll_chars_per_second != sn.scroll_chars_per_second
                || playlist_id(old, so.default_playlist) != playlist_id(new, sn.default_playlist)
                || playlist_id(old, so.warning_playlist) != playlist_id(new, sn.warning_playlist),
            profiles: diff(
                &old.profiles,
                &new.profiles,
                |p| &p.id,
                |a, b| {
                    (
                        a.width,
                        a.height,
                        a.color,
                        a.video,
                        a.scroll,
                        a.still,
                        a.scroll_chars_per_second,
                        &a.brightness,
                    ) == (
                        b.width,
                        b.height,
                        b.color,
                        b.video,
                        b.scroll,
                        b.still,
                        b.scroll_chars_per_second,
                        &b.brightness,
                    )
                },
            ),
            sites: diff(
                &old.sites,
                &new.sites,
                |s| &s.id,
                |a, b| a.timezone == b.timezone && a.opening_hours == b.opening_hours,
            ),
            screens: diff(
                &old.screens,
                &new.screens,
                |s| s.id.as_str(),
                |a, b| {
                    old.sites[a.site].id == new.sites[b.site].id
                        && old.profiles[a.profile].id == new.profiles[b.profile].id
                        && a.tags == b.tags
                        && a.timezone == b.timezone
                        && a.brightness == b.brightness
                },
            ),
            playlists: diff(&old.playlists, &new.playlists, |p| &p.id, items_equal),
            schedules: diff(
                &old.schedules,
                &new.schedules,
                |s| &s.id,
                |a, b| {
                    old.playlists[a.playlist].id == new.playlists[b.playlist].id
                        && a.targets == b.targets
                        && a.when == b.when
                        && a.priority == b.priority
                },
            ),
            rules: diff(
                &old.rules,
                &new.rules,
                |r| &r.id,
                |a, b| {
                    a.targets == b.targets
                        && a.max_gap_seconds == b.max_gap_seconds
                        && a.min_warning_share == b.min_warning_share
                },
            ),
            alerts: diff(
                &old.alerts,
                &new.alerts,
                |a| &a.id,
                |a, b| {
                    old.playlists[a.playlist].id == new.playlists[b.playlist].id
                        && a.targets == b.targets
                        && a.from == b.from
                        && a.until == b.until
                },
            ),
            materials: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_count_does_not_change_the_result() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 28).expect("date");
        let model = crate::synthetic::model(300, today);
        let now = Timestamp(crate::calendar::local_to_utc(
            model.settings.timezone,
            today,
            600,
        ));
        let catalog = crate::synthetic::catalog(&model, now.0, 60);
        let window = Window::hours(now, 48, 72);
        let jobs = || {
            (0..model.screens.len())
                .map(|i| (i, None))
                .collect::<Vec<_>>()
        };
        let (one, d1) = compile_jobs_on(&model, &catalog, window, jobs(), 1);
        let (three, d3) = compile_jobs_on(&model, &catalog, window, jobs(), 3);
        assert_eq!(one.len(), 300);
        assert_eq!(one, three);
        assert_eq!(sorted_unique(d1), sorted_unique(d3));
    }
}
