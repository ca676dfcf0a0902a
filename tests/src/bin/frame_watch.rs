//! `cargo run --release -p ledcast-tests --bin frame_watch -- DATA_DIR [SECONDS]`
//!
//! Looks at a running demo's panels the way a person would: reads every
//! agent's `DATA_DIR/agents/*/frame.png` once a second for SECONDS (default
//! 120) and counts the samples in which the panel lights at least one LED.
//! Prints one line per screen and, last, `frame_watch screens=N samples=S
//! dark=D` (D: samples of any screen with a dark or unreadable frame).
//! Exits non-zero when a door strip (`*-door`) was dark in any sample.
//!
//! Start the demo first: `cargo run --release -p ledcast-server -- demo
//! --data-dir /tmp/ledcast-demo`, then `frame_watch /tmp/ledcast-demo`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// This tool's one clock read (it paces the sampling).
#[allow(clippy::disallowed_methods)]
fn clock_now() -> Instant {
    Instant::now()
}

fn lit(path: &std::path::Path) -> Option<bool> {
    let bytes = std::fs::read(path).ok()?;
    let frame = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .ok()?
        .to_rgb8();
    Some(frame.as_raw().iter().any(|&v| v != 0))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data_dir = PathBuf::from(
        args.first()
            .context("usage: frame_watch DATA_DIR [SECONDS]")?,
    );
    let seconds: u64 = match args.get(1) {
        Some(s) => s.parse().context("SECONDS is a whole number")?,
        None => 120,
    };
    let agents = data_dir.join("agents");
    let mut screens: Vec<(String, PathBuf)> = std::fs::read_dir(&agents)
        .with_context(|| format!("reading {} (is the demo running?)", agents.display()))?
        .filter_map(|e| e.ok())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path().join("frame.png"),
            )
        })
        .collect();
    screens.sort();
    if screens.is_empty() {
        bail!("no agents under {}", agents.display());
    }
    // (samples, lit) per screen.
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let started = clock_now();
    for second in 0..seconds {
        for (screen, frame) in &screens {
            let entry = counts.entry(screen.clone()).or_default();
            entry.0 += 1;
            if lit(frame) == Some(true) {
                entry.1 += 1;
            }
        }
        let next = started + Duration::from_secs(second + 1);
        if let Some(wait) = next.checked_duration_since(clock_now()) {
            std::thread::sleep(wait);
        }
    }
    let mut dark_total = 0;
    let mut dark_doors = Vec::new();
    for (screen, (samples, lit)) in &counts {
        let dark = samples - lit;
        dark_total += dark;
        println!("{screen:16} samples={samples} lit={lit} dark={dark}");
        if screen.ends_with("-door") && dark > 0 {
            dark_doors.push(screen.clone());
        }
    }
    println!(
        "frame_watch screens={} samples={} dark={dark_total}",
        counts.len(),
        seconds
    );
    if !dark_doors.is_empty() {
        bail!(
            "door strips dark in some samples: {}",
            dark_doors.join(", ")
        );
    }
    Ok(())
}
