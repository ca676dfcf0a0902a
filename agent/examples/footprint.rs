//! Footprint harness: runs a (release) `ledcast-agent` binary against an
//! in-process rumqttd broker and an HTTP stand-in, playing a 10-item
//! rotation on a WxH profile, and prints
//! `agent rss_kib=X binary_kib=Y cpu_pct=Z` (peak RSS from VmHWM, CPU from
//! /proc/PID/stat over the measured window, after the rotation is playing).
//!
//! ```text
//! cargo build --release -p ledcast-agent
//! cargo run -p ledcast-agent --example footprint -- --seconds 60 --size 352x80 \
//!     --agent target/release/ledcast-agent
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use image::RgbImage;
use ledcast_protocol::v1::{self, TopicKind};

struct Args {
    seconds: u64,
    width: u32,
    height: u32,
    agent: String,
    slot_ms: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        seconds: 60,
        width: 352,
        height: 80,
        agent: "target/release/ledcast-agent".into(),
        slot_ms: 6_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => args.seconds = value.parse().expect("--seconds N"),
            "--size" => {
                let (w, h) = value.split_once('x').expect("--size WxH");
                args.width = w.parse().expect("width");
                args.height = h.parse().expect("height");
            }
            "--agent" => args.agent = value,
            "--slot-ms" => args.slot_ms = value.parse().expect("--slot-ms N"),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn cpu_ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces).
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 overall: 12 and 13 after ')'.
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    utime + stime
}

// A harness binary: it measures wall time itself.
#[allow(clippy::disallowed_methods)]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = parse_args();
    let port = start_broker();
    let http_state: Shared = Arc::default();
    let http = start_http(http_state.clone()).await;
    let items: Vec<Vec<u8>> = (0..10u8)
        .map(|n| {
            let mut img = RgbImage::new(args.width, args.height);
            for (x, y, p) in img.enumerate_pixels_mut() {
                *p = image::Rgb([
                    (x as u8).wrapping_mul(n + 1),
                    (y as u8).wrapping_add(n * 20),
                    n * 25,
                ]);
            }
            ledcast_agent::display::encode_png(&img).unwrap()
        })
        .collect();
    for bytes in &items {
        let m = media_ref(bytes);
        http_state
            .lock()
            .unwrap()
            .media
            .insert(m.sha256.to_hex(), (bytes.clone(), Serve::Correct));
    }
    let server = start_server_client(port, true).await;
    let refs: Vec<&[u8]> = items.iter().map(|b| b.as_slice()).collect();
    let mut r = rotation(1, screen(), &refs, args.slot_ms);
    for m in &mut r.media {
        m.width = args.width;
        m.height = args.height;
    }
    server
        .publish(TopicKind::Rotation, v1::seal(&r, &server_key()))
        .await;

    let dir = tempfile::tempdir().unwrap();
    enroll(dir.path(), port, &http);
    let config_path = dir.path().join("agent.toml");
    std::fs::write(
        &config_path,
        format!(
            "data_dir = \"{}\"\n[display]\nsink = \"png\"\nwidth_px = {}\nheight_px = {}\n",
            dir.path().display(),
            args.width,
            args.height
        ),
    )
    .unwrap();
    let mut child = Command::new(&args.agent)
        .args(["run", "--config"])
        .arg(&config_path)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", args.agent));
    let pid = child.id();
    wait_for("the rotation playing", 30_000, || {
        server
            .latest_state()
            .is_some_and(|s| s.rotation_version == Some(1))
    })
    .await;
    let ticks_before = cpu_ticks(pid);
    let started = std::time::Instant::now();
    let mut rss_max = 0;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss_max = rss_max.max(proc_status_kib(pid, "VmRSS:"));
    }
    let ticks = cpu_ticks(pid) - ticks_before;
    let elapsed = started.elapsed().as_secs_f64();
    let hwm = proc_status_kib(pid, "VmHWM:");
    let anon = proc_status_kib(pid, "RssAnon:");
    let file = proc_status_kib(pid, "RssFile:");
    let threads = proc_status_kib(pid, "Threads:");
    let binary_kib = std::fs::metadata(&args.agent)
        .map(|m| m.len() / 1024)
        .unwrap_or(0);
    // Linux reports CPU time in clock ticks of 1/100 s.
    let cpu_pct = ticks as f64 / 100.0 / elapsed * 100.0;
    let plays: usize = server
        .seen
        .lock()
        .unwrap()
        .batches
        .iter()
        .map(|b| b.records.len())
        .sum();
    child.kill().unwrap();
    child.wait().unwrap();
    println!(
        "agent rss_kib={} binary_kib={binary_kib} cpu_pct={cpu_pct:.2}",
        hwm.max(rss_max)
    );
    println!(
        "  profile={}x{} seconds={:.0} slot_ms={} plays_reported={plays} rss_anon_kib={anon} rss_file_kib={file} threads={threads}",
        args.width, args.height, elapsed, args.slot_ms
    );
}
