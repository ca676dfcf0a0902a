//! The playlist language: TOML texts → validated [`Model`] + diagnostics.
//!
//! Input is `(file_name, text)` pairs, so the CLI (files under `playlists/`)
//! and the HTTP API (`POST /api/v1/apply`) feed the same function. Any file
//! may hold any section and reference ids from the others. Every problem is
//! reported at once with `file:line:column` and a hint; an entity with an
//! error is left out of the model. Materials are not checked here (the
//! catalog is a separate input): the compiler reports unknown materials.
//!
//! Schema (all tables `deny_unknown_fields`):
//! `[settings]`, `[[profiles]]`, `[[sites]]`, `[[screens]]`, `[[playlists]]`
//! (with `items`), `[[schedules]]`, `[[rules]]`, `[[alerts]]`; see
//! `playlists/README.md`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use ledcast_protocol::v1 as protocol;
use serde::Deserialize;
use toml::value::Datetime;
use toml::Spanned;

use crate::brightness::{Brightness, RawBrightness};
use crate::calendar_text::{
    parse_date_range, parse_days, parse_hours, parse_opening_entry, DateRangeError, DaysError,
    HoursError, OpeningError,
};
use crate::catalog::MaterialKind;
use crate::diagnostic::{
    closest, did_you_mean, suggestion_params, Diagnostic, LineIndex, Location,
};
use crate::model::{
    Alert, ColorClass, EditionSelector, Item, ItemSource, Model, Playlist, Profile, Query, Rule,
    Schedule, Screen, Settings, Site, Targets, VideoCodec, VideoDecoder, When,
    MAX_SCHEDULE_PRIORITY,
};

/// Default time zone when `[settings]` names none.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Shanghai;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    settings: Option<Spanned<RawSettings>>,
    #[serde(default)]
    profiles: Vec<Spanned<RawProfile>>,
    #[serde(default)]
    sites: Vec<Spanned<RawSite>>,
    #[serde(default)]
    screens: Vec<Spanned<RawScreen>>,
    #[serde(default)]
    playlists: Vec<Spanned<RawPlaylist>>,
    #[serde(default)]
    schedules: Vec<Spanned<RawSchedule>>,
    #[serde(default)]
    rules: Vec<Spanned<RawRule>>,
    #[serde(default)]
    alerts: Vec<Spanned<RawAlert>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    timezone: Option<Spanned<String>>,
    default_playlist: Option<Spanned<String>>,
    warning_playlist: Option<Spanned<String>>,
    still_seconds: Option<u32>,
    scroll_chars_per_second: Option<f64>,
    /// Replaced by `scroll_chars_per_second`; accepted with a warning.
    scroll_px_per_second: Option<u32>,
    /// Sample data only: the day the files were written as if it were
    /// today (see [`crate::sample_dates`]); the compiler ignores it.
    #[serde(rename = "sample_today")]
    _sample_today: Option<Datetime>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    id: Spanned<String>,
    width: u32,
    height: u32,
    color: ColorClass,
    #[serde(default)]
    video: bool,
    /// The player box's largest coded picture (default 1920×1080).
    video_max_width: Option<u32>,
    video_max_height: Option<u32>,
    /// Codecs the player box decodes (default `["h264"]`).
    video_codecs: Option<Vec<VideoCodec>>,
    #[serde(default)]
    scroll: bool,
    still: Option<bool>,
    scroll_chars_per_second: Option<f64>,
    /// Replaced by `scroll_chars_per_second`; accepted with a warning.
    scroll_px_per_second: Option<u32>,
    brightness: Option<Spanned<RawBrightness>>,
}

const PX_PER_SECOND_HINT: &str = "remove it and set scroll_chars_per_second (full-width characters per second, default 3); the pixel speed follows from the glyph size the panel's height gives";
const READING_SPEED_HINT: &str =
    "write a reading speed between 0.5 and 10 full-width characters per second (3 suits passers-by)";

/// Whether `cps` is a reading speed a person can follow at all.
fn reading_speed_ok(cps: f64) -> bool {
    cps.is_finite() && (0.5..=10.0).contains(&cps)
}

fn reading_speed_message(what: &str, cps: f64) -> String {
    format!("{what}: scroll_chars_per_second = {cps} is not a reading speed")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    id: Spanned<String>,
    name: Option<String>,
    organisation: Option<String>,
    timezone: Option<Spanned<String>>,
    opening_hours: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScreen {
    id: Spanned<String>,
    name: Option<String>,
    site: Option<Spanned<String>>,
    profile: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    brightness: Option<Spanned<RawBrightness>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaylist {
    id: Spanned<String>,
    name: Option<String>,
    #[serde(default)]
    items: Vec<Spanned<RawItem>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    material: Option<String>,
    tags: Option<Vec<String>>,
    category: Option<String>,
    kind: Option<MaterialKind>,
    newest: Option<u32>,
    edition: Option<String>,
    seconds: Option<u32>,
    valid_from: Option<Datetime>,
    valid_until: Option<Datetime>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    id: Spanned<String>,
    playlist: Spanned<String>,
    #[serde(default)]
    screens: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    #[serde(default)]
    sites: Vec<Spanned<String>>,
    days: Option<Spanned<String>>,
    hours: Option<Spanned<String>>,
    #[serde(default)]
    overnight: bool,
    #[serde(default)]
    dates: Vec<Spanned<String>>,
    cron: Option<Spanned<String>>,
    duration_seconds: Option<u32>,
    priority: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    #[serde(default)]
    screens: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    #[serde(default)]
    sites: Vec<Spanned<String>>,
    max_gap_seconds: Option<Spanned<u32>>,
    min_warning_share: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    id: Spanned<String>,
    playlist: Option<Spanned<String>>,
    material: Option<Spanned<String>>,
    #[serde(default)]
    screens: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    #[serde(default)]
    sites: Vec<Spanned<String>>,
    from: Option<Spanned<Datetime>>,
    until: Spanned<Datetime>,
}

/// The diagnostic for a TOML syntax or schema error, with a "did you mean"
/// hint for unknown fields.
pub(crate) fn toml_error_diagnostic(index: &LineIndex, error: &toml::de::Error) -> Diagnostic {
    let location = match error.span() {
        Some(span) => index.location(span.start),
        None => Location::file_only(index.file()),
    };
    let message = error.message().trim().to_owned();
    let mut hint = None;
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            hint = Some(match closest(field, candidates.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("remove `{field}`; {}", expected.trim_start_matches(", ")),
            });
        }
    } else if message.starts_with("missing field") {
        hint = Some("add the field; see playlists/README.md for the schema".to_owned());
    }
    Diagnostic::error(&location, message).with_optional_hint(hint)
}

