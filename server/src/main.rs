//! `ledcast-server`: the command line over the server library.

use clap::{Parser, Subcommand};

/// ledcast central server: compiles playlists into signed per-screen
/// rotations, serves media and the web UI, and pushes rotations to LED agents
/// over MQTT.
#[derive(Parser)]
#[command(name = "ledcast-server", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole demo: server, SQLite, embedded MQTT broker and one agent per demo screen.
    Demo,
    /// Serve the HTTP API, web UI and MQTT publisher with a TOML configuration.
    Serve,
    /// Compile playlists/ into per-screen rotations and explain the timeline.
    Compile,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo | Command::Serve | Command::Compile => {
            anyhow::bail!("not built yet: this release only prints --help")
        }
    }
}
