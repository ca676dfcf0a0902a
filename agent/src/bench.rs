//! `ledcast-agent bench footprint`: what one agent costs on its controller.
//!
//! The agent crate does not depend on the server (see ARCHITECTURE.md), so
//! the bench runs the real `ledcast-server` binary as a child process in its
//! demo mode (SQLite, embedded broker) on a generated one-screen site with a
//! 10-item rotation, enrolls through the real API, then runs this very binary
//! as the agent and reads its peak RSS (VmHWM) and CPU time from /proc.
//! It prints `agent rss_kib=X binary_kib=Y cpu_pct=Z`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use image::RgbImage;

use ledcast_agent::clock;

/// Options of `bench footprint`.
#[derive(Debug, Clone)]
pub struct FootprintArgs {
    /// Canvas size, `WIDTHxHEIGHT`.
    pub profile: (u32, u32),
    /// Measured seconds (after the rotation plays).
    pub seconds: u64,
    /// Seconds per item.
    pub slot_seconds: u64,
    /// The `ledcast-server` binary (default: next to this one, then target/{release,debug}).
    pub server: Option<PathBuf>,
}

/// Parses `352x80`.
pub fn parse_profile(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{text:?}: expected WIDTHxHEIGHT, e.g. 352x80"))?;
    let w: u32 = w.parse().map_err(|_| format!("{text:?}: bad width"))?;
    let h: u32 = h.parse().map_err(|_| format!("{text:?}: bad height"))?;
    if w == 0 || h == 0 || w > 7680 || h > 4320 {
        return Err(format!("{text:?}: size out of range"));
    }
    Ok((w, h))
}

/// Kills a child process when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_server(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let me = std::env::current_exe().context("locating this binary")?;
    let dir = me.parent().context("this binary has no directory")?;
    let mut candidates = vec![dir.join("ledcast-server")];
    if let Some(target) = dir.parent() {
        for profile in ["release", "agent-release", "debug"] {
            candidates.push(target.join(profile).join("ledcast-server"));
        }
    }
    candidates.into_iter().find(|p| p.exists()).context(
        "no ledcast-server binary next to this one or under target/{release,debug}: \
         build it (cargo build --release -p ledcast-server) or pass --server PATH",
    )
}

/// Writes the one-screen site: 10 generated posters at the profile size.
fn write_site(root: &Path, (width, height): (u32, u32), slot_seconds: u64) -> anyhow::Result<()> {
    let site = root.join("site");
    let media = root.join("media").join("posters");
    std::fs::create_dir_all(&site)?;
    std::fs::create_dir_all(&media)?;
    let color = if width * height >= 640 * 360 {
        "full"
    } else {
        "mono"
    };
    let mut materials = String::new();
    let mut items = String::new();
    for n in 0..10u32 {
        let mut img = RgbImage::new(width, height);
        for (x, y, p) in img.enumerate_pixels_mut() {
            // A lit block in a different tenth of the width per item, so
            // that even a 1-bit rendition of each item is distinct.
            let on = x * 10 / width == n || ((x / 8 + y / 8) % 5 == 0);
            // Light on dark: a mono panel lights it (the legibility rules
            // refuse a rendition with no lit LED).
            *p = if on {
                image::Rgb([255, 255 - (n * 10) as u8, 255 - (n * 20) as u8])
            } else {
                image::Rgb([0, 0, (n * 5) as u8])
            };
        }
        std::fs::write(
            media.join(format!("bench-{n}.png")),
            ledcast_agent::display::encode_png(&img)?,
        )?;
        materials.push_str(&format!(
            "[[materials]]\nid = \"bench-{n}\"\nkind = \"poster\"\nfile = \"posters/bench-{n}.png\"\n\
             title = \"bench {n}\"\ntags = [\"bench\"]\ncategory = \"general\"\n\
             added = 2026-01-05T09:00:00+08:00\n\n"
        ));
        items.push_str(&format!(
            "  {{ material = \"bench-{n}\", seconds = {slot_seconds} }},\n"
        ));
    }
    let files = [
        (
            "profiles.toml",
            format!(
                "[[profiles]]\nid = \"bench-{width}x{height}\"\nwidth = {width}\nheight = {height}\n\
                 color = \"{color}\"\nvideo = false\nscroll = true\nstill = true\n"
            ),
        ),
        ("materials.toml", materials),
        (
            "sites.toml",
            format!(
                "[[sites]]\nid = \"bench-site\"\nname = \"bench\"\norganisation = \"bench\"\n\
                 opening_hours = {{ \"mon-sun\" = \"08:30-17:00\" }}\n\n\
                 [[screens]]\nid = \"bench-screen\"\nname = \"bench\"\nsite = \"bench-site\"\n\
                 profile = \"bench-{width}x{height}\"\ntags = [\"bench\"]\n"
            ),
        ),
        (
            "playlists.toml",
            format!(
                "[[playlists]]\nid = \"bench\"\nname = \"bench\"\nitems = [\n{items}]\n\n\
                 [[playlists]]\nid = \"bench-warnings\"\nname = \"bench warnings\"\n\
                 items = [ {{ material = \"bench-0\", seconds = {slot_seconds} }} ]\n"
            ),
        ),
        (
            "settings.toml",
            format!(
                "[settings]\ntimezone = \"Asia/Shanghai\"\ndefault_playlist = \"bench\"\n\
                 warning_playlist = \"bench-warnings\"\nstill_seconds = {slot_seconds}\n\
                 scroll_px_per_second = 32\n"
            ),
        ),
    ];
    for (name, text) in files {
        std::fs::write(site.join(name), text)?;
    }
    Ok(())
}