/// Converts a TOML date-time to ms since the epoch: with an offset it is an
/// instant; a local date-time or a date (midnight) is read in `timezone`.
pub fn datetime_to_millis(value: &Datetime, timezone: Tz) -> Result<i64, String> {
    let Some(date) = value.date else {
        return Err("a time without a date is not an instant".to_owned());
    };
    let day = NaiveDate::from_ymd_opt(
        i32::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    )
    .ok_or_else(|| format!("`{value}` is not a calendar date"))?;
    let time = match value.time {
        Some(t) => NaiveTime::from_hms_nano_opt(
            u32::from(t.hour),
            u32::from(t.minute),
            u32::from(t.second),
            t.nanosecond,
        )
        .ok_or_else(|| format!("`{value}` is not a valid time"))?,
        None => NaiveTime::MIN,
    };
    let naive = NaiveDateTime::new(day, time);
    match value.offset {
        Some(toml::value::Offset::Z) => Ok(naive.and_utc().timestamp_millis()),
        Some(toml::value::Offset::Custom { minutes }) => {
            Ok(naive.and_utc().timestamp_millis() - i64::from(minutes) * 60_000)
        }
        None => Ok(crate::calendar::local_naive_to_utc(timezone, naive)),
    }
}

/// Parses a time zone name, with a "did you mean" hint.
fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        did_you_mean(
            "time zone",
            name,
            chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()),
        )
    })
}

/// The entity a message is about: written "schedule `id`" in the English
/// message, and given to its key as `owner_kind` and `owner`.
struct Owner {
    kind: &'static str,
    id: String,
}

impl Owner {
    fn new(kind: &'static str, id: &str) -> Owner {
        Owner {
            kind,
            id: id.to_owned(),
        }
    }

