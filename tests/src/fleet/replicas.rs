//! A second server replica and a load balancer for the fleet bench
//! (issue 21): `--replicas 2` runs replica B as a child process
//! (`ledcast-server serve`, release build next to this binary) on the same
//! PostgreSQL schema and broker as replica A (in-process), both with
//! `[replicas]` (keys and media shared through the database);
//! `--balancer` puts Debian's haproxy in front, and agents are enrolled
//! with its address as the deployment's public URL. `--kill-replica` sends
//! the alert to B and kills B (SIGKILL) as soon as it answers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

/// Replica B: a `ledcast-server serve` child process.
pub struct ChildReplica {
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl ChildReplica {
    /// Starts `ledcast-server serve` with its own, empty data_dir.
    pub fn start(
        port: u16,
        public_url: &str,
        database_url: &str,
        broker_url: &str,
        kek: &Path,
    ) -> anyhow::Result<ChildReplica> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("ledcast.toml");
        let data_dir = dir.path().join("data");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\npublic_url = {public_url:?}\ndata_dir = {data_dir:?}\n\
                 database_url = {database_url:?}\n\n[mqtt]\nbroker_url = {broker_url:?}\n\n\
                 [replicas]\nkey_encryption_key_file = {kek:?}\n",
                data_dir = data_dir.display().to_string(),
                kek = kek.display().to_string(),
            ),
        )?;
        let exe = server_exe()?;
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let child = Command::new(&exe)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting replica B ({})", exe.display()))?;
        let mut replica = ChildReplica {
            base: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            _dir: dir,
        };
        replica.wait_ready()?;
        Ok(replica)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        for _ in 0..600 {
            if let Some(child) = &mut self.child {
                if let Some(status) = child.try_wait()? {
                    let log = std::fs::read_to_string(self._dir.path().join("server.log"))
                        .unwrap_or_default();
                    bail!("replica B exited ({status}) before it was ready:\n{log}");
                }
            }
            if ureq::get(&format!("{}/readyz", self.base)).call().is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("replica B did not answer /readyz within 60 s")
    }

    /// SIGKILL: no drain, no goodbye to the broker or the database.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildReplica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `ledcast-server` binary next to this one (`cargo build --release
/// -p ledcast-server`).
fn server_exe() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me.parent().context("the running binary has a directory")?;
    let exe = dir.join("ledcast-server");
    anyhow::ensure!(
        exe.exists(),
        "{} is missing: build it with `cargo build --release -p ledcast-server` (bench/replicas.sh does)",
        exe.display()
    );
    Ok(exe)
}

/// Debian's haproxy in front of the replicas, health-checking `/readyz`
/// every 500 ms and retrying a failed request on the other replica.
pub struct Balancer {
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Balancer {
    /// Starts haproxy on `front_port` for `backends` (`host:port`).
    pub fn start(front_port: u16, backends: &[String]) -> anyhow::Result<Balancer> {
        let dir = tempfile::tempdir()?;
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, addr)| format!("  server r{i} {addr} check inter 500 fall 2 rise 2\n"))
            .collect();
        let config = dir.path().join("haproxy.cfg");
        std::fs::write(
            &config,
            format!(
                "global\n  maxconn 9000\n\ndefaults\n  mode http\n  timeout connect 2s\n  \
                 timeout client 120s\n  timeout server 120s\n  retries 3\n  option redispatch\n  \
                 retry-on all-retryable-errors\n\nfrontend ledcast\n  bind 127.0.0.1:{front_port}\n  \
                 default_backend replicas\n\nbackend replicas\n  balance roundrobin\n  \
                 option httpchk GET /readyz\n{servers}"
            ),
        )?;
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting haproxy (apt-get install haproxy)")?;
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", front_port)).is_ok() {
                return Ok(Balancer {
                    child: Some(child),
                    _dir: dir,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("haproxy did not listen on port {front_port}")
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Writes a fresh key-encryption key (0600) into `dir`.
pub fn write_kek(dir: &Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let mut secret = [0u8; 32];
    getrandom::getrandom(&mut secret).context("reading the system random source")?;
    let path = dir.join("deployment.kek");
    std::fs::write(&path, hex::encode(secret))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(path)
}
