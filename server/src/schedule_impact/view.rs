//! What the approval page and the playlist builder are shown: the
//! serialisable views of one schedule's impact ([`ScheduleImpact`], its
//! builder [`Summary`]) and their parts.

use std::collections::BTreeMap;

use serde::Serialize;

/// What approving one schedule would change.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScheduleImpact {
    /// Schedule id.
    pub schedule: String,
    /// Its playlist's id.
    pub playlist: String,
    /// Its playlist's name (the id when it has none).
    pub playlist_name: String,
    /// Its priority (higher wins where schedules overlap).
    pub priority: i32,
    /// Whom it targets, as written (ids).
    pub targets: Targets,
    /// The materials of its playlist in play order: the items that name a
    /// material, then what its queries found on the targeted screens.
    pub materials: Vec<String>,
    /// Those of [`Self::materials`] still waiting for approval: until they
    /// are approved they are left out, and so they are of "after" unless
    /// [`Self::assumes_approved`].
    pub pending_materials: Vec<String>,
    /// True when "after" counts the playlist's pending materials approved
    /// too (the builder's check, see [`of_file`]); false on the approval
    /// page, where "after" is exactly what approving the schedule alone
    /// puts on air.
    pub assumes_approved: bool,
    /// Every screen it targets (or targeted in the version on air):
    /// changed ones first, then by id.
    pub screens: Vec<ScreenImpact>,
    /// Screens where its priority is above that of every other schedule
    /// there (there it replaces them in its hours).
    pub outranks: Option<Outranks>,
    /// The compared span (ms): from now for [`PREVIEW_HOURS`].
    pub from: i64,
    /// End of the compared span (ms, exclusive).
    pub until: i64,
}

/// A schedule's targets (ids).
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Targets {
    /// Screen ids.
    pub screens: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Site ids.
    pub sites: Vec<String>,
}

/// Screens on which the schedule's priority beats every other schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Outranks {
    /// The highest priority of the other schedules on these screens (the
    /// largest over all of them).
    pub highest: i32,
    /// The screens.
    pub screens: Vec<NamedScreen>,
}

/// A screen as people know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct NamedScreen {
    /// Screen id.
    pub id: String,
    /// Its name (the id when it has none).
    pub name: String,
    /// Its site's name (the id when it has none).
    pub site_name: String,
}

/// One targeted screen: what plays there now and after approval.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScreenImpact {
    /// The screen.
    #[serde(flatten)]
    pub screen: NamedScreen,
    /// Its time zone.
    pub timezone: String,
    /// The highest priority of the other schedules that target it.
    pub highest_other: Option<i32>,
    /// Each pair of loop sources (now → after approval) where the loop
    /// changes, with the loops of the first instant it applies, by that
    /// instant; empty when nothing changes in the week.
    pub changes: Vec<LoopChange>,
    /// What the schedule takes the place of there (from [`Self::changes`]).
    pub replaces: Vec<LoopSource>,
    /// True when the screen would get no rotation after approval (a
    /// compile error there): it would keep playing what it has.
    pub fails_after: bool,
}

/// One change of a screen's loop.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LoopChange {
    /// The first instant it applies (ms).
    pub from: i64,
    /// How long it applies within the compared week (ms).
    pub duration_ms: i64,
    /// What plays then now.
    pub before: LoopView,
    /// What would play then after approval.
    pub after: LoopView,
}

/// Where a loop comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct LoopSource {
    /// `schedule`, `alert`, `default` (the default playlist) or `fallback`
    /// (the standard warnings, where nothing is scheduled).
    pub kind: &'static str,
    /// The schedule's or alert's id; the playlist id for `default`; empty
    /// for `fallback`.
    pub id: String,
    /// The playlist's name (empty for `fallback`).
    pub playlist_name: String,
    /// The block's priority (schedules only).
    pub priority: Option<i32>,
}

/// A loop: its source and its slots in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LoopView {
    /// Where it comes from.
    #[serde(flatten)]
    pub source: LoopSource,
    /// Its slots.
    pub slots: Vec<SlotView>,
}

/// One slot of a loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SlotView {
    /// Material id.
    pub material: String,
    /// The rendition shown (SHA-256 hex; `/media/{sha256}`), the screen's own.
    pub media: String,
    /// True when the rendition is an image (an LED preview can be shown).
    pub is_image: bool,
    /// True for anti-fraud warnings.
    pub is_warning: bool,
    /// True when the compiler inserted it to keep a rule.
    pub inserted: bool,
    /// How long it shows (s, rounded up).
    pub seconds: u64,
}

/// What the builder's answer says about one of its schedules (small: the
/// builder shows sentences, not loops).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Summary {
    /// Schedule id.
    pub schedule: String,
    /// Its priority.
    pub priority: i32,
    /// Screens it targets.
    pub screens_targeted: usize,
    /// Screens whose loop would change after approval.
    pub screens_changed: Vec<NamedScreen>,
    /// Screens it targets where nothing would change in the week.
    pub screens_unchanged: Vec<NamedScreen>,
    /// Where it beats every other schedule.
    pub outranks: Option<Outranks>,
    /// What it replaces on which screens: schedule id → screens.
    pub replaces: Vec<Replaces>,
    /// Its materials still waiting for approval.
    pub pending_materials: Vec<String>,
    /// True when the changes count them approved.
    pub assumes_approved: bool,
}

/// A schedule (or the default) the new one replaces, and where.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Replaces {
    /// What is replaced.
    #[serde(flatten)]
    pub source: LoopSource,
    /// Where.
    pub screens: Vec<NamedScreen>,
}

impl ScheduleImpact {
    /// The builder's short form.
    pub fn summary(&self) -> Summary {
        let (changed, unchanged): (Vec<&ScreenImpact>, Vec<&ScreenImpact>) =
            self.screens.iter().partition(|s| !s.changes.is_empty());
        let mut replaces: BTreeMap<&LoopSource, Vec<NamedScreen>> = BTreeMap::new();
        for screen in &self.screens {
            for source in &screen.replaces {
                replaces
                    .entry(source)
                    .or_default()
                    .push(screen.screen.clone());
            }
        }
        Summary {
            schedule: self.schedule.clone(),
            priority: self.priority,
            screens_targeted: self.screens.len(),
            screens_changed: changed.iter().map(|s| s.screen.clone()).collect(),
            screens_unchanged: unchanged.iter().map(|s| s.screen.clone()).collect(),
            outranks: self.outranks.clone(),
            replaces: replaces
                .into_iter()
                .map(|(source, screens)| Replaces {
                    source: source.clone(),
                    screens,
                })
                .collect(),
            pending_materials: self.pending_materials.clone(),
            assumes_approved: self.assumes_approved,
        }
    }
}
