//! `ledcast-server bench compile --screens N`: full and incremental compile of a synthetic site.

/// Runs the compile benchmark for `screens` screens and returns its last line.
pub fn run(screens: usize) -> anyhow::Result<String> {
    anyhow::bail!("compile benchmark not built yet ({screens} screens)")
}
