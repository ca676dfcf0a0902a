//! `ledcast-server bench media`: poster ingest + five renditions, against libvips.
//!
//! Generates a 4000×3000 JPEG poster in memory, then per run: `ingest` it
//! (decode, EXIF orientation, re-encode the stored JPEG) and render the five
//! demo profiles with `render_many` (one decode shared, SIMD Lanczos3 resize,
//! profiles spread over the cores, quantise, PNG encode). When `vipsthumbnail`
//! is on PATH the same run times the libvips equivalent: `vips autorot` to a
//! stripped quality-90 JPEG (the stored copy) plus one
//! `vipsthumbnail --smartcrop centre` per profile to a PNG at compression 1,
//! the five started together. Reports medians of 7 runs after a warm-up.
//!
//! First it prints the `media texts` line: every demo warning text
//! (`playlists/materials.toml`) rendered for every demo profile
//! (`playlists/profiles.toml`), median of 15 passes after a warm-up — the
//! same work as `cargo run --release -p ledcast-media --example bench_texts`,
//! which also runs on code from before the legibility rules.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use ledcast_media::{ColorClass, Fit, Limits, RenderProfile};

const WIDTH: u32 = 4000;
const HEIGHT: u32 = 3000;
const RUNS: usize = 7;

/// The five profiles of the benchmark: 352×80 mono, 192×32 dual, 128×64,
/// 1920×1080 and 1080×1920 full.
fn profiles() -> Vec<(RenderProfile, Fit)> {
    [
        (352, 80, ColorClass::Mono),
        (192, 32, ColorClass::Dual),
        (128, 64, ColorClass::Full),
        (1920, 1080, ColorClass::Full),
        (1080, 1920, ColorClass::Full),
    ]
    .into_iter()
    .map(|(width, height, color)| {
        let profile = RenderProfile {
            width,
            height,
            color,
            video: false,
            scroll: false,
        };
        (profile, Fit::Fill)
    })
    .collect()
}

/// Renders every demo text for every demo profile (read from
/// `playlists_dir`), 15 timed passes after a warm-up; returns the line
/// `media texts: texts=… profiles=… renditions=… ms=…` (median per pass).
pub fn texts_line(playlists_dir: &Path) -> anyhow::Result<String> {
    let texts = crate::site_files::read_dir_texts(playlists_dir)?;
    let (materials, playlist_files): (Vec<_>, Vec<_>) = texts.iter().partition(|(name, _)| {
        Path::new(name)
            .file_name()
            .is_some_and(|f| f == crate::site_files::MATERIALS_FILE)
    });
    let inputs: Vec<(&str, &str)> = playlist_files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let (model, _) = ledcast_compiler::parse(&inputs);
    let mut demo_texts = Vec::new();
    for (name, text) in &materials {
        let (entries, _) = ledcast_compiler::parse_materials(name, text, model.settings.timezone);
        demo_texts.extend(entries.into_iter().filter_map(|e| e.text));
    }
    let limits = Limits::default();
    let materials: Vec<ledcast_media::Material> = demo_texts
        .iter()
        .map(|t| ledcast_media::ingest(t.as_bytes(), "text.txt", &limits))
        .collect::<Result<_, _>>()
        .context("ingesting the demo texts")?;
    let profiles: Vec<RenderProfile> = model
        .profiles
        .iter()
        .map(crate::legibility::render_profile)
        .collect();
    let fit = Fit::Fit {
        background: ledcast_media::Rgb(0, 0, 0),
    };
    let mut times = Vec::new();
    let mut made = 0;
    for pass in 0..=15 {
        let started = now();
        made = 0;
        for m in &materials {
            for p in &profiles {
                if ledcast_media::render(m, p, fit).is_ok() {
                    made += 1;
                }
            }
        }
        if pass > 0 {
            times.push(now() - started);
        }
    }
    Ok(format!(
        "media texts: texts={} profiles={} renditions={made} ms={:.2}",
        materials.len(),
        profiles.len(),
        ms(median(&mut times))
    ))
}

/// Runs the media benchmark and returns its last line.
pub fn run() -> anyhow::Result<String> {
    let lines = run_detailed()?;
    lines
        .last()
        .cloned()
        .context("media benchmark produced no line")
}

