//! `ledcast-agent`: the command line over the agent library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ledcast_agent::{config::AgentConfig, identity};

mod bench;

/// ledcast agent: runs on an LED controller, verifies signed rotations from
/// the server, caches media, plays the rotation offline and reports what it
/// played. It listens on no port.
#[derive(Parser)]
#[command(name = "ledcast-agent", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Exchange a one-time enrollment code for this screen's identity and the pinned server key.
    Enroll {
        /// The server's base URL, e.g. http://10.0.0.5:8080.
        #[arg(long)]
        server: String,
        /// The one-time code an admin created for this screen.
        #[arg(long)]
        code: String,
        /// Where to store the identity (the `data_dir` of agent.toml).
        #[arg(long, default_value = "/var/lib/ledcast-agent")]
        data_dir: PathBuf,
    },
    /// Play the screen's rotation, forever, with a TOML configuration.
    Run {
        /// The configuration file.
        #[arg(long, conflicts_with = "data_dir")]
        config: Option<PathBuf>,
        /// Run with default settings on this enrolled data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Measurements (see README, Benchmarks).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Peak RSS, binary size and CPU of this binary playing a 10-item
    /// rotation, against a `ledcast-server demo` (embedded broker) it starts.
    Footprint {
        /// Canvas size of the screen profile.
        #[arg(long, default_value = "352x80", value_parser = bench::parse_profile)]
        profile: (u32, u32),
        /// Seconds measured once the rotation plays.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Seconds each item plays.
        #[arg(long, default_value_t = 6)]
        slot_seconds: u64,
        /// The ledcast-server binary (default: next to this one, then target/{release,debug}).
        #[arg(long)]
        server: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    match run_cli() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain on one line, without a backtrace: an operator reads this.
            eprintln!("ledcast-agent: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_cli() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_max_level(log_level(std::env::var("RUST_LOG").ok().as_deref()))
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Enroll {
            server,
            code,
            data_dir,
        } => {
            let identity = identity::enroll(&server, &code, &data_dir)
                .with_context(|| format!("enrolling at {server}"))?;
            println!(
                "enrolled as screen {} (broker {}); identity stored in {}",
                identity.enrollment.screen_id,
                identity.enrollment.broker_url,
                data_dir.display()
            );
            Ok(())
        }
        Command::Run { config, data_dir } => {
            let config = match (config, data_dir) {
                (Some(path), _) => AgentConfig::load(&path)?,
                (None, Some(dir)) => AgentConfig::for_data_dir(&dir),
                (None, None) => anyhow::bail!("give --config agent.toml or --data-dir DIR"),
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(4)
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(ledcast_agent::run(config, shutdown_signal()))
        }
        Command::Bench(BenchCommand::Footprint {
            profile,
            seconds,
            slot_seconds,
            server,
        }) => bench::footprint(&bench::FootprintArgs {
            profile,
            seconds,
            slot_seconds: slot_seconds.max(1),
            server,
        }),
    }
}

/// The level named in `RUST_LOG` (`error`, `warn`, `info`, `debug`, `trace`;
/// the last bare level wins, per-target directives are ignored); `info` by default.
fn log_level(rust_log: Option<&str>) -> tracing::Level {
    rust_log
        .unwrap_or("")
        .split(',')
        .rev()
        .find_map(|part| {
            match part
                .rsplit('=')
                .next()?
                .trim()
                .to_ascii_lowercase()
                .as_str()
            {
                "error" => Some(tracing::Level::ERROR),
                "warn" => Some(tracing::Level::WARN),
                "info" => Some(tracing::Level::INFO),
                "debug" => Some(tracing::Level::DEBUG),
                "trace" => Some(tracing::Level::TRACE),
                _ => None,
            }
        })
        .unwrap_or(tracing::Level::INFO)
}

/// Completes on SIGTERM (systemd stop) or Ctrl-C.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_levels() {
        assert_eq!(log_level(None), tracing::Level::INFO);
        assert_eq!(log_level(Some("warn")), tracing::Level::WARN);
        assert_eq!(
            log_level(Some("ledcast_agent=debug")),
            tracing::Level::DEBUG
        );
        assert_eq!(log_level(Some("nonsense")), tracing::Level::INFO);
    }
}
