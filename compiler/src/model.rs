//! The validated playlist model: what [`crate::parse`] produces from the TOML
//! files under `playlists/` and what [`crate::compile`] consumes.
//!
//! Every reference between entities is resolved to an index into the
//! model's vectors (and the id is kept for messages). Entities that failed
//! validation are not here: their diagnostics say why. This module holds
//! data only; it does not parse or compile.

use chrono_tz::Tz;
use ledcast_protocol::v1 as protocol;

use crate::brightness::Brightness;
use crate::calendar::{DateRange, DaySet, TimeRange};
use crate::catalog::MaterialKind;
use crate::diagnostic::Location;

/// Priority of every alert block: above any schedule.
pub const ALERT_PRIORITY: i32 = 1_000_000;
/// Priority of the default playlist's block: below any schedule.
pub const DEFAULT_PRIORITY: i32 = -1_000_000;
/// Schedules may use priorities in `-MAX_SCHEDULE_PRIORITY..=MAX_SCHEDULE_PRIORITY`.
pub const MAX_SCHEDULE_PRIORITY: i32 = 10_000;

/// The whole deployment: profiles, sites, screens, playlists, schedules,
/// rules and alerts, plus deployment-wide settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Deployment-wide settings (`[settings]`).
    pub settings: Settings,
    /// Screen hardware profiles.
    pub profiles: Vec<Profile>,
    /// Bank branches and service halls.
    pub sites: Vec<Site>,
    /// Screens, sorted by id.
    pub screens: Vec<Screen>,
    /// Playlists.
    pub playlists: Vec<Playlist>,
    /// Schedule entries, sorted by id (the tie-break order).
    pub schedules: Vec<Schedule>,
    /// Compliance obligations.
    pub rules: Vec<Rule>,
    /// Urgent alerts.
    pub alerts: Vec<Alert>,
}

/// `[settings]`: defaults for the whole deployment.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Time zone for screens and sites that name none, and for local
    /// date-times written without an offset (default `Asia/Shanghai`).
    pub timezone: Tz,
    /// What plays where no schedule is active (index into `playlists`).
    pub default_playlist: Option<usize>,
    /// The site's standard warnings: interleaved to satisfy rules and used
    /// as every rotation's fallback (index into `playlists`).
    pub warning_playlist: Option<usize>,
    /// Duration of a still (poster) slot without `seconds` (default 10).
    pub still_seconds: u32,
    /// Reading speed of scrolling text for profiles that name none, in
    /// full-width characters per second (default
    /// `protocol::scroll::DEFAULT_CHARS_PER_SECOND`).
    pub scroll_chars_per_second: f64,
    /// Where `[settings]` was written.
    pub location: Location,
}

/// Colour class of an LED panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ColorClass {
    /// One colour (red).
    Mono,
    /// Red and green.
    Dual,
    /// Full colour.
    Full,
}

/// What a screen's hardware can show.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// Profile id (e.g. `door-strip-352x80`).
    pub id: String,
    /// Native width in pixels.
    pub width: u32,
    /// Native height in pixels.
    pub height: u32,
    /// Colour class.
    pub color: ColorClass,
    /// Can play video.
    pub video: bool,
    /// What the profile's player box can decode (checked for every video
    /// rendition; meaningful only when `video` is true).
    pub video_decoder: VideoDecoder,
    /// Can scroll text strips.
    pub scroll: bool,
    /// Can show still images (posters); false for text-only scrollers.
    pub still: bool,
    /// Reading speed of scrolling text, in full-width characters per
    /// second; the pixel speed follows from the glyph size.
    pub scroll_chars_per_second: f64,
    /// Brightness schedule of screens with this profile (`None`: full
    /// brightness around the clock).
    pub brightness: Option<Brightness>,
    /// Where it was defined.
    pub location: Location,
}

/// A video codec, as the media pipeline probes it from the MP4 sample
/// entry and as a profile's `video_codecs` names it (`h264`, `h265`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum VideoCodec {
    /// H.264 / AVC.
    H264,
    /// H.265 / HEVC.
    H265,
}

impl VideoCodec {
    /// The codec as people write it (`H.264`).
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "H.264",
            VideoCodec::H265 => "H.265",
        }
    }
}

/// What a profile's player box decodes: the largest coded picture (either
/// way round, so a portrait 1080×1920 clip fits a 1920×1080 decoder) and
/// the codecs. Written as a profile's `video_max_width`,
/// `video_max_height` and `video_codecs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoDecoder {
    /// Largest coded width, pixels (the longer side).
    pub max_width: u32,
    /// Largest coded height, pixels (the shorter side).
    pub max_height: u32,
    /// Codecs it decodes.
    pub codecs: Vec<VideoCodec>,
}

impl Default for VideoDecoder {
    /// 1920×1080 H.264: what every box that plays video at all decodes
    /// (an H.265 decoder is not a given on the weak ARM boxes beside LED
    /// controllers; a profile whose box has one says so).
    fn default() -> VideoDecoder {
        VideoDecoder {
            max_width: 1920,
            max_height: 1080,
            codecs: vec![VideoCodec::H264],
        }
    }
}

