//! `ledcast-server bench import [--count 200]`: library-pack import
//! throughput through the real server path ([`crate::packs::import_pack`]:
//! media pipeline, content store, SQLite, then renditions for the five demo
//! profiles) into a fresh data directory under the system temp dir (removed
//! afterwards).
//!
//! The pack is generated like `library-pack/examples/bench_pack.rs`: every
//! fourth material a text, the rest 1280×720 PNG posters in distinct
//! colours. It is handed over as a directory pack (`open_dir`; zip vetting
//! is measured by that example, 1.4 ms for 200). Build with `--release` for
//! meaningful figures.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use ledcast_media::samples::{poster_png, PosterTheme};
use ledcast_pack::{open_dir, PackLimits, FRAUD_CATEGORIES};

use crate::config::Config;
use crate::store::ProfileRow;

/// The demo's five screen profiles (playlists/profiles.toml).
fn demo_profiles() -> Vec<ProfileRow> {
    [
        ("door-strip-352x80", 352, 80, "mono", false, true),
        ("counter-scroller-192x32", 192, 32, "dual", false, true),
        ("atm-topper-128x64", 128, 64, "full", false, false),
        ("lobby-1920x1080", 1920, 1080, "full", true, false),
        ("hall-wall-1920x360", 1920, 360, "full", true, true),
    ]
    .into_iter()
    .map(|(id, width, height, color, video, scroll)| ProfileRow {
        id: id.into(),
        width,
        height,
        color_class: color.into(),
        can_play_video: video,
        can_scroll: scroll,
    })
    .collect()
}

/// The files of a generated `count`-material directory pack.
pub fn generated_pack_files(count: usize) -> Vec<(String, Vec<u8>)> {
    let mut manifest =
        String::from("edition = \"bench-2026-W48\"\npublisher = \"bench\"\nissued = 2026-11-23\nsample_today = 2026-11-30\n");
    let mut files = Vec::new();
    for i in 0..count {
        let category = FRAUD_CATEGORIES[i % FRAUD_CATEGORIES.len()];
        manifest.push_str("\n[[material]]\n");
        if i % 4 == 3 {
            let _ = write!(
                manifest,
                "kind = \"text\"\ntext = \"第{i}条提示：不听 不信 不转账，接到96110请及时接听！\"\n"
            );
        } else {
            let path = format!("posters/{i:03}.png");
            let _ = write!(manifest, "kind = \"poster\"\nfile = \"{path}\"\n");
            let shade = (i * 37 % 200) as u8;
            let theme = PosterTheme {
                headline: "谨防电信网络诈骗",
                subline: "不听 不信 不转账",
                top: [shade, 30, (i % 251) as u8],
                bottom: [40, shade, 160],
                ink: [255, 230, 60],
                texture: false,
            };
            files.push((path, poster_png(1280, 720, &theme)));
        }
        let _ = write!(
            manifest,
            "title = \"素材{i}\"\ncategory = \"{category}\"\nscreens = [\"hall\"]\nvalid_from = 2026-11-23\nvalid_until = 2026-12-06\n"
        );
    }
    files.push(("pack.toml".into(), manifest.into_bytes()));
    files
}

#[allow(clippy::disallowed_methods)]
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

/// Runs the benchmark and returns its result line.
pub async fn run(count: usize) -> anyhow::Result<String> {
    let pack = open_dir(generated_pack_files(count), &PackLimits::default())
        .context("opening the generated pack")?;
    let dir = std::env::temp_dir().join(format!("ledcast-bench-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config {
        data_dir: dir.clone(),
        ..Config::default()
    };
    let result = async {
        let state = crate::service::build_state(config, String::new()).await?;
        for profile in demo_profiles() {
            state.store.upsert_profile(&profile).await?;
        }
        let started = now();
        let mut entries_done = Duration::ZERO;
        let report = crate::packs::import_pack(&state, &pack, "bench", |done, total, _| {
            if done == total {
                entries_done = started.elapsed();
            }
        })
        .await?;
        let total = started.elapsed();
        let again = now();
        let second = crate::packs::import_pack(&state, &pack, "bench", |_, _, _| {}).await?;
        let reimport = again.elapsed();
        state.store.close().await;
        anyhow::ensure!(
            report.imported() == count && second.duplicates() == count,
            "unexpected reports: {report} / {second}"
        );
        let per_second = |d: Duration| count as f64 / d.as_secs_f64().max(1e-9);
        Ok(format!(
            "import {count} materials: {:.0} materials/s ({:.2} s: ingest+store {:.2} s, renditions for 5 profiles {:.2} s); re-import (all duplicates) {:.2} s; {report}",
            per_second(total),
            total.as_secs_f64(),
            entries_done.as_secs_f64(),
            (total - entries_done).as_secs_f64(),
            reimport.as_secs_f64(),
        ))
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
