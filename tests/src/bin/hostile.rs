//! `hostile`: the server's peak memory under the issue-17 upload attacks.
//!
//! Starts the release `ledcast-server serve` as its own process (SQLite and
//! the embedded broker in a temp dir), logs in as an editor over HTTP, and
//! sends, all at once:
//! 1. six ~120 KB PNG bombs (8-bit RGBA, 6300×6300: 159 MB once decoded)
//!    to `POST /api/v1/materials`;
//! 2. three 16 MB packs, each with four 250 MiB "posters" at a legal
//!    64:1 ratio, to `POST /api/v1/packs`;
//! 3. six real 4000×4000 RGBA posters (64 MB each decoded, just under the
//!    96 MiB decode cap) to `POST /api/v1/materials`: these are decoded and
//!    stored, at most `uploads_at_once` at a time.
//!
//! After each phase it reads the server process's peak RSS (VmHWM; reset
//! between phases through `/proc/PID/clear_refs`) and prints one line:
//!
//! ```text
//! hostile rss_idle_mib=… bombs=6 bomb_answers=422x6 bombs_peak_mib=… packs=3 pack_answers=422x3 packs_peak_mib=… big_posters=6 big_answers=201x6 big_peak_mib=… target_mib=512
//! ```
//!
//! ```sh
//! cargo build --release -p ledcast-server -p ledcast-tests --bin ledcast-server --bin hostile
//! target/release/hostile [--server target/release/ledcast-server] [--uploads-at-once 6]
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The server binary to measure.
    #[arg(long, default_value = "target/release/ledcast-server")]
    server: PathBuf,
    /// Bombs sent at once.
    #[arg(long, default_value_t = 6)]
    bombs: usize,
    /// Packs sent at once.
    #[arg(long, default_value_t = 3)]
    packs: usize,
    /// The server's `[limits] uploads_at_once` (its default is 2; 6 shows
    /// what the gate saves).
    #[arg(long, default_value_t = 2)]
    uploads_at_once: u32,
}

