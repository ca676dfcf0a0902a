//! `ledcast-server compile --dir DIR --screen ID --at TIME --explain`.

/// Arguments of `ledcast-server compile`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompileArgs {
    /// Directory with the playlist TOML files.
    #[arg(long, default_value = "playlists")]
    pub dir: std::path::PathBuf,
}

/// Runs `ledcast-server compile`.
pub fn run(args: &CompileArgs) -> anyhow::Result<()> {
    anyhow::bail!("compile not built yet (dir {})", args.dir.display())
}
