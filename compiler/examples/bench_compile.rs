//! Scratch timing of the synthetic compile (the real benchmark is
//! `ledcast-server bench compile`): `cargo run --release -p ledcast-compiler --example bench_compile -- 10000`.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use ledcast_compiler::{compile, recompile, synthetic, Window};
use ledcast_protocol::v1::Timestamp;

fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU of the whole process (all threads), in ms (10 ms ticks).
fn process_cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0);
    ticks * 10
}

fn main() {
    let screens: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let now = Timestamp(ledcast_compiler::calendar::local_to_utc(
        chrono_tz::Asia::Shanghai,
        today,
        9 * 60,
    ));
    let model = synthetic::model(screens, today);
    let catalog = synthetic::catalog(&model, now.0, 200);
    let window = Window::hours(now, 48, 72);
    let t = Instant::now();
    let c0 = cpu_ns();
    let (mut compiled, diagnostics) = compile(&model, &catalog, window);
    let full = t.elapsed();
    eprintln!("full cpu {} ms", (cpu_ns() - c0) / 1_000_000);
    let (edited, changes) = synthetic::edit_one_playlist(&model);
    let t = Instant::now();
    let c0 = cpu_ns();
    let (touched, _) = recompile(&mut compiled, &model, &edited, &catalog, window, &changes);
    let incremental = t.elapsed();
    eprintln!("incremental cpu {} ms", (cpu_ns() - c0) / 1_000_000);
    let t = Instant::now();
    let _ = recompile(
        &mut compiled,
        &edited,
        &edited,
        &catalog,
        window,
        &ledcast_compiler::Changes::default(),
    );
    eprintln!("empty recompile {:?}", t.elapsed());
    let t = Instant::now();
    let (edited2, changes2) = synthetic::edit_one_playlist(&edited);
    eprintln!("clone model {:?}", t.elapsed());
    let t = Instant::now();
    let _ = recompile(
        &mut compiled,
        &edited,
        &edited2,
        &catalog,
        window,
        &changes2,
    );
    eprintln!("second recompile {:?}", t.elapsed());
    if std::env::var("BENCH_LOOP").is_ok() {
        let c0 = cpu_ns();
        for k in 0..20 {
            let (a, b) = if k % 2 == 0 {
                (&edited2, &edited)
            } else {
                (&edited, &edited2)
            };
            let _ = recompile(&mut compiled, a, b, &catalog, window, &changes2);
        }
        eprintln!("20 recompiles cpu {} ms", (cpu_ns() - c0) / 1_000_000);
        let p0 = process_cpu_ms();
        for k in 0..20 {
            let (a, b) = if k % 2 == 0 {
                (&edited2, &edited)
            } else {
                (&edited, &edited2)
            };
            let _ = recompile(&mut compiled, a, b, &catalog, window, &changes2);
        }
        eprintln!(
            "incremental: {} ms process CPU per run (mean of 20)",
            (process_cpu_ms() - p0) / 20
        );
        let p0 = process_cpu_ms();
        for _ in 0..5 {
            let _ = compile(&edited, &catalog, window);
        }
        eprintln!(
            "full: {} ms process CPU per run (mean of 5)",
            (process_cpu_ms() - p0) / 5
        );
    }
    let blocks: usize = compiled.iter().map(|c| c.rotation.blocks.len()).sum();
    eprintln!(
        "compiled {} screens, {} blocks, {} diagnostics, touched {}",
        compiled.len(),
        blocks,
        diagnostics.len(),
        touched.len()
    );
    for d in diagnostics.iter().take(5) {
        eprintln!("{d}");
    }
    println!(
        "compile screens={screens} horizon_h=48 full_ms={} incremental_ms={}",
        full.as_millis(),
        incremental.as_millis()
    );
}
