//! The glass: what each screen of a site shows, second by second, played by
//! the agent's real player ([`ledcast_agent::player::Player`]) and display
//! code ([`ledcast_agent::display::Screen`]) on a virtual clock, from
//! rotations the compiler makes of the site's files and signs as the server
//! does. No broker, no disk, no waiting: time is whatever instant the caller
//! advances to.
//!
//! Used by the glass test (`tests/tests/glass.rs`: a week of the demo site),
//! `ledcast-server preview` (a screen's day as one contact sheet) and the
//! web UI's material previews (a text's frames on a profile), so all three
//! show the same pixels an agent puts on its panel.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use image::RgbImage;
use ledcast_agent::display::{NullSink, Screen};
use ledcast_agent::player::{
    Action, Content, Input, Player, PlayerConfig, RotationSource, Showing,
};
use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;

use crate::site_files::SiteFiles;

/// A day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// Decoded media a glass screen keeps (a loop's stills and strips).
const DECODED_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// The key the glass signs its rotations with (fixed: the glass is
/// deterministic; the player checks signatures as on a real screen).
pub fn glass_key() -> SigningKey {
    SigningKey::from_bytes(&[0x16; 32])
}

/// Each screen's signed rotations for `days` days from `start`: one compile
/// a day at `start + n` days (a 48 h horizon, as the server's), version
/// `n + 1`. Returns `(instant to deliver, envelope)` per screen id.
pub fn rotations(
    site: &SiteFiles,
    start: protocol::Timestamp,
    days: u32,
    key: &SigningKey,
) -> BTreeMap<String, Vec<(protocol::Timestamp, Vec<u8>)>> {
    let mut out: BTreeMap<String, Vec<(protocol::Timestamp, Vec<u8>)>> = BTreeMap::new();
    for day in 0..days {
        let now = start.plus_ms(i64::from(day) * DAY_MS);
        let (compiled, _) = compiler::compile(
            &site.model,
            &site.catalog,
            compiler::Window::hours(now, 48, 72),
        );
        for mut c in compiled {
            c.rotation.version = u64::from(day) + 1;
            let envelope = protocol::seal(&c.rotation, key);
            out.entry(c.rotation.screen_id.as_str().to_owned())
                .or_default()
                .push((now, envelope));
        }
    }
    out
}

/// One screen behind the glass.
pub struct GlassScreen<'a> {
    /// Where media bytes come from.
    site: &'a SiteFiles,
    /// The agent's player core.
    player: Player,
    /// The agent's display, with a null sink (frames are read from it).
    screen: Screen,
    /// What the player last put on screen.
    showing: Option<Showing>,
    /// The virtual clock.
    now: protocol::Timestamp,
    /// Shows that failed (media the display could not draw).
    pub errors: Vec<String>,
}

impl<'a> GlassScreen<'a> {
    /// A screen of `site` (its profile's size), trusting `key`, starting at
    /// `start` with every rendition of the site in its cache.
    pub fn new(
        site: &'a SiteFiles,
        screen_id: &str,
        key: &SigningKey,
        start: protocol::Timestamp,
    ) -> anyhow::Result<GlassScreen<'a>> {
        let screen = site
            .model
            .screen(screen_id)
            .ok_or_else(|| anyhow::anyhow!("no screen {screen_id:?} in the site"))?;
        let profile = &site.model.profiles[screen.profile];
        let cached: HashSet<protocol::Sha256> = site.media.keys().copied().collect();
        let player = Player::new(PlayerConfig {
            screen_id: screen.id.clone(),
            boot_id: protocol::BootId::from_random([0x16; 16]),
            server_key: protocol::TrustedKey::new(key.verifying_key()),
            highest_version_seen: None,
            // The glass has no mpv: video slots show the fallback, as on a
            // controller without a video sink.
            video_supported: false,
            switch_window_ms: 600_000,
            builtin_slot_ms: 10_000,
            cached,
        });
        let display = Screen::new(Box::new(NullSink), profile.width, profile.height, 10)
            .with_decoded_cache(DECODED_CACHE_BYTES);
        let mut glass = GlassScreen {
            site,
            player,
            screen: display,
            showing: None,
            now: start,
            errors: Vec::new(),
        };
        glass.handle(start, Input::Timer);
        Ok(glass)
    }

    /// Delivers a signed rotation at `at` (not before the clock).
    pub fn deliver(&mut self, at: protocol::Timestamp, envelope: Vec<u8>) {
        self.advance_to(at);
        self.handle(
            at.max(self.now),
            Input::Rotation {
                envelope,
                source: RotationSource::Mqtt,
            },
        );
    }

    /// Moves the clock to `t`: every timer due on the way fires at its own
    /// instant, and a scroll is redrawn for `t`.
    pub fn advance_to(&mut self, t: protocol::Timestamp) {
        while let Some(due) = self.player.poll_timeout() {
            if due > t {
                break;
            }
            let at = due.max(self.now);
            self.handle(at, Input::Timer);
            if self.player.poll_timeout() == Some(due) {
                // A timer that does not move would spin; the player always
                // moves it, but never trust that with a loop.
                break;
            }
        }
        if t > self.now {
            self.now = t;
        }
        if self.screen.is_scrolling() {
            if let Err(e) = self.screen.tick(self.now) {
                self.errors.push(format!("tick at {}: {e}", self.now.0));
            }
        }
    }

    fn handle(&mut self, now: protocol::Timestamp, input: Input) {
        self.now = self.now.max(now);
        self.player.handle(now, input);
        while let Some(action) = self.player.poll_action() {
            match action {
                Action::Show(showing) => {
                    let bytes = match &showing.content {
                        Content::Media { media, .. } => {
                            self.site.media.get(media).map(Vec::as_slice)
                        }
                        _ => None,
                    };
                    if let Err(e) = self.screen.show(&showing, bytes, None, now) {
                        self.errors
                            .push(format!("{} at {}: {e}", showing.material_id, now.0));
                        let _ = self.screen.show_builtin(0, now);
                    }
                    self.showing = Some(showing);
                }
                // The rotation's brightness schedule: dimmed frames, or
                // off (black, nothing showing), as on the agent.
                Action::Brightness { percent } => {
                    if let Err(e) = self.screen.set_brightness(percent) {
                        self.errors.push(format!("brightness at {}: {e}", now.0));
                    }
                    if percent == 0 {
                        self.showing = None;
                    }
                }
                _ => {}
            }
        }
    }

    /// What is on the panel now.
    pub fn frame(&self) -> Option<&Arc<RgbImage>> {
        self.screen.last_frame()
    }

    /// What the player shows now.
    pub fn showing(&self) -> Option<&Showing> {
        self.showing.as_ref()
    }

    /// The virtual clock.
    pub fn now(&self) -> protocol::Timestamp {
        self.now
    }
}

/// Whether a frame lights any LED: the middle rows first (where text and
/// most pictures have ink), then the rest.
pub fn frame_lit(frame: &RgbImage) -> bool {
    let row = frame.width() as usize * 3;
    let raw = frame.as_raw();
    let rows = frame.height() as usize;
    let lit_row = |y: usize| raw[y * row..(y + 1) * row].iter().any(|&v| v != 0);
    (0..rows)
        .map(|i| {
            // rows/2, rows/2 + 1, rows/2 - 1, …
            let half = rows / 2;
            if i % 2 == 0 {
                half + i / 2
            } else {
                half.wrapping_sub(i / 2 + 1)
            }
        })
        .filter(|&y| y < rows)
        .any(lit_row)
}
