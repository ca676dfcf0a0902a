//! `ledcast-server compile --dir playlists --screen ID --at "2026-12-01T09:00" --explain`:
//! reads the playlist TOML files and `materials.toml` from a directory,
//! renders the materials it names (under `--media`) with the media pipeline
//! exactly as the server does ([`crate::site_files`]), compiles, prints
//! every diagnostic and, per screen, a summary or (with `--explain`) the
//! full timeline. Slot durations are the server's to the millisecond.
//!
//! This is the only place the compiler's inputs come from files; the
//! compiler itself is pure. It does not sign, store or publish anything.

use std::path::PathBuf;

use anyhow::bail;
use chrono::NaiveDateTime;
use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;

/// Arguments of `ledcast-server compile`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompileArgs {
    /// Directory with the playlist TOML files (and materials.toml).
    #[arg(long, default_value = "playlists")]
    pub dir: PathBuf,
    /// Directory with the files materials.toml names.
    #[arg(long, default_value = "media")]
    pub media: PathBuf,
    /// Only this screen (default: every screen, summarised).
    #[arg(long)]
    pub screen: Option<String>,
    /// Compile as of this local time ("2026-12-01T09:00", in the screen's
    /// time zone, or the settings' one), or an RFC 3339 instant.
    #[arg(long)]
    pub at: String,
    /// Print each block's from–until, what produced it, the rules enforced and its loop.
    #[arg(long)]
    pub explain: bool,
    /// Horizon in hours.
    #[arg(long, default_value_t = 48)]
    pub horizon_hours: i64,
}

fn parse_at(text: &str, tz: chrono_tz::Tz) -> anyhow::Result<protocol::Timestamp> {
    if let Ok(instant) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(protocol::Timestamp(instant.timestamp_millis()));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(protocol::Timestamp(compiler::calendar::local_naive_to_utc(
                tz, naive,
            )));
        }
    }
    bail!("--at {text:?} is not a time like 2026-12-01T09:00 or 2026-12-01T09:00:00+08:00")
}

/// Runs `ledcast-server compile`.
pub fn run(args: &CompileArgs) -> anyhow::Result<()> {
    let site = crate::site_files::load(&args.dir, &args.media)?;
    let (model, catalog, mut diagnostics) = (site.model, site.catalog, site.diagnostics);

    let tz = match &args.screen {
        Some(id) => match model.screen(id) {
            Some(screen) => screen.timezone,
            None => {
                let hint = compiler::diagnostic::did_you_mean(
                    "screen",
                    id,
                    model.screens.iter().map(|s| s.id.as_str()),
                );
                bail!("unknown screen {id:?}: {hint}");
            }
        },
        None => model.settings.timezone,
    };
    let now = parse_at(&args.at, tz)?;
    let window = compiler::Window::hours(now, args.horizon_hours, args.horizon_hours + 24);
    let (compiled, compile_diagnostics) = compiler::compile(&model, &catalog, window);
    diagnostics.extend(compile_diagnostics);

    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    for d in &diagnostics {
        println!("{d}");
    }
    if !diagnostics.is_empty() {
        println!();
    }
    for screen in &model.screens {
        if args
            .screen
            .as_deref()
            .is_some_and(|s| s != screen.id.as_str())
        {
            continue;
        }
        match compiled.iter().find(|c| c.rotation.screen_id == screen.id) {
            None => println!("{}: NO ROTATION (see the errors above)", screen.id),
            Some(c) if args.explain => println!("{}", compiler::explain(&model, &catalog, c)),
            Some(c) => println!(
                "{}: {} block(s), {} media, fallback of {} slot(s)",
                screen.id,
                c.rotation.blocks.len(),
                c.rotation.media.len(),
                c.rotation.fallback.len()
            ),
        }
    }
    println!(
        "{} screen(s) compiled, {} error(s), {} warning(s)",
        compiled.len(),
        errors,
        diagnostics
            .iter()
            .filter(|d| d.severity == compiler::Severity::Warning)
            .count()
    );
    if errors > 0 {
        bail!("{errors} error(s) in {}", args.dir.display());
    }
    Ok(())
}
