//! `ledcast-agent`: the command line over the agent library.

use clap::{Parser, Subcommand};

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
    Enroll,
    /// Play the screen's rotation, forever, with a TOML configuration.
    Run,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Enroll | Command::Run => {
            anyhow::bail!("not built yet: this release only prints --help")
        }
    }
}
