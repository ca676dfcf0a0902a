//! `systemctl stop` sends SIGTERM: the server binary stops accepting,
//! drains, flushes and exits 0 within a bounded time, saying so.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
// A real process and real seconds: the stop must be bounded in wall time.
#[allow(clippy::disallowed_methods)]
fn sigterm_stops_the_server_cleanly_and_soon() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ledcast.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[mqtt]\nembedded_listen = \"127.0.0.1:0\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_ledcast-server"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = server.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let wait_for = |what: &str, within: Duration, seen: &mut Vec<String>| {
        let deadline = std::time::Instant::now() + within;
        while let Ok(line) =
            lines.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
        {
            let found = line.contains(what);
            seen.push(line);
            if found {
                return;
            }
        }
        panic!("no {what:?} within {within:?}:\n{}", seen.join("\n"));
    };
    wait_for(
        "ledcast server listening",
        Duration::from_secs(60),
        &mut seen,
    );
    // Absolute path: a test must not depend on PATH.
    let status = Command::new("/bin/kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let stopped_by = std::time::Instant::now();
    wait_for("shutting down (SIGTERM)", Duration::from_secs(5), &mut seen);
    wait_for("ledcast server stopped", Duration::from_secs(20), &mut seen);
    let status = server.wait().unwrap();
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        seen.join("\n")
    );
    assert!(
        stopped_by.elapsed() < Duration::from_secs(20),
        "stopped in {:?}",
        stopped_by.elapsed()
    );
}
