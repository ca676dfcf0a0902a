//! `ledcast-server preview --screen ID --day 2026-12-08 --out sheet.png`: a
//! screen's day as one picture. The site's files are compiled and played
//! on the glass ([`crate::glass`]: the agent's own player and display code)
//! and the panel is photographed every few minutes; each row of the sheet
//! is one hour. Video slots show what a controller without a video player
//! shows (the fallback), and a dark frame gets a grey frame around it so
//! it cannot hide.
//!
//! Reads files, writes nothing itself (the caller saves the PNG).

use std::path::PathBuf;

use anyhow::Context;
use chrono::TimeZone;
use image::{imageops, Rgb, RgbImage};
use ledcast_agent::display::render::text_frame;
use ledcast_protocol::v1 as protocol;

use crate::glass::{self, GlassScreen};
use crate::site_files::SiteFiles;

/// Arguments of `ledcast-server preview`.
#[derive(Debug, Clone, clap::Args)]
pub struct PreviewArgs {
    /// The screen to photograph.
    #[arg(long)]
    pub screen: String,
    /// The day, in the screen's time zone (e.g. 2026-12-08).
    #[arg(long)]
    pub day: String,
    /// Where to write the contact sheet (PNG).
    #[arg(long)]
    pub out: PathBuf,
    /// Minutes between photographs (a row is one hour).
    #[arg(long, default_value_t = 10)]
    pub every_minutes: u32,
    /// Directory with the playlist TOML files (and materials.toml).
    #[arg(long, default_value = "playlists")]
    pub dir: PathBuf,
    /// Directory with the files materials.toml names.
    #[arg(long, default_value = "media")]
    pub media: PathBuf,
}

/// Width of one photograph on the sheet.
const THUMB_W: u32 = 320;
/// Space between photographs.
const GAP: u32 = 6;
/// Width of the hour labels.
const LABEL_W: u32 = 72;
const BACKGROUND: Rgb<u8> = Rgb([40, 40, 44]);
const LABEL: Rgb<u8> = Rgb([210, 210, 210]);
const DARK_MARK: Rgb<u8> = Rgb([150, 150, 150]);

/// Runs `ledcast-server preview`.
pub fn run(args: &PreviewArgs) -> anyhow::Result<()> {
    let site = crate::site_files::load(&args.dir, &args.media)?;
    let day = chrono::NaiveDate::parse_from_str(&args.day, "%Y-%m-%d")
        .with_context(|| format!("--day {:?} is not a date like 2026-12-08", args.day))?;
    let sheet = contact_sheet(&site, &args.screen, day, args.every_minutes.max(1))?;
    sheet
        .save_with_format(&args.out, image::ImageFormat::Png)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "preview screen={} day={} photos={} out={}",
        args.screen,
        args.day,
        24 * 60 / args.every_minutes.max(1),
        args.out.display()
    );
    Ok(())
}

