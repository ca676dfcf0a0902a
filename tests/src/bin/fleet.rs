//! `cargo run --release -p ledcast-tests --bin fleet -- SCENARIO --agents N [--broker mqtt://…] [--database-url …]`
//!
//! The fleet simulator and performance bench: see bench/README.md. Prints
//! set-up and floor lines, then the scenario's summary as the last line.

use clap::Parser;
use ledcast_tests::fleet::{self, Args};

fn main() -> anyhow::Result<()> {
    // The storm relay runs as a child process of this binary.
    fleet::proxy::run_if_asked()?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(bench())
}

async fn bench() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let outcome = fleet::run(&args).await?;
    for line in &outcome.details {
        println!("{line}");
    }
    if !outcome.lagging.is_empty() {
        println!("lagging (first 10): {}", outcome.lagging.join(", "));
    }
    println!("{}", outcome.line);
    anyhow::ensure!(
        outcome.all_synced && outcome.lost == 0 && outcome.duplicated == 0,
        "the scenario did not complete correctly (see above)"
    );
    Ok(())
}
