//! `kill -9` at random moments while the real `ledcast-agent` binary plays
//! 100 ms items: after the cycles, one clean run drains the journal, and
//! every start record ever fsynced reaches the server, per boot, with no
//! gap in `seq`; every restart opened its journal. (The `tests/` crate runs
//! the long version across processes; this is the in-crate smoke of it.)

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ledcast_protocol::v1::{self, PlayOutcome, TopicKind};

/// Cycles in the default test run; `LEDCAST_KILL9_CYCLES=200 cargo test -p
/// ledcast-agent --test kill9` runs the long version.
const DEFAULT_CYCLES: usize = 12;

fn cycles() -> usize {
    std::env::var("LEDCAST_KILL9_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CYCLES)
}

fn write_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("agent.toml");
    let text = format!(
        r#"data_dir = "{}"
[mqtt]
keep_alive_seconds = 5
backoff_initial_ms = 100
backoff_max_ms = 500
[plays]
flush_interval_ms = 100
ack_timeout_seconds = 1
[journal]
segment_records = 8
[display]
sink = "png"
max_fps = 5
"#,
        dir.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn random_ms(low: u64, high: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).unwrap();
    low + u64::from_le_bytes(b) % (high - low)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_anywhere_loses_no_fsynced_play_record() {
    let port = start_broker();
    let http_state: Shared = Arc::default();
    let http = start_http(http_state.clone()).await;
    let blue = png(BLUE);
    let green = png(GREEN);
    for bytes in [&blue, &green] {
        let m = media_ref(bytes);
        http_state
            .lock()
            .unwrap()
            .media
            .insert(m.sha256.to_hex(), (bytes.clone(), Serve::Correct));
    }
    let server = start_server_client(port, true).await;
    let r = rotation(1, screen(), &[&blue, &green], 100);
    server
        .publish(TopicKind::Rotation, v1::seal(&r, &server_key()))
        .await;
    let dir = tempfile::tempdir().unwrap();
    enroll(dir.path(), port, &http);
    let config_path = write_config(dir.path());
    let binary = env!("CARGO_BIN_EXE_ledcast-agent");
    let spawn = || {
        Command::new(binary)
            .args(["run", "--config"])
            .arg(&config_path)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    let cycles = cycles();
    for _ in 0..cycles {
        let mut child = spawn();
        tokio::time::sleep(Duration::from_millis(random_ms(150, 900))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }

    // What survived on disk un-acknowledged must arrive too.
    let mut on_disk: BTreeSet<(String, u64)> = BTreeSet::new();
    for entry in std::fs::read_dir(dir.path().join("journal")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for e in ledcast_agent::journal::decode(&bytes).0 {
            if let ledcast_agent::journal::Entry::Start { boot_id, record } = e {
                on_disk.insert((boot_id.to_string(), record.seq));
            }
        }
    }

    // A clean run drains everything.
    let mut child = spawn();
    let received = || -> BTreeMap<String, BTreeSet<u64>> {
        let seen = server.seen.lock().unwrap();
        let mut by_boot: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        for b in &seen.batches {
            for r in &b.records {
                by_boot
                    .entry(b.boot_id.to_string())
                    .or_default()
                    .insert(r.seq);
            }
        }
        by_boot
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = received();
        let all_disk = on_disk
            .iter()
            .all(|(boot, seq)| got.get(boot).is_some_and(|s| s.contains(seq)));
        if all_disk {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "records on disk never arrived: {} on disk",
            on_disk.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let got = received();
    let killed_boots = got.len();
    let total: usize = got.values().map(|s| s.len()).sum();
    eprintln!(
        "kill -9 cycles: {cycles}, runs that reported: {killed_boots}, records: {total}, on disk before drain: {}",
        on_disk.len()
    );
    assert!(
        killed_boots >= cycles / 2,
        "most runs played something: {killed_boots}"
    );
    for (boot, seqs) in &got {
        let max = *seqs.iter().max().unwrap();
        assert_eq!(
            seqs.len() as u64,
            max,
            "boot {boot}: a gap in seq 1..={max}"
        );
    }
    let interrupted = server
        .seen
        .lock()
        .unwrap()
        .batches
        .iter()
        .flat_map(|b| b.records.iter())
        .filter(|r| r.outcome == PlayOutcome::Interrupted && r.ended_at.is_none())
        .count();
    assert!(
        interrupted >= 1,
        "a killed run's last item is reported interrupted"
    );
}
