//! A TCP relay in front of the embedded broker, for the storm scenario.
//!
//! The embedded broker runs on threads that cannot be stopped inside the process, so
//! "killing the embedded broker" is done here: the agents are enrolled with
//! this relay as their broker. The relay runs in a child process (the fleet
//! binary itself, started with [`RELAY_ENV`] set), so [`Relay::kill`] is a
//! real SIGKILL: the kernel resets every relayed connection and nothing
//! listens until [`Relay::restart`] starts it again on the same port. A
//! child also keeps the relay's two sockets per screen out of the fleet
//! process, which at 5,000 screens would otherwise pass the 20,000 open
//! files this machine allows one process. The server's own broker
//! connection is not relayed and stays up.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};

/// When set to `LISTEN UPSTREAM`, the fleet binary runs only the relay.
pub const RELAY_ENV: &str = "LEDCAST_FLEET_RELAY";

/// The relay child process.
pub struct Relay {
    /// Where agents connect.
    pub addr: SocketAddr,
    upstream: SocketAddr,
    exe: PathBuf,
    child: Option<Child>,
}

impl Relay {
    /// Starts `exe` (a fleet binary) as a relay on a free loopback port.
    pub fn start(exe: PathBuf, upstream: SocketAddr) -> anyhow::Result<Relay> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let mut relay = Relay {
            addr: port,
            upstream,
            exe,
            child: None,
        };
        relay.spawn()?;
        Ok(relay)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let mut child = Command::new(&self.exe)
            .env(RELAY_ENV, format!("{} {}", self.addr, self.upstream))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting the relay {}", self.exe.display()))?;
        // It prints one line once it listens.
        let stdout = child.stdout.take().context("relay stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        anyhow::ensure!(
            line.starts_with("listening"),
            "the relay did not start: {line:?}"
        );
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILLs the relay: every relayed connection is reset.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the relay again on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        // The port may linger a moment after the kill.
        for _ in 0..50 {
            if self.spawn().is_ok() {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.spawn()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the relay in this process (the child's side) if [`RELAY_ENV`] is
/// set; returns only when it is not.
pub fn run_if_asked() -> anyhow::Result<()> {
    let Ok(spec) = std::env::var(RELAY_ENV) else {
        return Ok(());
    };
    let (listen, upstream) = spec
        .split_once(' ')
        .with_context(|| format!("{RELAY_ENV}={spec:?}: expected 'LISTEN UPSTREAM'"))?;
    let (listen, upstream): (SocketAddr, SocketAddr) = (listen.parse()?, upstream.parse()?);
    crate::fleet::raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(listen).await?;
        println!("listening {listen}");
        loop {
            let (mut inbound, _) = listener.accept().await?;
            let _ = inbound.set_nodelay(true);
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                    let _ = outbound.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}