/// Logs in as the demo admin and creates an enrollment code for the bench screen.
fn enrollment_code(base: &str, password: &str) -> anyhow::Result<String> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let login = agent
        .post(&format!("{base}/api/v1/login"))
        .set("content-type", "application/json")
        .send_string(&serde_json::json!({"username": "admin", "password": password}).to_string())
        .context("logging in as the demo admin")?;
    let cookie = login
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .context("no session cookie")?
        .to_owned();
    let body: serde_json::Value = serde_json::from_str(&login.into_string()?)?;
    let csrf = body["csrf_token"]
        .as_str()
        .context("no csrf_token")?
        .to_owned();
    let response = agent
        .post(&format!("{base}/api/v1/screens/bench-screen/enrollment"))
        .set("content-type", "application/json")
        .set("cookie", &cookie)
        .set("x-csrf-token", &csrf)
        .send_string("{}")
        .context("creating an enrollment code")?;
    let body: serde_json::Value = serde_json::from_str(&response.into_string()?)?;
    Ok(body["code"].as_str().context("no code")?.to_owned())
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> u64 { fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0) };
    field(11) + field(12)
}

/// The media (hex) of the rotation the agent persisted as playing, verified
/// with its pinned server key.
fn playing_media(agent_dir: &Path) -> Option<Vec<String>> {
    let loaded = ledcast_agent::identity::load(agent_dir).ok()?;
    let envelope =
        ledcast_agent::fsutil::read_checked(&agent_dir.join("state").join("rotation-current.env"))
            .ok()??;
    let rotation: ledcast_protocol::v1::Rotation =
        ledcast_protocol::v1::open(&envelope, &loaded.server_key).ok()?;
    Some(rotation.media.iter().map(|m| m.sha256.to_hex()).collect())
}

