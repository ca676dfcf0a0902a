//! `ledcast-server bench media`: poster ingest + five renditions, against libvips.

/// Runs the media benchmark and returns its last line.
pub fn run() -> anyhow::Result<String> {
    anyhow::bail!("media benchmark not built yet")
}