const PASSWORD: &str = "bench password, long enough";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn start(args: &Args, dir: &std::path::Path) -> anyhow::Result<Server> {
    let port = free_port()?;
    let config = dir.join("ledcast.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:{port}\"\n[mqtt]\nembedded_listen = \"127.0.0.1:0\"\n[limits]\nuploads_at_once = {}\n",
            dir.join("data"),
            args.uploads_at_once,
        ),
    )?;
    let mut admin = Command::new(&args.server)
        .args(["admin", "create", "--username", "bench", "--role", "editor"])
        .arg("--config")
        .arg(&config)
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("running {}", args.server.display()))?;
    admin
        .stdin
        .take()
        .context("admin stdin")?
        .write_all(PASSWORD.as_bytes())?;
    if !admin.wait()?.success() {
        bail!("ledcast-server admin create failed");
    }
    let child = Command::new(&args.server)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let mut tries = 0;
    while ureq::get(&format!("{}/healthz", server.base))
        .call()
        .is_err()
    {
        tries += 1;
        if tries > 300 {
            bail!("the server did not answer /healthz within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(server)
}

/// `(cookie, csrf)` of an editor session.
fn login(base: &str) -> anyhow::Result<(String, String)> {
    let response = ureq::post(&format!("{base}/api/v1/login"))
        .send_json(serde_json::json!({"username": "bench", "password": PASSWORD}))?;
    let cookie = response
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .context("no session cookie")?
        .to_owned();
    let body: serde_json::Value = response.into_json()?;
    let csrf = body["csrf_token"]
        .as_str()
        .context("no csrf token")?
        .to_owned();
    Ok((cookie, csrf))
}

fn status_file(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("malformed status line")?
        .parse()?;
    Ok(kib * 1024)
}

fn reset_peak(pid: u32) -> anyhow::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .context("resetting the server's VmHWM through /proc/PID/clear_refs")
}

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

/// A valid 8-bit RGBA PNG of `w`×`h` black pixels (the IDAT of zeros
/// compresses about 1000:1).
fn png_bomb(w: u32, h: u32) -> anyhow::Result<Vec<u8>> {
    let raw = flate_zeros((u64::from(h) * (1 + 4 * u64::from(w))) as usize)?;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    for part in raw.chunks(1 << 20) {
        png_chunk(&mut out, b"IDAT", part);
    }
    png_chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zlib stream of `len` zero bytes, compressed in 1 MiB steps.
fn flate_zeros(len: usize) -> anyhow::Result<Vec<u8>> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0;
    while written < len {
        let n = chunk.len().min(len - written);
        encoder.write_all(&chunk[..n])?;
        written += n;
    }
    Ok(encoder.finish()?)
}

/// A pack with four 250 MiB "posters" at about 80:1.
fn pack_bomb() -> anyhow::Result<Vec<u8>> {
    const ENTRY: usize = 250 * 1024 * 1024;
    let mut manifest =
        String::from("edition = \"bench-2026-W48\"\npublisher = \"bench\"\nissued = 2026-11-23\n");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..4 {
        let path = format!("posters/{i}.png");
        manifest.push_str(&format!(
            "\n[[material]]\nkind = \"poster\"\nfile = \"{path}\"\ntitle = \"大图{i}\"\ncategory = \"刷单返利\"\nscreens = [\"hall\"]\nvalid_from = 2026-11-23\nvalid_until = 2026-12-06\n"
        ));
        zip.start_file(
            path,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .compression_level(Some(1)),
        )?;
        // One pseudo-random byte in every 256: about 80:1 with deflate.
        let mut chunk = vec![0u8; 1 << 20];
        let mut state = 0x1234_5678u32 ^ i;
        for written in (0..ENTRY).step_by(chunk.len()) {
            for slot in chunk.iter_mut().step_by(256) {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                *slot = state as u8;
            }
            let n = chunk.len().min(ENTRY - written);
            zip.write_all(&chunk[..n])?;
        }
    }
    zip.start_file("pack.toml", zip::write::SimpleFileOptions::default())?;
    zip.write_all(manifest.as_bytes())?;
    Ok(zip.finish()?.into_inner())
}

fn multipart(file_name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    body
}

/// Sends `count` copies of one request at once; returns each status and the
/// first answer's detail.
fn all_at_once(
    count: usize,
    url: &str,
    content_type: &str,
    session: &(String, String),
    body: &[u8],
) -> (Vec<u16>, String) {
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .map(|_| {
                scope.spawn(|| {
                    let result = ureq::post(url)
                        .timeout(Duration::from_secs(300))
                        .set("Content-Type", content_type)
                        .set("Cookie", &session.0)
                        .set("X-CSRF-Token", &session.1)
                        .send_bytes(body);
                    match result {
                        Ok(response) => (
                            response.status(),
                            response.into_string().unwrap_or_default(),
                        ),
                        Err(ureq::Error::Status(code, response)) => {
                            (code, response.into_string().unwrap_or_default())
                        }
                        Err(error) => (0, error.to_string()),
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let detail = answers
        .first()
        .map(|(_, body)| {
            serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["detail"].as_str().map(str::to_owned))
                .unwrap_or_else(|| body.chars().take(200).collect())
        })
        .unwrap_or_default();
    (answers.into_iter().map(|(code, _)| code).collect(), detail)
}

fn tally(codes: &[u16]) -> String {
    let mut counts = BTreeMap::new();
    for code in codes {
        *counts.entry(code).or_insert(0) += 1;
    }
    counts
        .iter()
        .map(|(code, n)| format!("{code}x{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let bomb = png_bomb(6300, 6300)?;
    let pack = pack_bomb()?;
    eprintln!(
        "bomb {} KB, pack {:.1} MB",
        bomb.len() / 1000,
        pack.len() as f64 / 1e6
    );
    let server = start(&args, dir.path())?;
    let pid = server.child.id();
    let session = login(&server.base)?;
    let idle = status_file(pid, "VmRSS:")?;

    reset_peak(pid)?;
    let (bomb_codes, bomb_detail) = all_at_once(
        args.bombs,
        &format!("{}/api/v1/materials", server.base),
        "multipart/form-data; boundary=XyZ",
        &session,
        &multipart("bomb.png", &bomb),
    );
    let bombs_peak = status_file(pid, "VmHWM:")?;
    eprintln!("bomb answer: {bomb_detail}");

    reset_peak(pid)?;
    let (pack_codes, pack_detail) = all_at_once(
        args.packs,
        &format!("{}/api/v1/packs", server.base),
        "application/zip",
        &session,
        &pack,
    );
    let packs_peak = status_file(pid, "VmHWM:")?;
    eprintln!("pack answer: {pack_detail}");

    // Six real (black) posters just under the decode cap, at once: decoded
    // and stored, at most `uploads_at_once` (2) at a time.
    reset_peak(pid)?;
    let big: Vec<Vec<u8>> = (0..args.bombs as u32)
        .map(|i| png_bomb(4000 - i, 4000 - i).map(|png| multipart(&format!("big-{i}.png"), &png)))
        .collect::<anyhow::Result<_>>()?;
    let big_codes: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = big
            .iter()
            .map(|body| {
                let url = format!("{}/api/v1/materials", server.base);
                let session = &session;
                scope.spawn(move || {
                    all_at_once(1, &url, "multipart/form-data; boundary=XyZ", session, body).0[0]
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let big_peak = status_file(pid, "VmHWM:")?;

    println!(
        "hostile uploads_at_once={} rss_idle_mib={} bombs={} bomb_answers={} bombs_peak_mib={} packs={} pack_answers={} packs_peak_mib={} big_posters={} big_answers={} big_peak_mib={} target_mib=512",
        args.uploads_at_once,
        mib(idle),
        args.bombs,
        tally(&bomb_codes),
        mib(bombs_peak),
        args.packs,
        tally(&pack_codes),
        mib(packs_peak),
        args.bombs,
        tally(&big_codes),
        mib(big_peak),
    );
    drop(server);
    Ok(())
}