/// What about a video a profile's player box cannot decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoProblem {
    /// Its codec is not one the box decodes.
    Codec,
    /// Its coded picture is larger than the box decodes.
    TooLarge,
}

/// Why a profile's player box cannot play a video: the problem, the
/// video's facts and what the box decodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoMismatch {
    /// What is wrong (the codec is checked first).
    pub problem: VideoProblem,
    /// The video's codec.
    pub codec: VideoCodec,
    /// The video's coded width.
    pub width: u32,
    /// The video's coded height.
    pub height: u32,
    /// What the box decodes.
    pub decoder: VideoDecoder,
}

impl VideoMismatch {
    /// The reason's message key (`why_key` of a diagnostic; the server's
    /// catalogues say `diag_why_{key}`).
    pub fn key(&self) -> &'static str {
        match self.problem {
            VideoProblem::Codec => "video_codec",
            VideoProblem::TooLarge => "video_too_large",
        }
    }

    /// The reason in English.
    pub fn en(&self) -> String {
        let [(_, codec), (_, video_size), (_, codecs), (_, max_size)] = self.params();
        match self.problem {
            VideoProblem::Codec => {
                format!("it is {codec} video and the player box decodes only {codecs}")
            }
            VideoProblem::TooLarge => {
                format!("it is {video_size} pixels and the player box decodes at most {max_size}")
            }
        }
    }

    /// The values a message about it names: the video's `codec` and
    /// `video_size`, the box's `codecs` and `max_size`.
    pub fn params(&self) -> [(&'static str, String); 4] {
        [
            ("codec", self.codec.name().to_owned()),
            ("video_size", format!("{}×{}", self.width, self.height)),
            ("codecs", codec_list(&self.decoder.codecs)),
            (
                "max_size",
                format!("{}×{}", self.decoder.max_width, self.decoder.max_height),
            ),
        ]
    }
}

/// `H.264/H.265`.
fn codec_list(codecs: &[VideoCodec]) -> String {
    codecs
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join("/")
}

impl Profile {
    /// Why this profile's player box cannot decode a `width`×`height`
    /// video in `codec`, or `None` when it can. Whether the profile plays
    /// video at all is [`Profile::video`], checked first by the caller.
    pub fn video_mismatch(
        &self,
        width: u32,
        height: u32,
        codec: VideoCodec,
    ) -> Option<VideoMismatch> {
        let decoder = &self.video_decoder;
        let (long, short) = (width.max(height), width.min(height));
        let (max_long, max_short) = (
            decoder.max_width.max(decoder.max_height),
            decoder.max_width.min(decoder.max_height),
        );
        let problem = if !decoder.codecs.contains(&codec) {
            VideoProblem::Codec
        } else if long > max_long || short > max_short {
            VideoProblem::TooLarge
        } else {
            return None;
        };
        Some(VideoMismatch {
            problem,
            codec,
            width,
            height,
            decoder: decoder.clone(),
        })
    }
}

/// A bank branch or service hall.
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    /// Site id.
    pub id: String,
    /// Display name (Chinese welcome).
    pub name: String,
    /// Owning organisation.
    pub organisation: String,
    /// Time zone of the site.
    pub timezone: Tz,
    /// Opening hours: weekdays and daily ranges; empty means never open.
    pub opening_hours: Vec<(DaySet, Vec<TimeRange>)>,
    /// Where it was defined.
    pub location: Location,
}

/// One LED screen.
#[derive(Clone, Debug, PartialEq)]
pub struct Screen {
    /// Screen id (valid as a protocol screen id).
    pub id: protocol::ScreenId,
    /// Display name.
    pub name: String,
    /// Index into `sites`.
    pub site: usize,
    /// Index into `profiles`.
    pub profile: usize,
    /// Tags such as `bank-door`, `bank-counter`, `atm`, `hall`.
    pub tags: Vec<String>,
    /// Time zone (the screen's own, else its site's).
    pub timezone: Tz,
    /// This screen's own brightness schedule, overriding its profile's
    /// (see [`Model::brightness_of`]).
    pub brightness: Option<Brightness>,
    /// Where it was defined.
    pub location: Location,
}

/// An ordered list of items.
#[derive(Clone, Debug, PartialEq)]
pub struct Playlist {
    /// Playlist id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Items in play order.
    pub items: Vec<Item>,
    /// Where it was defined.
    pub location: Location,
}

/// One playlist item: a material or a query, with an optional duration and validity.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// What to play.
    pub source: ItemSource,
    /// Duration of stills and scrolls in seconds (default: still_seconds,
    /// a scroll's strip width ÷ speed); videos always play their own length.
    pub seconds: Option<u32>,
    /// Not before this instant (ms since epoch).
    pub valid_from: Option<i64>,
    /// Not from this instant on (ms since epoch).
    pub valid_until: Option<i64>,
    /// Where it was written.
    pub location: Location,
}