/// Waits for the agent's first frame.
fn wait_playing(frame: &Path, within: Duration) -> anyhow::Result<()> {
    let started = clock::monotonic();
    while started.elapsed() < within {
        if frame.exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("the agent drew no frame within {within:?}")
}

/// Runs the bench and prints its figures.
pub fn footprint(args: &FootprintArgs) -> anyhow::Result<()> {
    let server_bin = find_server(args.server.as_deref())?;
    let me = std::env::current_exe().context("locating this binary")?;
    let root = std::env::temp_dir().join(format!("ledcast-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let result = run_footprint(args, &server_bin, &me, &root);
    let _ = std::fs::remove_dir_all(&root);
    result
}

fn run_footprint(
    args: &FootprintArgs,
    server_bin: &Path,
    me: &Path,
    root: &Path,
) -> anyhow::Result<()> {
    write_site(root, args.profile, args.slot_seconds)?;
    eprintln!("bench: starting {} demo", server_bin.display());
    let mut server = Reaped(
        Command::new(server_bin)
            .arg("demo")
            .arg("--data-dir")
            .arg(root.join("server"))
            .arg("--playlists")
            .arg(root.join("site"))
            .arg("--media")
            .arg(root.join("media"))
            .arg("--no-agents")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", server_bin.display()))?,
    );
    let stdout = server.0.stdout.take().context("server stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let (base, password) = loop {
        let line = lines
            .next()
            .context("the server exited before it was ready")??;
        // ledcast demo: web http://127.0.0.1:PORT/ user admin password PASSWORD
        if let Some(rest) = line.strip_prefix("ledcast demo: web ") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            if let (Some(url), Some(password)) = (words.first(), words.get(4)) {
                break (url.trim_end_matches('/').to_owned(), (*password).to_owned());
            }
        }
    };
    // Keep draining the server's stdout so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});

    let agent_dir = root.join("agent");
    std::fs::create_dir_all(&agent_dir)?;
    let code = enrollment_code(&base, &password)?;
    ledcast_agent::identity::enroll(&base, &code, &agent_dir)
        .context("enrolling the bench agent")?;
    let (width, height) = args.profile;
    let config = agent_dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[display]\nsink = \"png\"\nwidth_px = {width}\nheight_px = {height}\n",
            agent_dir.display()
        ),
    )?;
    let agent = Reaped(
        Command::new(me)
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the agent")?,
    );
    let pid = agent.0.id();
    // Playing the rotation: the first bench item is in the cache and drawn.
    wait_playing(&agent_dir.join("frame.png"), Duration::from_secs(60))?;
    // Every medium of the rotation it plays is cached.
    let cached = agent_dir.join("cache").join("media");
    let started = clock::monotonic();
    loop {
        let media = playing_media(&agent_dir).unwrap_or_default();
        if !media.is_empty() && media.iter().all(|m| cached.join(m).exists()) {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the agent did not play and cache its rotation within 60 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));

    let ticks_before = cpu_ticks(pid);
    let started = clock::monotonic();
    let mut rss_max = 0;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        std::thread::sleep(Duration::from_millis(250));
        rss_max = rss_max.max(proc_status_kib(pid, "VmRSS:"));
    }
    let ticks = cpu_ticks(pid).saturating_sub(ticks_before);
    let elapsed = started.elapsed().as_secs_f64();
    let hwm = proc_status_kib(pid, "VmHWM:");
    let anon = proc_status_kib(pid, "RssAnon:");
    let file = proc_status_kib(pid, "RssFile:");
    let threads = proc_status_kib(pid, "Threads:");
    let binary_kib = std::fs::metadata(me).map(|m| m.len() / 1024).unwrap_or(0);
    let cpu_pct = ticks as f64 / 100.0 / elapsed * 100.0;
    drop(agent);
    drop(server);
    println!(
        "agent rss_kib={} binary_kib={binary_kib} cpu_pct={cpu_pct:.2}",
        hwm.max(rss_max)
    );
    println!(
        "  profile={width}x{height} seconds={elapsed:.0} slot_seconds={} items=10 rss_anon_kib={anon} rss_file_kib={file} threads={threads} binary={}",
        args.slot_seconds,
        me.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse() {
        assert_eq!(parse_profile("352x80"), Ok((352, 80)));
        assert_eq!(parse_profile("1920X1080"), Ok((1920, 1080)));
        assert!(parse_profile("352").is_err());
        assert!(parse_profile("0x10").is_err());
    }
}