/// The contact sheet of `screen_id` on local `day`: one row per hour, a
/// photograph of the panel every `every_minutes`.
pub fn contact_sheet(
    site: &SiteFiles,
    screen_id: &str,
    day: chrono::NaiveDate,
    every_minutes: u32,
) -> anyhow::Result<RgbImage> {
    let screen = site.model.screen(screen_id).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown screen {screen_id:?}: {}",
            ledcast_compiler::diagnostic::did_you_mean(
                "screen",
                screen_id,
                site.model.screens.iter().map(|s| s.id.as_str())
            )
        )
    })?;
    let profile = &site.model.profiles[screen.profile];
    let midnight = screen
        .timezone
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .context("the day has no midnight in the screen's time zone")?;
    let start = protocol::Timestamp(midnight.timestamp_millis());
    // Compiled the evening before, as a running server would have.
    let compiled_at = start.plus_ms(-3_600_000);
    let key = glass::glass_key();
    let rotations = glass::rotations(site, compiled_at, 2, &key);
    let mut glass = GlassScreen::new(site, screen_id, &key, compiled_at)?;
    let (thumb_w, thumb_h) = thumb_size(profile.width, profile.height);
    let per_row = (60 / every_minutes).max(1);
    let title_h = 28;
    let width = LABEL_W + per_row * (thumb_w + GAP) + GAP;
    let height = title_h + 24 * (thumb_h + GAP) + GAP;
    let mut sheet = RgbImage::from_pixel(width, height, BACKGROUND);
    let title = format!(
        "{} {} {}X{} {}",
        screen.id,
        day,
        profile.width,
        profile.height,
        format!("{:?}", profile.color).to_uppercase()
    );
    paste_label(&mut sheet, &title, GAP, 4, width - 2 * GAP, 20);
    let mut pending = rotations
        .get(screen_id)
        .cloned()
        .unwrap_or_default()
        .into_iter();
    if let Some((at, envelope)) = pending.next() {
        glass.deliver(at, envelope);
    }
    let mut next = pending.next();
    for hour in 0..24u32 {
        let y = title_h + hour * (thumb_h + GAP) + GAP;
        paste_label(
            &mut sheet,
            &format!("{hour:02}:00"),
            4,
            y,
            LABEL_W - 8,
            thumb_h.min(24),
        );
        for i in 0..per_row {
            let minute = i * every_minutes;
            let t = start.plus_ms(i64::from(hour * 60 + minute) * 60_000);
            while let Some((at, envelope)) = next.take() {
                if at <= t {
                    glass.deliver(at, envelope);
                    next = pending.next();
                } else {
                    next = Some((at, envelope));
                    break;
                }
            }
            glass.advance_to(t);
            let x = LABEL_W + i * (thumb_w + GAP) + GAP;
            if let Some(frame) = glass.frame() {
                if !glass::frame_lit(frame) {
                    draw_box(
                        &mut sheet,
                        x - 2,
                        y - 2,
                        thumb_w + 4,
                        thumb_h + 4,
                        DARK_MARK,
                    );
                }
                let thumb = thumbnail(frame, thumb_w, thumb_h);
                imageops::replace(&mut sheet, &thumb, i64::from(x), i64::from(y));
            }
        }
    }
    Ok(sheet)
}

/// The photograph size for a panel: 320 px wide, at least 12 px high.
fn thumb_size(width: u32, height: u32) -> (u32, u32) {
    let h = (u64::from(height) * u64::from(THUMB_W) / u64::from(width.max(1))).max(12);
    (THUMB_W, h.min(u64::from(THUMB_W) * 2) as u32)
}

/// A panel frame scaled to a photograph: LEDs stay square dots when
/// enlarged, and are averaged (not dropped) when reduced.
pub fn thumbnail(frame: &RgbImage, w: u32, h: u32) -> RgbImage {
    let filter = if w >= frame.width() {
        imageops::FilterType::Nearest
    } else {
        imageops::FilterType::Triangle
    };
    imageops::resize(frame, w, h, filter)
}

fn paste_label(sheet: &mut RgbImage, text: &str, x: u32, y: u32, w: u32, h: u32) {
    let mut label = text_frame(text, w, h, LABEL, 0);
    for p in label.pixels_mut() {
        if p.0 == [0, 0, 0] {
            *p = BACKGROUND;
        }
    }
    imageops::replace(sheet, &label, i64::from(x), i64::from(y));
}

fn draw_box(sheet: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, color: Rgb<u8>) {
    for dx in 0..w {
        for dy in [0, h.saturating_sub(1)] {
            if x + dx < sheet.width() && y + dy < sheet.height() {
                sheet.put_pixel(x + dx, y + dy, color);
            }
        }
    }
    for dy in 0..h {
        for dx in [0, w.saturating_sub(1)] {
            if x + dx < sheet.width() && y + dy < sheet.height() {
                sheet.put_pixel(x + dx, y + dy, color);
            }
        }
    }
}