/// A material named by id, or a query over the catalog.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemSource {
    /// One material by id.
    Material(String),
    /// Every material matching the query (newest first when `newest` is set).
    Query(Query),
}

/// A query over approved, valid materials.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    /// The material must carry all these tags.
    pub tags: Vec<String>,
    /// The material must be in this category.
    pub category: Option<String>,
    /// The material must be of this kind.
    pub kind: Option<MaterialKind>,
    /// Keep only the N most recently added (after the profile filter).
    pub newest: Option<u32>,
    /// Only materials of this library edition (`edition = "current"`).
    pub edition: Option<EditionSelector>,
}

/// Which library edition an `edition = "…"` query selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditionSelector {
    /// The edition approved most recently (the catalog's current edition):
    /// when a new edition is approved, the next compile moves to it.
    Current,
}

/// Which screens something applies to: listed screens, plus screens that
/// match the tag and site filters (an empty filter matches any; at least
/// one of the three lists is non-empty).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Targets {
    /// Screen ids.
    pub screens: Vec<String>,
    /// The screen must carry at least one of these tags.
    pub tags: Vec<String>,
    /// The screen must be at one of these sites.
    pub sites: Vec<String>,
}

impl Targets {
    /// Whether `screen` (at site id `site_id`) is targeted.
    pub fn matches(&self, screen: &Screen, site_id: &str) -> bool {
        self.applies_to(screen.id.as_str(), &screen.tags, site_id)
    }

    /// Whether the screen `screen_id`, carrying `tags`, at site `site_id`
    /// is targeted: the one rule, also for stored screens (the server's
    /// compliance reads rules' targets against its screen rows).
    pub fn applies_to(&self, screen_id: &str, tags: &[String], site_id: &str) -> bool {
        if self.screens.iter().any(|s| s == screen_id) {
            return true;
        }
        if self.tags.is_empty() && self.sites.is_empty() {
            return false;
        }
        (self.tags.is_empty() || self.tags.iter().any(|t| tags.contains(t)))
            && (self.sites.is_empty() || self.sites.iter().any(|s| s == site_id))
    }
}

/// When a schedule is active.
#[derive(Clone, Debug, PartialEq)]
pub enum When {
    /// Weekdays × optional dates × optional daily hours, in the screen's local time.
    Calendar {
        /// Weekdays.
        days: DaySet,
        /// If non-empty, only these dates.
        dates: Vec<DateRange>,
        /// If non-empty, only these hours; else all day.
        hours: Vec<TimeRange>,
    },
    /// Starts at each cron occurrence (screen's local time) for a fixed duration.
    Cron {
        /// The parsed cron expression (seconds field first).
        schedule: Box<cron::Schedule>,
        /// How long each occurrence lasts.
        duration_seconds: u32,
    },
}

/// A schedule entry: playlist → targets × when × priority.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Schedule id.
    pub id: String,
    /// Index into `playlists`.
    pub playlist: usize,
    /// Target screens.
    pub targets: Targets,
    /// When.
    pub when: When,
    /// Higher wins; ties go to the schedule whose id sorts first.
    pub priority: i32,
    /// Where it was defined.
    pub location: Location,
}

/// A compliance obligation, enforced during the site's opening hours.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Rule id.
    pub id: String,
    /// Target screens.
    pub targets: Targets,
    /// Longest stretch without a warning on screen, in seconds.
    pub max_gap_seconds: Option<u32>,
    /// Smallest share of airtime that must be warnings (0 < share ≤ 1).
    pub min_warning_share: Option<f64>,
    /// Where it was defined.
    pub location: Location,
}

/// Urgent content that pre-empts everything on its targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Alert id.
    pub id: String,
    /// Index into `playlists` (an alert naming a material gets a one-item
    /// playlist of its own, appended to `playlists` with id `alert:<id>`).
    pub playlist: usize,
    /// Target screens.
    pub targets: Targets,
    /// Start (ms since epoch); `None` = already active.
    pub from: Option<i64>,
    /// End (ms since epoch, exclusive).
    pub until: i64,
    /// Where it was defined.
    pub location: Location,
}

impl Model {
    /// The screen with id `id`.
    pub fn screen(&self, id: &str) -> Option<&Screen> {
        self.screens
            .binary_search_by(|s| s.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.screens[i])
    }

    /// The brightness schedule `screen` follows: its own, else its
    /// profile's; `None` means full brightness around the clock.
    pub fn brightness_of<'a>(&'a self, screen: &'a Screen) -> Option<&'a Brightness> {
        screen
            .brightness
            .as_ref()
            .or_else(|| self.profiles.get(screen.profile)?.brightness.as_ref())
    }

    /// The index of the playlist with id `id`.
    pub fn playlist_index(&self, id: &str) -> Option<usize> {
        self.playlists.iter().position(|p| p.id == id)
    }
}