/// Runs the benchmark and returns a breakdown line followed by the result line.
pub fn run_detailed() -> anyhow::Result<Vec<String>> {
    let poster = ledcast_media::samples::poster_jpeg(
        WIDTH,
        HEIGHT,
        &ledcast_media::samples::BENCH_THEME,
        90,
    );
    let targets = profiles();
    let limits = Limits::default();

    let mut ours = Vec::new();
    let mut ingest_times = Vec::new();
    for run in 0..=RUNS {
        let started = now();
        let material = ledcast_media::ingest(&poster, "bench-poster.jpg", &limits)
            .context("ingesting the benchmark poster")?;
        let ingested = now();
        let renditions = ledcast_media::render_many(&material, &targets);
        let done = now();
        for (r, (p, _)) in renditions.iter().zip(&targets) {
            let r = r
                .as_ref()
                .map_err(|e| anyhow::anyhow!("rendering {}x{}: {e}", p.width, p.height))?;
            if (r.media.width, r.media.height) != (p.width, p.height) {
                bail!(
                    "rendition {}x{} came out {}x{}",
                    p.width,
                    p.height,
                    r.media.width,
                    r.media.height
                );
            }
        }
        if run > 0 {
            // Run 0 warms caches and the font table.
            ingest_times.push(ingested - started);
            ours.push(done - started);
        }
    }
    let ours_ms = ms(median(&mut ours));
    let ingest_ms = ms(median(&mut ingest_times));

    let vips = if vips_available() {
        Some(run_vips(&poster, &targets)?)
    } else {
        None
    };
    let (vips_text, ratio_text) = match vips {
        Some(v) => {
            let vips_ms = ms(v);
            (
                format!("{vips_ms:.1}"),
                format!("{:.2}", ours_ms / vips_ms.max(0.001)),
            )
        }
        None => ("NA".to_string(), "NA".to_string()),
    };
    Ok(vec![
        format!(
            "media detail: runs={RUNS} ingest_ms={ingest_ms:.1} render5_ms={:.1} poster_bytes={} threads={}",
            ours_ms - ingest_ms,
            poster.len(),
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        ),
        format!(
            "media poster={WIDTH}x{HEIGHT} profiles={} ms={ours_ms:.1} vips_ms={vips_text} ratio={ratio_text}",
            targets.len()
        ),
    ])
}

fn vips_available() -> bool {
    Command::new("vipsthumbnail")
        .arg("--vips-version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The libvips equivalent of one run, median of [`RUNS`] (after one warm-up).
fn run_vips(poster: &[u8], targets: &[(RenderProfile, Fit)]) -> anyhow::Result<Duration> {
    let dir = scratch_dir()?;
    let input = dir.join("poster.jpg");
    std::fs::write(&input, poster).with_context(|| format!("writing {}", input.display()))?;
    let mut times = Vec::new();
    let result = (|| {
        for run in 0..=RUNS {
            let started = now();
            vips_once(&dir, &input, targets)?;
            if run > 0 {
                times.push(now() - started);
            }
        }
        anyhow::Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    Ok(median(&mut times))
}

fn vips_once(dir: &Path, input: &Path, targets: &[(RenderProfile, Fit)]) -> anyhow::Result<()> {
    let stored = dir.join("stored.jpg");
    let status = Command::new("vips")
        .arg("autorot")
        .arg(input)
        .arg(format!("{}[Q=90,strip]", stored.display()))
        .status()
        .context("running vips autorot")?;
    if !status.success() {
        bail!("vips autorot failed: {status}");
    }
    let children: Vec<_> = targets
        .iter()
        .map(|(p, _)| {
            Command::new("vipsthumbnail")
                .arg(input)
                .arg("--size")
                .arg(format!("{}x{}", p.width, p.height))
                .arg("--smartcrop")
                .arg("centre")
                .arg("-o")
                // PNG compression level 1 matches our fast deflate; vips'
                // default (6) would roughly double its time on the 1920 profiles.
                .arg(format!(
                    "{}[compression=1]",
                    dir.join(format!("out-{}x{}.png", p.width, p.height))
                        .display()
                ))
                .spawn()
                .context("starting vipsthumbnail")
        })
        .collect::<anyhow::Result<_>>()?;
    // Wait for every child before judging, so none outlives the scratch dir.
    let statuses: Vec<_> = children.into_iter().map(|mut c| c.wait()).collect();
    for status in statuses {
        let status = status.context("waiting for vipsthumbnail")?;
        if !status.success() {
            bail!("vipsthumbnail failed: {status}");
        }
    }
    Ok(())
}

fn scratch_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("ledcast-bench-media-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

#[allow(clippy::disallowed_methods)]
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
