//! `ledcast-server bench compile --screens N`: full and incremental compile of
//! a synthetic site (`ledcast_compiler::synthetic`): N screens across N/10
//! sites, N/5 schedule entries (mixed days/hours/dates/cron) so that each
//! screen is matched by about 20, 3 rules, a few alerts; a 48 h horizon.
//! Incremental = one playlist edit touching 10 % of the screens.
//!
//! A binary-side timing harness: the only place here that reads a clock.

use anyhow::ensure;
use ledcast_compiler::{self as compiler, synthetic, Window};
use ledcast_protocol::v1 as protocol;

/// Horizon of the benchmark, in hours.
pub const HORIZON_HOURS: i64 = 48;

/// Runs the compile benchmark for `screens` screens and returns its last line
/// `compile screens=N horizon_h=48 full_ms=X incremental_ms=Y`.
#[allow(clippy::disallowed_methods)]
pub fn run(screens: usize) -> anyhow::Result<String> {
    ensure!(screens > 0, "--screens must be at least 1");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default();
    let now = protocol::Timestamp(compiler::calendar::local_to_utc(
        chrono_tz::Asia::Shanghai,
        today,
        9 * 60,
    ));
    let model = synthetic::model(screens, today);
    let catalog = synthetic::catalog(&model, now.0, 200);
    let window = Window::hours(now, HORIZON_HOURS, HORIZON_HOURS + 24);

    let started = std::time::Instant::now();
    let (mut compiled, diagnostics) = compiler::compile(&model, &catalog, window);
    let full = started.elapsed();
    ensure!(
        compiled.len() == screens,
        "only {} of {screens} screens compiled: {:?}",
        compiled.len(),
        diagnostics.iter().find(|d| d.is_error())
    );

    let (edited, changes) = synthetic::edit_one_playlist(&model);
    let started = std::time::Instant::now();
    let (touched, _) =
        compiler::recompile(&mut compiled, &model, &edited, &catalog, window, &changes);
    let incremental = started.elapsed();

    let blocks: usize = compiled.iter().map(|c| c.rotation.blocks.len()).sum();
    println!(
        "compiled {} screens: {blocks} blocks, {} diagnostics; incremental touched {} screens",
        compiled.len(),
        diagnostics.len(),
        touched.len()
    );
    Ok(format!(
        "compile screens={screens} horizon_h={HORIZON_HOURS} full_ms={} incremental_ms={}",
        full.as_millis(),
        incremental.as_millis()
    ))
}
