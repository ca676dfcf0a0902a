//! The demo's past: on a data directory's first start, every demo screen
//! gets the plays of the previous ISO week and of this week so far, so
//! compliance, reports and the branch page show real content at once.
//!
//! Nothing is typed into the database. For each local day since last
//! week's Monday the server compiles the stored site as of that midnight and
//! signs the rotations; the agent's real player plays them on a virtual
//! clock ([`ledcast_agent::replay`]) and its journal holds the records as an
//! agent that was offline all that time would. The demo agents then start
//! and send them through the real MQTT ingest.
//!
//! In that past each branch switched its screens off at night with a timer
//! (on from half an hour before opening to half an hour after closing, off
//! on closed days), which keeps the backlog to what a clerk looks at. One
//! screen's display was unplugged for an afternoon last week (so that day
//! cannot be judged), and the ICBC branch confirmed last week, reporting
//! it. Then every screen is asked for a screenshot.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use ledcast_agent::journal::JournalLimits;
use ledcast_agent::replay::{self, Past};
use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;

use crate::compliance::{self as calc, evaluate};
use crate::state::AppState;
use crate::store::{BranchVerdict, NewUser, Role, ScreenRow};

/// The demo site's time zone (every demo screen is in Gaogang).
const ZONE: Tz = chrono_tz::Asia::Shanghai;
/// The screen whose display was unplugged for an afternoon last week.
pub const OUTAGE_SCREEN: &str = "icbc-atm";
/// The branch that confirmed last week, and its clerk.
pub const CONFIRMING_SITE: &str = "icbc-gaogang";
/// The branch clerk's login name (the password is random and not shown).
pub const BRANCH_CLERK: &str = "demo-icbc-clerk";
/// How long the demo waits for the agents to deliver the past.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(300);
/// The timer switch turns the screens on this long before opening and off
/// this long after closing.
const TIMER_MARGIN_MS: i64 = 30 * 60_000;

/// The rotations of every past day, ready to replay per screen.
pub struct History {
    /// Last week's Monday.
    pub monday: NaiveDate,
    /// Start of the replay (last week's Monday, 00:00 local).
    pub from: protocol::Timestamp,
    /// End of the replay: the demo's start.
    pub until: protocol::Timestamp,
    /// Per screen: each day's signed rotation and when it arrived.
    rotations: HashMap<String, Vec<(protocol::Timestamp, Vec<u8>)>>,
    /// Every media item the rotations name.
    media: HashSet<protocol::Sha256>,
}

/// Compiles the stored site as of each local midnight from last week's
/// Monday to today, signed with the server's key (versions 1, 2, … in the
/// replayed past only; the server's own versions are not touched).
pub async fn compile(state: &AppState, now: protocol::Timestamp) -> anyhow::Result<History> {
    let today = compiler::calendar::local_date(ZONE, now.as_millis());
    let monday =
        today - chrono::Duration::days(i64::from(today.weekday().num_days_from_monday()) + 7);
    let catalog = crate::applied::catalog(state).await?;
    let window = &state.config.rotations;
    let mut rotations: HashMap<String, Vec<(protocol::Timestamp, Vec<u8>)>> = HashMap::new();
    let mut media = HashSet::new();
    let mut day = monday;
    let mut version = 0;
    while day <= today {
        let at = protocol::Timestamp(calc::day_bounds(ZONE, day).0);
        let Some((model, _)) = crate::applied::stored_model(state, at).await? else {
            anyhow::bail!("no demo site is stored");
        };
        let catalog = catalog.clone();
        let window = compiler::Window::hours(at, window.horizon_hours, window.expires_after_hours);
        let (compiled, _) =
            tokio::task::spawn_blocking(move || compiler::compile(&model, &catalog, window))
                .await
                .context("the compiler stopped")?;
        version += 1;
        for screen in compiled {
            let mut rotation = screen.rotation;
            rotation.version = version;
            rotation.issued_at = at;
            media.extend(rotation.media.iter().map(|m| m.sha256));
            rotations
                .entry(rotation.screen_id.as_str().to_owned())
                .or_default()
                .push((at, protocol::seal(&rotation, &state.signing_key)));
        }
        day += chrono::Duration::days(1);
    }
    Ok(History {
        monday,
        from: protocol::Timestamp(calc::day_bounds(ZONE, monday).0),
        until: now,
        rotations,
        media,
    })
}

impl History {
    /// When `screen` was dark in the past: the timer switch's nights and
    /// closed days, and the afternoon [`OUTAGE_SCREEN`] was unplugged.
    fn dark(&self, screen: &ScreenRow) -> Vec<(protocol::Timestamp, protocol::Timestamp)> {
        let hours =
            compiler::calendar_text::parse_opening_hours(&screen.opening_hours).unwrap_or_default();
        let mut on = Vec::new();
        let mut day = self.monday;
        let last = compiler::calendar::local_date(ZONE, self.until.as_millis());
        while day <= last {
            let windows = calc::opening_windows(&hours, ZONE, day);
            if let (Some(first), Some(last)) = (windows.first(), windows.last()) {
                on.push((first.0 - TIMER_MARGIN_MS, last.1 + TIMER_MARGIN_MS));
            }
            day += chrono::Duration::days(1);
        }
        if screen.id == OUTAGE_SCREEN {
            // Last Wednesday, 14:00–16:30: the display cable came loose.
            let (midnight, _) = calc::day_bounds(ZONE, self.monday + chrono::Duration::days(2));
            let (lost, back) = (
                midnight + 14 * 3_600_000,
                midnight + 16 * 3_600_000 + 1_800_000,
            );
            on = on
                .into_iter()
                .flat_map(|(from, until)| {
                    if until <= lost || from >= back {
                        vec![(from, until)]
                    } else {
                        vec![(from, lost), (back, until)]
                    }
                })
                .collect();
        }
        // Dark is everything between the stretches the screen was on.
        let mut dark = Vec::new();
        let mut cursor = self.from.as_millis();
        for (from, until) in on {
            if from > cursor {
                dark.push((protocol::Timestamp(cursor), protocol::Timestamp(from)));
            }
            cursor = cursor.max(until);
        }
        if cursor < self.until.as_millis() {
            dark.push((protocol::Timestamp(cursor), self.until));
        }
        dark
    }