    /// The owner's key parameters followed by `more`.
    fn params(&self, more: impl IntoIterator<Item = (&'static str, String)>) -> KeyParams {
        let mut params = vec![
            ("owner_kind", self.kind.to_owned()),
            ("owner", self.id.clone()),
        ];
        params.extend(more);
        params
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.kind == "settings" {
            f.write_str("[settings]")
        } else {
            write!(f, "{} `{}`", self.kind, self.id)
        }
    }
}

/// A message key's values.
type KeyParams = Vec<(&'static str, String)>;

struct Ctx {
    indexes: Vec<LineIndex>,
    diagnostics: Vec<Diagnostic>,
    /// `(kind, id)` of entities defined but left out for an error of their
    /// own: a reference to one is not "unknown" (that error is already said).
    rejected: HashSet<(&'static str, String)>,
}

impl Ctx {
    fn loc<T>(&self, file: usize, spanned: &Spanned<T>) -> Location {
        self.indexes[file].location(spanned.span().start)
    }
    /// The location of byte `offset` inside the string `spanned`.
    fn loc_in(&self, file: usize, spanned: &Spanned<String>, offset: usize) -> Location {
        self.indexes[file].location_in_value(spanned.span(), spanned.get_ref(), offset)
    }
    fn reject(&mut self, kind: &'static str, id: &str) {
        self.rejected.insert((kind, id.to_owned()));
    }
    fn is_rejected(&self, kind: &'static str, id: &str) -> bool {
        self.rejected.contains(&(kind, id.to_owned()))
    }
    fn days_error(
        &mut self,
        file: usize,
        spanned: &Spanned<String>,
        (what, owner): (&str, &Owner),
        error: &DaysError,
    ) {
        let location = self.loc_in(file, spanned, error.offset);
        self.error(
            &location,
            format!("{what}: {}", error.message),
            Some(error.hint.clone()),
        )
        .set_key(
            error.key,
            owner.params([
                ("token", error.token.clone()),
                ("other", error.other.clone()),
            ]),
        );
    }
    fn error(
        &mut self,
        location: &Location,
        message: String,
        hint: Option<String>,
    ) -> &mut Diagnostic {
        self.push(Diagnostic::error(location, message).with_optional_hint(hint))
    }
    fn push(&mut self, diagnostic: Diagnostic) -> &mut Diagnostic {
        self.diagnostics.push(diagnostic);
        let last = self.diagnostics.len() - 1;
        &mut self.diagnostics[last]
    }
    /// Checks a `brightness = { … }` table; reports every problem and
    /// returns `Err(())` when there is one.
    fn brightness(
        &mut self,
        file: usize,
        raw: Option<&Spanned<RawBrightness>>,
        owner: &str,
    ) -> Result<Option<Brightness>, ()> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        match crate::brightness::read(raw, owner) {
            Ok(b) => Ok(Some(b)),
            Err(problems) => {
                for problem in problems {
                    let location = self.indexes[file].location(problem.span.start);
                    self.error(&location, problem.message, Some(problem.hint));
                }
                Err(())
            }
        }
    }
    fn warning(
        &mut self,
        location: &Location,
        message: String,
        hint: Option<String>,
    ) -> &mut Diagnostic {
        self.push(Diagnostic::warning(location, message).with_optional_hint(hint))
    }
}

/// Checks for duplicate ids; returns false (and reports) for the second one.
fn first_definition(
    ctx: &mut Ctx,
    seen: &mut HashMap<String, Location>,
    kind: &'static str,
    id: &str,
    location: &Location,
) -> bool {
    if let Some(first) = seen.get(id) {
        let first = first.clone();
        ctx.error(
            location,
            format!("{kind} `{id}` is defined twice"),
            Some(format!(
                "the first definition is at {first}; rename or remove one"
            )),
        )
        .set_key(
            "defined_twice",
            [
                ("kind", kind.to_owned()),
                ("id", id.to_owned()),
                ("first", first.to_string()),
            ],
        );
        return false;
    }
    seen.insert(id.to_owned(), location.clone());
    true
}

struct Names<'a> {
    screens: BTreeSet<&'a str>,
    sites: BTreeSet<&'a str>,
    tags: BTreeSet<&'a str>,
}

fn resolve_targets(
    ctx: &mut Ctx,
    file: usize,
    owner: &Owner,
    names: &Names<'_>,
    [screens, tags, sites]: [&[Spanned<String>]; 3],
    owner_location: &Location,
) -> Option<Targets> {
    let mut ok = true;
    for (kind, ids, known) in [
        ("screen", screens, &names.screens),
        ("site", sites, &names.sites),
    ] {
        for id in ids {
            let rejected = ctx.is_rejected(kind, id.get_ref());
            if !known.contains(id.get_ref().as_str()) && !rejected {
                let location = ctx.loc(file, id);
                ctx.error(
                    &location,
                    format!("{owner}: unknown {kind} `{}`", id.get_ref()),
                    Some(did_you_mean(kind, id.get_ref(), known.iter().copied())),
                )
                .set_key(
                    "unknown_target",
                    owner.params(
                        [("kind", kind.to_owned()), ("id", id.get_ref().clone())]
                            .into_iter()
                            .chain(suggestion_params(id.get_ref(), known.iter().copied())),
                    ),
                );
                ok = false;
            }
        }
    }
    for tag in tags {
        let channel = crate::channel::CHANNELS.contains(&tag.get_ref().as_str());
        if !channel && !names.tags.contains(tag.get_ref().as_str()) {
            let location = ctx.loc(file, tag);
            ctx.warning(
                &location,
                format!("{owner}: no screen carries tag `{}`", tag.get_ref()),
                Some(did_you_mean(
                    "tag",
                    tag.get_ref(),
                    names.tags.iter().copied(),
                )),
            )
            .set_key(
                "tag_on_no_screen",
                owner.params(
                    [("tag", tag.get_ref().clone())]
                        .into_iter()
                        .chain(suggestion_params(tag.get_ref(), names.tags.iter().copied())),
                ),
            );
        }
    }
    if screens.is_empty() && tags.is_empty() && sites.is_empty() {
        ctx.error(
            owner_location,
            format!("{owner} targets no screen"),
            Some("add screens = [...], tags = [...] or sites = [...]".to_owned()),
        )
        .set_key("targets_nothing", owner.params([]));
        ok = false;
    }
    ok.then(|| Targets {
        screens: screens.iter().map(|s| s.get_ref().clone()).collect(),
        tags: tags.iter().map(|s| s.get_ref().clone()).collect(),
        sites: sites.iter().map(|s| s.get_ref().clone()).collect(),
    })
}

fn resolve_playlist(
    ctx: &mut Ctx,
    file: usize,
    owner: &Owner,
    playlists: &[Playlist],
    wanted: &Spanned<String>,
) -> Option<usize> {
    let found = playlists.iter().position(|p| &p.id == wanted.get_ref());
    if found.is_none() && !ctx.is_rejected("playlist", wanted.get_ref()) {
        let location = ctx.loc(file, wanted);
        ctx.error(
            &location,
            format!("{owner}: unknown playlist `{}`", wanted.get_ref()),
            Some(did_you_mean(
                "playlist",
                wanted.get_ref(),
                playlists.iter().map(|p| p.id.as_str()),
            )),
        )
        .set_key(
            "unknown_playlist",
            owner.params(
                [("id", wanted.get_ref().clone())]
                    .into_iter()
                    .chain(suggestion_params(
                        wanted.get_ref(),
                        playlists.iter().map(|p| p.id.as_str()),
                    )),
            ),
        );
    }
    found
}

/// Parses and validates all playlist files at once. Reports every problem
/// found; entities with errors are left out of the model.
pub fn parse(files: &[(&str, &str)]) -> (Model, Vec<Diagnostic>) {
    let mut ctx = Ctx {
        indexes: files
            .iter()
            .map(|(name, text)| LineIndex::new(name, text))
            .collect(),
        diagnostics: Vec::new(),
        rejected: HashSet::new(),
    };
    let mut raws: Vec<RawFile> = Vec::new();
    for (file, (_, text)) in files.iter().enumerate() {
        match toml::from_str::<RawFile>(text) {
            Ok(raw) => raws.push(raw),
            Err(error) => {
                let diagnostic = toml_error_diagnostic(&ctx.indexes[file], &error);
                ctx.diagnostics.push(diagnostic);
                raws.push(RawFile::default());
            }
        }
    }

    // [settings]
    let mut settings_raw: Option<(usize, Spanned<RawSettings>)> = None;
    for (file, raw) in raws.iter_mut().enumerate() {
        if let Some(s) = raw.settings.take() {
            if let Some((first_file, first)) = &settings_raw {
                let first_location = ctx.loc(*first_file, first);
                let location = ctx.loc(file, &s);
                ctx.error(
                    &location,
                    "[settings] is given twice".to_owned(),
                    Some(format!("keep the one at {first_location}")),
                );
            } else {
                settings_raw = Some((file, s));
            }
        }
    }
    let mut timezone = DEFAULT_TIMEZONE;
    let mut settings_location = Location::file_only(files.first().map_or("", |f| f.0));
    if let Some((file, s)) = &settings_raw {
        settings_location = ctx.loc(*file, s);
        if let Some(tz) = &s.get_ref().timezone {
            match parse_timezone(tz.get_ref()) {
                Ok(t) => timezone = t,
                Err(hint) => {
                    let location = ctx.loc(*file, tz);
                    ctx.error(
                        &location,
                        format!("unknown time zone `{}`", tz.get_ref()),
                        Some(hint),
                    );
                }
            }
        }
    }
    let still_seconds = settings_raw
        .as_ref()
        .and_then(|(_, s)| s.get_ref().still_seconds)
        .unwrap_or(10)
        .max(1);
    let settings_speed = settings_raw
        .as_ref()
        .and_then(|(_, s)| s.get_ref().scroll_chars_per_second);
    let scroll_chars_per_second = match settings_speed {
        Some(cps) if !reading_speed_ok(cps) => {
            ctx.error(
                &settings_location,
                reading_speed_message("[settings]", cps),
                Some(READING_SPEED_HINT.into()),
            );
            ledcast_protocol::v1::scroll::DEFAULT_CHARS_PER_SECOND
        }
        Some(cps) => cps,
        None => ledcast_protocol::v1::scroll::DEFAULT_CHARS_PER_SECOND,
    };
    if settings_raw
        .as_ref()
        .is_some_and(|(_, s)| s.get_ref().scroll_px_per_second.is_some())
    {
        ctx.warning(
            &settings_location,
            "[settings] scroll_px_per_second is no longer used: text scrolls at a reading speed"
                .into(),
            Some(PX_PER_SECOND_HINT.into()),
        );
    }

    // profiles
    let mut seen = HashMap::new();
    let mut profiles: Vec<Profile> = Vec::new();
    for (file, raw) in raws.iter().enumerate() {
        for p in &raw.profiles {
            let location = ctx.loc(file, p);
            let p = p.get_ref();
            let id = p.id.get_ref();
            if !first_definition(&mut ctx, &mut seen, "profile", id, &location) {
                continue;
            }
            if p.width == 0 || p.height == 0 {
                ctx.error(
                    &location,
                    format!("profile `{id}` has a zero size"),
                    Some("give width and height in native pixels, e.g. 352 and 80".into()),
                );
                ctx.reject("profile", id);
                continue;
            }
            if p.scroll_px_per_second.is_some() {
                ctx.warning(
                    &location,
                    format!("profile `{id}`: scroll_px_per_second is no longer used: text scrolls at a reading speed"),
                    Some(PX_PER_SECOND_HINT.into()),
                );
            }
            if let Some(cps) = p.scroll_chars_per_second.filter(|c| !reading_speed_ok(*c)) {
                ctx.error(
                    &location,
                    reading_speed_message(&format!("profile `{id}`"), cps),
                    Some(READING_SPEED_HINT.into()),
                );
                ctx.reject("profile", id);
                continue;
            }
            let Ok(brightness) =
                ctx.brightness(file, p.brightness.as_ref(), &format!("profile `{id}`"))
            else {
                ctx.reject("profile", id);
                continue;
            };
            let default_decoder = VideoDecoder::default();
            let video_decoder = VideoDecoder {
                max_width: p.video_max_width.unwrap_or(default_decoder.max_width),
                max_height: p.video_max_height.unwrap_or(default_decoder.max_height),
                codecs: p.video_codecs.clone().unwrap_or(default_decoder.codecs),
            };
            if video_decoder.max_width == 0 || video_decoder.max_height == 0 {
                ctx.error(
                    &location,
                    format!("profile `{id}`: video_max_width and video_max_height must not be 0"),
                    Some(
                        "give the largest video the player box decodes, e.g. 1920 and 1080".into(),
                    ),
                );
                ctx.reject("profile", id);
                continue;
            }
            if p.video && video_decoder.codecs.is_empty() {
                ctx.error(
                    &location,
                    format!("profile `{id}`: video_codecs is empty"),
                    Some(
                        "name what the player box decodes, e.g. [\"h264\"], or set video = false"
                            .into(),
                    ),
                );
                ctx.reject("profile", id);
                continue;
            }
            let decoder_written = p.video_max_width.is_some()
                || p.video_max_height.is_some()
                || p.video_codecs.is_some();
            if !p.video && decoder_written {
                ctx.warning(
                    &location,
                    format!("profile `{id}`: video_max_width, video_max_height and video_codecs have no effect without video = true"),
                    Some("remove them, or set video = true if its player box plays video".into()),
                );
            }
            profiles.push(Profile {
                id: id.clone(),
                width: p.width,
                height: p.height,
                color: p.color,
                video: p.video,
                video_decoder,
                scroll: p.scroll,
                still: p.still.unwrap_or(true),
                scroll_chars_per_second: p
                    .scroll_chars_per_second
                    .unwrap_or(scroll_chars_per_second),
                brightness,
                location,
            });
        }
    }

    // sites
    let mut seen = HashMap::new();
    let mut sites: Vec<Site> = Vec::new();
    for (file, raw) in raws.iter().enumerate() {
        for s in &raw.sites {
            let location = ctx.loc(file, s);
            let s = s.get_ref();
            let id = s.id.get_ref();
            if !first_definition(&mut ctx, &mut seen, "site", id, &location) {
                continue;
            }
            let mut ok = true;
            let site_tz = match &s.timezone {
                None => timezone,
                Some(tz) => match parse_timezone(tz.get_ref()) {
                    Ok(t) => t,
                    Err(hint) => {
                        let l = ctx.loc(file, tz);
                        ctx.error(
                            &l,
                            format!("site `{id}`: unknown time zone `{}`", tz.get_ref()),
                            Some(hint),
                        );
                        ok = false;
                        timezone
                    }
                },
            };
            let mut opening_hours = Vec::new();
            let empty = BTreeMap::new();
            for (days, hours) in s.opening_hours.as_ref().map_or(&empty, |h| h.get_ref()) {
                match parse_opening_entry(days.get_ref(), hours.get_ref()) {
                    Ok(Some(entry)) => opening_hours.push(entry),
                    Ok(None) => {}
                    Err(OpeningError::Days(error)) => {
                        let what = format!("site `{id}`: opening_hours key \"{}\"", days.get_ref());
                        ctx.days_error(file, days, (&what, &Owner::new("site", id)), &error);
                        ok = false;
                    }
                    Err(OpeningError::Hours(error)) => {
                        let (message, hint) = hours_problem(&error);
                        let l = ctx.loc(file, hours);
                        ctx.error(
                            &l,
                            format!(
                                "site `{id}`: opening_hours.\"{}\": {message}",
                                days.get_ref()
                            ),
                            Some(format!("{hint}, or \"closed\"")),
                        );
                        ok = false;
                    }
                }
            }
            if ok {
                sites.push(Site {
                    id: id.clone(),
                    name: s.name.clone().unwrap_or_else(|| id.clone()),
                    organisation: s.organisation.clone().unwrap_or_default(),
                    timezone: site_tz,
                    opening_hours,
                    location,
                });
            } else {
                ctx.reject("site", id);
            }
        }
    }

    // screens
    let mut seen = HashMap::new();
    let mut screens: Vec<Screen> = Vec::new();
    for (file, raw) in raws.iter().enumerate() {
        for s in &raw.screens {
            let location = ctx.loc(file, s);
            let s = s.get_ref();
            let id = s.id.get_ref();
            if !first_definition(&mut ctx, &mut seen, "screen", id, &location) {
                continue;
            }
            let screen_id = match protocol::ScreenId::new(id) {
                Ok(sid) => Some(sid),
                Err(error) => {
                    let l = ctx.loc(file, &s.id);
                    ctx.error(&l, format!("screen id `{id}` is not usable: {error}"), None);
                    None
                }
            };
            let site = match &s.site {
                None => {
                    ctx.error(
                        &location,
                        format!("screen `{id}` has no site"),
                        Some(
                            did_you_mean("site", "", sites.iter().map(|x| x.id.as_str()))
                                .replace("known sites", "add site = one of"),
                        ),
                    );
                    None
                }
                Some(wanted) => {
                    let found = sites.iter().position(|x| &x.id == wanted.get_ref());
                    if found.is_none() && !ctx.is_rejected("site", wanted.get_ref()) {
                        let l = ctx.loc(file, wanted);
                        ctx.error(
                            &l,
                            format!("screen `{id}`: unknown site `{}`", wanted.get_ref()),
                            Some(did_you_mean(
                                "site",
                                wanted.get_ref(),
                                sites.iter().map(|x| x.id.as_str()),
                            )),
                        );
                    }
                    found
                }
            };
            let profile = match &s.profile {
                None => {
                    ctx.error(
                        &location,
                        format!("screen `{id}` has no profile"),
                        Some(format!(
                            "add profile = \"…\"; {}",
                            did_you_mean(
                                "profile",
                                "\u{0}",
                                profiles.iter().map(|x| x.id.as_str())
                            )
                        )),
                    );
                    None
                }
                Some(wanted) => {
                    let found = profiles.iter().position(|x| &x.id == wanted.get_ref());
                    if found.is_none() && !ctx.is_rejected("profile", wanted.get_ref()) {
                        let l = ctx.loc(file, wanted);
                        ctx.error(
                            &l,
                            format!("screen `{id}`: unknown profile `{}`", wanted.get_ref()),
                            Some(did_you_mean(
                                "profile",
                                wanted.get_ref(),
                                profiles.iter().map(|x| x.id.as_str()),
                            )),
                        );
                    }
                    found
                }
            };
            let screen_tz = match (&s.timezone, site) {
                (Some(tz), _) => match parse_timezone(tz.get_ref()) {
                    Ok(t) => Some(t),
                    Err(hint) => {
                        let l = ctx.loc(file, tz);
                        ctx.error(
                            &l,
                            format!("screen `{id}`: unknown time zone `{}`", tz.get_ref()),
                            Some(hint),
                        );
                        None
                    }
                },
                (None, Some(site)) => Some(sites[site].timezone),
                (None, None) => Some(timezone),
            };
            let brightness = ctx.brightness(file, s.brightness.as_ref(), &format!("screen `{id}`"));
            if let (Some(screen_id), Some(site), Some(profile), Some(tz), Ok(brightness)) =
                (screen_id, site, profile, screen_tz, brightness)
            {
                let mut tags: Vec<String> = s.tags.iter().map(|t| t.get_ref().clone()).collect();
                tags.sort();
                tags.dedup();
                screens.push(Screen {
                    id: screen_id,
                    name: s.name.clone().unwrap_or_else(|| id.clone()),
                    site,
                    profile,
                    tags,
                    timezone: tz,
                    brightness,
                    location,
                });
            } else {
                ctx.reject("screen", id);
            }
        }
    }
    screens.sort_by(|a, b| a.id.cmp(&b.id));

    // playlists
    let mut seen = HashMap::new();
    let mut playlists: Vec<Playlist> = Vec::new();
    for (file, raw) in raws.iter().enumerate() {
        for p in &raw.playlists {
            let location = ctx.loc(file, p);
            let p = p.get_ref();
            let id = p.id.get_ref();
            if !first_definition(&mut ctx, &mut seen, "playlist", id, &location) {
                continue;
            }
            let owner = Owner::new("playlist", id);
            let mut items = Vec::new();
            let mut ok = true;
            for item in &p.items {
                let item_location = ctx.loc(file, item);
                let item = item.get_ref();
                let is_query = item.tags.is_some()
                    || item.category.is_some()
                    || item.kind.is_some()
                    || item.newest.is_some()
                    || item.edition.is_some();
                let edition = match item.edition.as_deref() {
                    None => None,
                    Some("current") => Some(EditionSelector::Current),
                    Some(other) => {
                        ctx.error(
                            &item_location,
                            format!("playlist `{id}`: edition = {other:?}: only \"current\" is supported"),
                            Some(format!(
                                "write edition = \"current\" (the edition approved most recently; screens move to a new one when it is approved); to keep one edition's materials use tags = [\"edition:{other}\"]"
                            )),
                        )
                        .set_key("item_edition_unsupported", owner.params([("edition", other.to_owned())]));
                        ok = false;
                        continue;
                    }
                };
                if edition.is_some() && item.material.is_some() {
                    ctx.error(
                        &item_location,
                        format!("playlist `{id}`: an item names a material and an edition"),
                        Some("edition = \"current\" is a query: drop material = \"…\", or drop edition and name the material alone".into()),
                    )
                    .set_key("item_material_and_edition", owner.params([]));
                    ok = false;
                    continue;
                }
                let source = match (&item.material, is_query) {
                    (Some(m), false) => ItemSource::Material(m.clone()),
                    (None, true) => ItemSource::Query(Query {
                        tags: item.tags.clone().unwrap_or_default(),
                        category: item.category.clone(),
                        kind: item.kind,
                        newest: item.newest,
                        edition,
                    }),
                    (Some(_), true) => {
                        ctx.error(
                            &item_location,
                            format!("playlist `{id}`: an item names a material and a query"),
                            Some(
                                "use either material = \"…\" or tags/category/kind/newest/edition"
                                    .into(),
                            ),
                        )
                        .set_key("item_material_and_query", owner.params([]));
                        ok = false;
                        continue;
                    }
                    (None, false) => {
                        ctx.error(&item_location, format!("playlist `{id}`: an item names nothing to play"), Some("add material = \"…\" or a query such as tags = [\"county-pack\"], newest = 5".into()))
                            .set_key("item_nothing", owner.params([]));
                        ok = false;
                        continue;
                    }
                };
                if item.newest == Some(0) || item.seconds == Some(0) {
                    ctx.error(
                        &item_location,
                        format!("playlist `{id}`: zero in newest/seconds"),
                        Some("use a positive number".into()),
                    )
                    .set_key("item_zero", owner.params([]));
                    ok = false;
                    continue;
                }
                let mut instant = |value: &Option<Datetime>, field: &str| -> Option<i64> {
                    value
                        .as_ref()
                        .and_then(|v| match datetime_to_millis(v, timezone) {
                            Ok(ms) => Some(ms),
                            Err(message) => {
                                ctx.error(
                                    &item_location,
                                    format!("playlist `{id}`: {field}: {message}"),
                                    None,
                                )
                                .set_key(
                                    "bad_instant",
                                    owner.params([("field", field.to_owned()), ("why", message)]),
                                );
                                ok = false;
                                None
                            }
                        })
                };
                let valid_from = instant(&item.valid_from, "valid_from");
                let valid_until = instant(&item.valid_until, "valid_until");
                if let (Some(f), Some(u)) = (valid_from, valid_until) {
                    if u <= f {
                        ctx.error(
                            &item_location,
                            format!("playlist `{id}`: an item expires before it becomes valid"),
                            None,
                        )
                        .set_key("item_expires_before_valid", owner.params([]));
                        ok = false;
                    }
                }
                items.push(Item {
                    source,
                    seconds: item.seconds,
                    valid_from,
                    valid_until,
                    location: item_location,
                });
            }
            if p.items.is_empty() {
                ctx.error(
                    &location,
                    format!("playlist `{id}` has no items"),
                    Some("add items = [{ material = \"…\" }]".into()),
                )
                .set_key("playlist_no_items", owner.params([]));
                ok = false;
            }
            if ok {
                playlists.push(Playlist {
                    id: id.clone(),
                    name: p.name.clone().unwrap_or_else(|| id.clone()),
                    items,
                    location,
                });
            } else {
                ctx.reject("playlist", id);
            }
        }
    }

    let names = Names {
        screens: screens.iter().map(|s| s.id.as_str()).collect(),
        sites: sites.iter().map(|s| s.id.as_str()).collect(),
        tags: screens
            .iter()
            .flat_map(|s| s.tags.iter().map(String::as_str))
            .collect(),
    };

    // schedules
    let mut seen = HashMap::new();
    let mut schedules: Vec<Schedule> = Vec::new();
    for (file, raw) in raws.iter().enumerate() {
        for s in &raw.schedules {
            let location = ctx.loc(file, s);
            let s = s.get_ref();
            let id = s.id.get_ref();
            if !first_definition(&mut ctx, &mut seen, "schedule", id, &location) {
                continue;
            }
            let owner = Owner::new("schedule", id);
            let playlist = resolve_playlist(&mut ctx, file, &owner, &playlists, &s.playlist);
            let targets = resolve_targets(
                &mut ctx,
                file,
                &owner,
                &names,
                [&s.screens, &s.tags, &s.sites],
                &location,
            );
            let when = schedule_when(&mut ctx, file, &owner, s, &location);
            let priority = s.priority.as_ref().map_or(0, |p| *p.get_ref());
            let priority_ok = priority.abs() <= i64::from(MAX_SCHEDULE_PRIORITY);
            if let (false, Some(p)) = (priority_ok, &s.priority) {
                let l = ctx.loc(file, p);
                ctx.error(&l, format!("{owner}: priority {priority} is out of range"), Some(format!("use -{MAX_SCHEDULE_PRIORITY}..={MAX_SCHEDULE_PRIORITY}; alerts already beat every schedule")))
                    .set_key(
                        "priority_out_of_range",
                        owner.params([
                            ("priority", priority.to_string()),
                            ("max", MAX_SCHEDULE_PRIORITY.to_string()),
                        ]),
                    );
            }
            if let (Some(playlist), Some(targets), Some(when), true) =
                (playlist, targets, when, priority_ok)
            {
                schedules.push(Schedule {
                    id: id.clone(),
                    playlist,
                    targets,
                    when,
                    priority: priority as i32,
                    location,
                });
            }
        }
    }
    schedules.sort_by(|a, b| a.id.cmp(&b.id));

    // rules
    let mut seen = HashMap::new();
    let mut rules: Vec<Rule> = Vec::new();
    for (file, raw) in raws.iter().enumerate() {
        for r in &raw.rules {
            let location = ctx.loc(file, r);
            let r = r.get_ref();
            let id = r.id.get_ref();
            if !first_definition(&mut ctx, &mut seen, "rule", id, &location) {
                continue;
            }
            let owner = Owner::new("rule", id);
            let targets = resolve_targets(
                &mut ctx,
                file,
                &owner,
                &names,
                [&r.screens, &r.tags, &r.sites],
                &location,
            );
            let mut ok = true;
            if r.max_gap_seconds.is_none() && r.min_warning_share.is_none() {
                ctx.error(
                    &location,
                    format!("{owner} asks for nothing"),
                    Some("add max_gap_seconds and/or min_warning_share".into()),
                )
                .set_key("rule_asks_nothing", owner.params([]));
                ok = false;
            }
            if let Some(gap) = &r.max_gap_seconds {
                if *gap.get_ref() == 0 {
                    let l = ctx.loc(file, gap);
                    ctx.error(
                        &l,
                        format!("{owner}: max_gap_seconds = 0 can never hold"),
                        Some("a screen needs some time between warnings; use e.g. 120".into()),
                    )
                    .set_key("rule_zero_gap", owner.params([]));
                    ok = false;
                }
            }
            if let Some(share) = &r.min_warning_share {
                let v = *share.get_ref();
                if !(v > 0.0 && v <= 1.0) {
                    let l = ctx.loc(file, share);
                    ctx.error(
                        &l,
                        format!("{owner}: min_warning_share = {v} is not a share"),
                        Some("use a number in (0, 1], e.g. 0.3 for 30 % of airtime".into()),
                    )
                    .set_key("rule_not_a_share", owner.params([("value", v.to_string())]));
                    ok = false;
                }
            }
            if let (Some(targets), true) = (targets, ok) {
                rules.push(Rule {
                    id: id.clone(),
                    targets,
                    max_gap_seconds: r.max_gap_seconds.as_ref().map(|g| *g.get_ref()),
                    min_warning_share: r.min_warning_share.as_ref().map(|s| *s.get_ref()),
                    location,
                });
            }
        }
    }

    // alerts
    let mut seen = HashMap::new();
    let mut alerts: Vec<Alert> = Vec::new();
    for (file, raw) in raws.iter().enumerate() {
        for a in &raw.alerts {
            let location = ctx.loc(file, a);
            let a = a.get_ref();
            let id = a.id.get_ref();
            if !first_definition(&mut ctx, &mut seen, "alert", id, &location) {
                continue;
            }
            let owner = Owner::new("alert", id);
            let targets = resolve_targets(
                &mut ctx,
                file,
                &owner,
                &names,
                [&a.screens, &a.tags, &a.sites],
                &location,
            );
            let playlist = match (&a.playlist, &a.material) {
                (Some(p), None) => resolve_playlist(&mut ctx, file, &owner, &playlists, p),
                (None, Some(m)) => {
                    playlists.push(Playlist {
                        id: format!("alert:{id}"),
                        name: format!("alert {id}"),
                        items: vec![Item {
                            source: ItemSource::Material(m.get_ref().clone()),
                            seconds: None,
                            valid_from: None,
                            valid_until: None,
                            location: ctx.loc(file, m),
                        }],
                        location: location.clone(),
                    });
                    Some(playlists.len() - 1)
                }
                _ => {
                    ctx.error(
                        &location,
                        format!("{owner} needs exactly one of playlist or material"),
                        Some("e.g. material = \"text-urgent\"".into()),
                    )
                    .set_key("alert_playlist_or_material", owner.params([]));
                    None
                }
            };
            let from =
                a.from
                    .as_ref()
                    .and_then(|f| match datetime_to_millis(f.get_ref(), timezone) {
                        Ok(ms) => Some(Some(ms)),
                        Err(message) => {
                            let l = ctx.loc(file, f);
                            ctx.error(&l, format!("{owner}: from: {message}"), None)
                                .set_key(
                                    "bad_instant",
                                    owner.params([("field", "from".to_owned()), ("why", message)]),
                                );
                            None
                        }
                    });
            let from = if a.from.is_some() { from } else { Some(None) };
            let until = match datetime_to_millis(a.until.get_ref(), timezone) {
                Ok(ms) => Some(ms),
                Err(message) => {
                    let l = ctx.loc(file, &a.until);
                    ctx.error(&l, format!("{owner}: until: {message}"), None)
                        .set_key(
                            "bad_instant",
                            owner.params([("field", "until".to_owned()), ("why", message)]),
                        );
                    None
                }
            };
            if let (Some(Some(f)), Some(u)) = (from, until) {
                if u <= f {
                    let l = ctx.loc(file, &a.until);
                    ctx.error(&l, format!("{owner} ends before it starts"), None)
                        .set_key("alert_ends_before_start", owner.params([]));
                    continue;
                }
            }
            if let (Some(targets), Some(playlist), Some(from), Some(until)) =
                (targets, playlist, from, until)
            {
                alerts.push(Alert {
                    id: id.clone(),
                    playlist,
                    targets,
                    from,
                    until,
                    location,
                });
            }
        }
    }
    alerts.sort_by(|a, b| a.id.cmp(&b.id));

    // settings references
    let settings_playlist = |ctx: &mut Ctx,
                             field: Option<&Spanned<String>>,
                             file: usize|
     -> Option<usize> {
        field.and_then(|p| resolve_playlist(ctx, file, &Owner::new("settings", ""), &playlists, p))
    };
    let (default_playlist, warning_playlist) = match &settings_raw {
        Some((file, s)) => (
            settings_playlist(&mut ctx, s.get_ref().default_playlist.as_ref(), *file),
            settings_playlist(&mut ctx, s.get_ref().warning_playlist.as_ref(), *file),
        ),
        None => (None, None),
    };
    let warning_named = settings_raw
        .as_ref()
        .is_some_and(|(_, s)| s.get_ref().warning_playlist.is_some());
    if !rules.is_empty() && !warning_named {
        let location = rules[0].location.clone();
        ctx.error(
            &location,
            "rules need a warning playlist to interleave, and none is set".to_owned(),
            Some("add warning_playlist = \"…\" under [settings]".into()),
        )
        .set_key("rules_need_warning_playlist", KeyParams::new());
    }
    if settings_raw
        .as_ref()
        .is_none_or(|(_, s)| s.get_ref().default_playlist.is_none())
    {
        ctx.warning(
            &settings_location,
            "no default_playlist: screens show the fallback outside schedules".to_owned(),
            Some("add default_playlist = \"…\" under [settings]".into()),
        )
        .set_key("no_default_playlist", KeyParams::new());
    }

    let model = Model {
        settings: Settings {
            timezone,
            default_playlist,
            warning_playlist,
            still_seconds,
            scroll_chars_per_second,
            location: settings_location,
        },
        profiles,
        sites,
        screens,
        playlists,
        schedules,
        rules,
        alerts,
    };
    let mut diagnostics = ctx.diagnostics;
    diagnostics.sort_by(|a, b| {
        a.location
            .cmp(&b.location)
            .then_with(|| a.message.cmp(&b.message))
    });
    (model, diagnostics)
}

/// The message key and values of an hours error.
fn hours_key(error: &HoursError) -> (&'static str, KeyParams) {
    match error {
        HoursError::NotARange { part } => ("hours_not_a_range", vec![("value", part.clone())]),
        HoursError::NotATime { value, example } => (
            "hours_not_a_time",
            vec![("value", value.clone()), ("example", (*example).to_owned())],
        ),
        HoursError::CrossesMidnight { range } => {
            ("hours_cross_midnight", vec![("value", range.clone())])
        }
        HoursError::Empty(range) => ("hours_empty", vec![("value", range.clone())]),
    }
}

fn hours_problem(error: &HoursError) -> (String, String) {
    match error {
        HoursError::NotARange { .. } | HoursError::NotATime { .. } => (
            error.to_string(),
            "write hours like \"08:30-17:30\" (several: \"08:30-12:00, 13:30-17:30\")".to_owned(),
        ),
        HoursError::CrossesMidnight { range } => (
            format!("hours = \"{range}\" crosses midnight"),
            "say overnight = true if it really runs past midnight, or swap the times".to_owned(),
        ),
        HoursError::Empty(range) => (
            format!("hours `{range}` are empty"),
            "start and end must differ".to_owned(),
        ),
    }
}

fn schedule_when(
    ctx: &mut Ctx,
    file: usize,
    owner: &Owner,
    s: &RawSchedule,
    location: &Location,
) -> Option<When> {
    if let Some(cron_text) = &s.cron {
        if s.days.is_some() || s.hours.is_some() {
            ctx.error(
                location,
                format!("{owner} has both cron and days/hours"),
                Some("use either cron + duration_seconds, or days/hours/dates".into()),
            )
            .set_key("cron_and_days", owner.params([]));
            return None;
        }
        let expression = cron_text.get_ref();
        let parsed = match crate::cron_text::parse_cron(expression) {
            Ok(spec) => Some(spec),
            Err(errors) => {
                for error in errors {
                    let l = ctx.loc_in(file, cron_text, error.offset);
                    ctx.error(
                        &l,
                        format!("{owner}: cron `{expression}`: {}", error.message),
                        Some(error.hint),
                    )
                    .set_key(
                        "cron_invalid",
                        owner.params([("expression", expression.clone()), ("why", error.message)]),
                    );
                }
                None
            }
        };
        if let Some([by_date, by_weekday]) =
            parsed.as_ref().and_then(|spec| spec.either_day.clone())
        {
            let l = ctx.loc(file, cron_text);
            ctx.diagnostics.push(
                Diagnostic::info(
                    &l,
                    format!("{owner}: cron `{expression}` starts only on days that match both day-of-month and day-of-week"),
                )
                .with_hint(format!("that is how ledcast reads it (`0 0 12 13 * Fri *` is Friday the 13th only); Unix cron would start on either day: for that, write two schedules, `{by_date}` and `{by_weekday}`"))
                .with_key("cron_both_days", owner.params([("expression", expression.clone())])),
            );
        }
        let duration = s.duration_seconds.filter(|d| *d > 0);
        return match (parsed, duration) {
            (Some(spec), Some(duration_seconds)) if s.dates.is_empty() => Some(When::Cron {
                schedule: Box::new(spec.schedule),
                duration_seconds,
            }),
            (Some(_), Some(_)) => {
                ctx.error(
                    location,
                    format!("{owner}: dates do not combine with cron"),
                    Some("put the dates into the cron expression's day and month fields".into()),
                )
                .set_key("cron_with_dates", owner.params([]));
                None
            }
            (Some(_), None) => {
                ctx.error(
                    location,
                    format!("{owner}: cron needs duration_seconds"),
                    Some("add duration_seconds = 1800 (how long each start lasts)".into()),
                )
                .set_key("cron_needs_duration", owner.params([]));
                None
            }
            (None, _) => None,
        };
    }
    let mut ok = true;
    let days = match &s.days {
        None => crate::calendar::DaySet::ALL,
        Some(d) => match parse_days(d.get_ref()) {
            Ok(set) => set,
            Err(error) => {
                ctx.days_error(file, d, (&format!("{owner}: days"), owner), &error);
                ok = false;
                crate::calendar::DaySet::ALL
            }
        },
    };
    let hours = match &s.hours {
        None => Vec::new(),
        Some(h) => match parse_hours(h.get_ref(), s.overnight) {
            Ok(r) => r,
            Err(error) => {
                let l = ctx.loc(file, h);
                let (message, hint) = hours_problem(&error);
                let (key, params) = hours_key(&error);
                ctx.error(&l, format!("{owner}: {message}"), Some(hint))
                    .set_key(key, owner.params(params));
                ok = false;
                Vec::new()
            }
        },
    };
    let mut dates = Vec::new();
    for d in &s.dates {
        match parse_date_range(d.get_ref()) {
            Ok(r) => dates.push(r),
            Err(error) => {
                let l = ctx.loc(file, d);
                let (key, value) = match &error {
                    DateRangeError::NotADate { value } => ("dates_not_a_date", value),
                    DateRangeError::Backwards { range } => ("dates_backwards", range),
                };
                ctx.error(
                    &l,
                    format!("{owner}: dates: {error}"),
                    Some("e.g. dates = [\"2026-12-01\", \"2026-12-24..2026-12-26\"]".into()),
                )
                .set_key(key, owner.params([("value", value.clone())]));
                ok = false;
            }
        }
    }
    if s.duration_seconds.is_some() {
        ctx.error(
            location,
            format!("{owner}: duration_seconds only applies to cron"),
            Some("use hours = \"HH:MM-HH:MM\" for a daily window".into()),
        )
        .set_key("duration_only_cron", owner.params([]));
        ok = false;
    }
    ok.then_some(When::Calendar { days, dates, hours })
}
