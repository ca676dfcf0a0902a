//! `ledcast-agent`: the command line over the agent library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ledcast_agent::{config::AgentConfig, identity};

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
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
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
    }
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