    /// Starts replaying `screen`'s past on the agent's player (on a blocking
    /// thread) into the journal under `agent_dir`, for the demo agent that
    /// starts there next. The task returns how many records it wrote.
    pub fn start_journal(
        &self,
        state: &AppState,
        screen: &ScreenRow,
        agent_dir: &Path,
        bridge_vendor: Option<&str>,
    ) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<usize>>> {
        let config = ledcast_agent::AgentConfig::for_data_dir(agent_dir);
        let past = Past {
            screen_id: protocol::ScreenId::new(&screen.id)?,
            server_key: protocol::TrustedKey::new(state.signing_key.verifying_key()),
            rotations: self.rotations.get(&screen.id).cloned().unwrap_or_default(),
            media: self.media.clone(),
            display_lost: self.dark(screen),
            from: self.from,
            until: self.until,
            bridge_vendor: bridge_vendor.map(str::to_owned),
            builtin_slot_ms: config.player.builtin_slot_seconds.max(1) * 1000,
        };
        let boot_id =
            protocol::BootId::new(&format!("demo-past-{}", crate::auth::random_hex::<6>()))
                .context("a boot id")?;
        let limits = JournalLimits {
            max_bytes: config.journal.max_bytes,
            alarm_percent: config.journal.alarm_percent,
            segment_records: config.journal.segment_records,
        };
        let journal_dir = config.data_dir.join("journal");
        let id = screen.id.clone();
        Ok(tokio::task::spawn_blocking(move || {
            replay::journal_past(&past, &journal_dir, &boot_id, limits)
                .with_context(|| format!("replaying the past week of {id}"))
        }))
    }
}

/// Waits until the server has stored at least `expected` records of each
/// screen since `from` (the agents send their journals in batches).
pub async fn wait_delivered(
    state: &AppState,
    expected: &[(String, usize)],
    from: protocol::Timestamp,
) -> anyhow::Result<()> {
    let first_day = compiler::calendar::local_date(ZONE, from.as_millis())
        .format("%Y-%m-%d")
        .to_string();
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let mut missing = Vec::new();
        for (screen, count) in expected {
            let stored: i64 = state
                .store
                .play_days(std::slice::from_ref(screen), &first_day, "9999-12-31")
                .await?
                .iter()
                .map(|d| d.plays)
                .sum();
            if stored < *count as i64 {
                missing.push(format!("{screen} {stored}/{count}"));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "the demo agents did not deliver their past week within {} s: {}",
                DELIVERY_TIMEOUT.as_secs(),
                missing.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The ICBC branch's clerk confirms last week for each of the branch's
/// screens: all shown as required, except the ATM topper's afternoon.
pub async fn confirm_last_week(state: &AppState, monday: NaiveDate) -> anyhow::Result<usize> {
    let now = state.clock.now().as_millis();
    let sites = [CONFIRMING_SITE.to_owned()];
    if state.store.user_by_name(BRANCH_CLERK).await?.is_none() {
        state
            .store
            .create_user(NewUser {
                id: &crate::auth::random_hex::<8>(),
                username: BRANCH_CLERK,
                password_hash: &crate::auth::hash_password(&crate::auth::generate_password()),
                role: Role::Branch,
                sites: &sites,
                now,
            })
            .await?;
    }
    let clerk = state
        .store
        .user_by_name(BRANCH_CLERK)
        .await?
        .context("the demo branch clerk")?;
    let week = calc::iso_week_of(monday);
    let screens = state.store.list_screens(Some(&sites)).await?;
    for screen in &screens {
        let (verdict, note) = if screen.id == OUTAGE_SCREEN {
            (
                BranchVerdict::Problem,
                "周三下午 ATM 顶屏黑屏约两个半小时（信号线松动），已重新接好。",
            )
        } else {
            (BranchVerdict::Ok, "")
        };
        evaluate::confirm(
            state,
            &evaluate::Confirm {
                screen,
                week: &week,
                monday,
                verdict,
                note,
                photo_sha256: None,
                corrects: None,
                by: &clerk.id,
                now,
            },
        )
        .await?;
    }
    Ok(screens.len())
}

/// Asks every screen for a screenshot (the agents upload their frame).
pub fn ask_for_screenshots(state: &AppState, screens: &[ScreenRow]) {
    for screen in screens {
        if let Ok(screen_id) = protocol::ScreenId::new(&screen.id) {
            crate::events::send_command(
                &state.events,
                &state.signing_key,
                screen_id,
                protocol::CommandAction::Screenshot,
                state.clock.now(),
            );
        }
    }
}
