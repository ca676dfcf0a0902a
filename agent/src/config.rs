//! The agent's typed configuration: TOML parsed once, unknown keys refused,
//! units in key names, every default in [`Default`] impls right here.
//!
//! It does not read enrollment data (that is [`crate::identity`]) and does not
//! validate that paths exist: the driver reports those with context.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `agent.toml`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Where enrollment, rotations, the journal and (by default) the cache live.
    pub data_dir: PathBuf,
    /// Media cache directory; default `{data_dir}/cache`.
    pub cache_dir: Option<PathBuf>,
    /// MQTT connection behaviour.
    pub mqtt: MqttConfig,
    /// HTTP behaviour.
    pub http: HttpConfig,
    /// Media cache limits.
    pub cache: CacheConfig,
    /// Play-record journal limits.
    pub journal: JournalConfig,
    /// Play-record reporting.
    pub plays: PlaysConfig,
    /// Player tunables.
    pub player: PlayerSection,
    /// The display sink.
    pub display: DisplayConfig,
}

/// `[mqtt]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Keep-alive interval (also bounds how fast the server sees us gone).
    pub keep_alive_seconds: u64,
    /// First reconnect delay.
    pub backoff_initial_ms: u64,
    /// Longest reconnect delay.
    pub backoff_max_ms: u64,
    /// After the broker has been unreachable this long, poll the rotation over HTTP.
    pub rotation_poll_after_seconds: u64,
    /// How often to poll the rotation over HTTP while the broker is unreachable.
    pub rotation_poll_interval_seconds: u64,
    /// How often to republish `state` even if nothing changed.
    pub state_interval_seconds: u64,
}

/// `[http]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Connect timeout.
    pub connect_timeout_seconds: u64,
    /// Timeout for reading each chunk of a response.
    pub read_timeout_seconds: u64,
    /// First download retry delay.
    pub retry_initial_ms: u64,
    /// Longest download retry delay.
    pub retry_max_ms: u64,
}

/// `[cache]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Byte quota for cached media (least recently used evicted first).
    pub max_bytes: u64,
    /// Never fill the disk below this many free bytes.
    pub min_free_bytes: u64,
}

/// `[journal]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JournalConfig {
    /// Capacity of un-acknowledged records on disk.
    pub max_bytes: u64,
    /// Raise `journal_alarm` in `state` above this share of `max_bytes`.
    pub alarm_percent: u8,
    /// Start records per segment file.
    pub segment_records: u32,
}

/// `[plays]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PlaysConfig {
    /// Largest batch published at once.
    pub batch_max_records: usize,
    /// How long completed records may wait before a batch goes out.
    pub flush_interval_ms: u64,
    /// Resend a batch when no ack arrives within this time.
    pub ack_timeout_seconds: u64,
}

/// `[player]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PlayerSection {
    /// Switch to a new rotation once the media it needs within this window is cached.
    pub switch_window_seconds: u64,
    /// How long each built-in fallback warning plays.
    pub builtin_slot_seconds: u64,
}

/// Which sink draws the frames.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// Write the current frame to a PNG file.
    Png,
    /// Draw into a Linux framebuffer device (or a regular file standing in for one).
    Fbdev,
    /// Draw nothing (for tests and benchmarks); screenshots still work.
    None,
    /// Upload each loop to an LED controller card that plays it by itself
    /// (`[display.bridge]`); frames still go to `png_path` as the agent's own
    /// view of what the card should show.
    Bridge,
}

/// `[display]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DisplayConfig {
    /// The sink.
    pub sink: SinkKind,
    /// LED canvas width in pixels.
    pub width_px: u32,
    /// LED canvas height in pixels.
    pub height_px: u32,
    /// Upper bound on frames per second while scrolling.
    pub max_fps: u32,
    /// `png` sink: the output file (relative paths are under `data_dir`).
    pub png_path: PathBuf,
    /// `fbdev` sink settings.
    pub fbdev: FbdevConfig,
    /// Play video slots with `mpv` (`mpv_path`, else `mpv` on PATH).
    pub video_with_mpv: bool,
    /// The mpv binary; unset: `mpv` on PATH.
    pub mpv_path: Option<PathBuf>,
    /// mpv's output and decoding options. The defaults suit a console box
    /// with no desktop: KMS output (`--vo=drm`; `--vo=gpu --gpu-context=drm`
    /// where OpenGL ES works), hardware decoding when the SoC has it, no
    /// sound. Under a desktop use `["--vo=gpu", "--hwdec=auto", "--no-audio"]`.
    pub mpv_options: Vec<String>,
    /// `bridge` sink settings.
    pub bridge: BridgeConfig,
}

/// Controller families a bridge can drive.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BridgeVendor {
    /// Huidu SDK over TCP (HD-WF1/WF2, A/C/D series; port 10001).
    Huidu,
}

impl BridgeVendor {
    /// The name in state reports and play records.
    pub fn as_str(self) -> &'static str {
        match self {
            BridgeVendor::Huidu => "huidu",
        }
    }
}

/// `[display.bridge]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BridgeConfig {
    /// The controller family.
    pub vendor: BridgeVendor,
    /// The card's address on the branch LAN, `host:port` (Huidu: port 10001).
    pub address: String,
    /// How long to wait for the card to answer one request.
    pub timeout_seconds: u64,
    /// How often to read back what the card plays.
    pub check_interval_seconds: u64,
    /// First retry after a failed upload or check.
    pub retry_initial_ms: u64,
    /// Longest retry delay.
    pub retry_max_ms: u64,
    /// A daily brightness schedule handed to the card (empty: leave the
    /// card's own setting alone).
    pub brightness: Vec<BrightnessStep>,
}

/// One `[[display.bridge.brightness]]` step.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BrightnessStep {
    /// Local time on the card, `HH:MM`.
    pub start: String,
    /// Brightness from then on, 1–100.
    pub percent: u8,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            vendor: BridgeVendor::Huidu,
            address: String::new(),
            timeout_seconds: 10,
            check_interval_seconds: 30,
            retry_initial_ms: 2_000,
            retry_max_ms: 120_000,
            brightness: Vec::new(),
        }
    }
}

/// `[display.fbdev]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FbdevConfig {
    /// The device, e.g. `/dev/fb0`. A real device's size, pixel format and
    /// row length come from the kernel; the three keys below describe only
    /// a regular file standing in for one (tests, previews).
    pub path: PathBuf,
    /// Regular-file stand-in only: width in pixels.
    pub fb_width_px: u32,
    /// Regular-file stand-in only: height in pixels.
    pub fb_height_px: u32,
    /// Regular-file stand-in only: 4 (XRGB8888) or 2 (RGB565).
    pub bytes_per_pixel: u8,
    /// Where the LED canvas's left edge lands: the sending card's capture
    /// area's left edge, in framebuffer pixels.
    pub x_offset_px: u32,
    /// Where the LED canvas's top edge lands (capture area's top edge).
    pub y_offset_px: u32,
    /// The console on the framebuffer, put in graphics mode (no text, no
    /// cursor, no blanking) while the agent draws; `""` leaves it alone.
    #[serde(deserialize_with = "empty_path_is_none")]
    pub console_tty: Option<PathBuf>,
}

/// `""` means "none" for optional paths.
fn empty_path_is_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<PathBuf>, D::Error> {
    let path = PathBuf::deserialize(deserializer)?;
    Ok((!path.as_os_str().is_empty()).then_some(path))
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            data_dir: PathBuf::from("/var/lib/ledcast-agent"),
            cache_dir: None,
            mqtt: MqttConfig::default(),
            http: HttpConfig::default(),
            cache: CacheConfig::default(),
            journal: JournalConfig::default(),
            plays: PlaysConfig::default(),
            player: PlayerSection::default(),
            display: DisplayConfig::default(),
        }
    }
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            keep_alive_seconds: 20,
            backoff_initial_ms: 500,
            backoff_max_ms: 60_000,
            rotation_poll_after_seconds: 120,
            rotation_poll_interval_seconds: 300,
            state_interval_seconds: 600,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout_seconds: 10,
            read_timeout_seconds: 30,
            retry_initial_ms: 1_000,
            retry_max_ms: 300_000,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_bytes: 2 * 1024 * 1024 * 1024,
            min_free_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Default for JournalConfig {
    fn default() -> Self {
        // 30 days at one play per 10 s is 259 200 plays of ~480 bytes
        // (start + end frames): about 125 MB. 256 MiB raises the alarm
        // (80 %) after about 49 days offline.
        JournalConfig {
            max_bytes: 256 * 1024 * 1024,
            alarm_percent: 80,
            // ~120 KB per segment: what a batch read holds in memory.
            segment_records: 256,
        }
    }
}

impl Default for PlaysConfig {
    fn default() -> Self {
        PlaysConfig {
            batch_max_records: 200,
            flush_interval_ms: 5_000,
            ack_timeout_seconds: 30,
        }
    }
}

impl Default for PlayerSection {
    fn default() -> Self {
        PlayerSection {
            switch_window_seconds: 3_600,
            builtin_slot_seconds: 10,
        }
    }
}

impl Default for DisplayConfig {
    fn default() -> Self {
        DisplayConfig {
            sink: SinkKind::Png,
            width_px: 352,
            height_px: 80,
            max_fps: 25,
            png_path: PathBuf::from("frame.png"),
            fbdev: FbdevConfig::default(),
            video_with_mpv: true,
            mpv_path: None,
            mpv_options: default_mpv_options(),
            bridge: BridgeConfig::default(),
        }
    }
}

/// The default `mpv_options`.
pub fn default_mpv_options() -> Vec<String> {
    ["--vo=drm", "--hwdec=auto", "--no-audio"]
        .map(str::to_owned)
        .to_vec()
}

impl Default for FbdevConfig {
    fn default() -> Self {
        FbdevConfig {
            path: PathBuf::from("/dev/fb0"),
            fb_width_px: 1920,
            fb_height_px: 1080,
            bytes_per_pixel: 4,
            x_offset_px: 0,
            y_offset_px: 0,
            console_tty: Some(PathBuf::from("/dev/tty1")),
        }
    }
}

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is invalid or has unknown keys.
    #[error("invalid config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What toml said (with line and column).
        message: String,
    },
}

impl AgentConfig {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<AgentConfig, toml::de::Error> {
        toml::from_str(text)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        AgentConfig::from_toml(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// The defaults with `data_dir` set (the `--data-dir` shortcut).
    pub fn for_data_dir(data_dir: &Path) -> AgentConfig {
        AgentConfig {
            data_dir: data_dir.to_owned(),
            ..AgentConfig::default()
        }
    }

    /// The media cache directory.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("cache"))
    }

    /// The PNG sink's output file.
    pub fn png_path(&self) -> PathBuf {
        self.data_dir.join(&self.display.png_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_defaults_and_unknown_keys_are_refused() {
        assert_eq!(AgentConfig::from_toml("").unwrap(), AgentConfig::default());
        let err = AgentConfig::from_toml("[mqtt]\nkeep_alive = 5\n").unwrap_err();
        assert!(err.to_string().contains("keep_alive"), "{err}");
    }

    #[test]
    fn the_example_file_parses_and_states_the_defaults() {
        let text = include_str!("../agent.example.toml");
        let c = AgentConfig::from_toml(text).unwrap();
        let expected = AgentConfig {
            data_dir: PathBuf::from("/var/lib/ledcast-agent"),
            cache_dir: Some(PathBuf::from("/var/cache/ledcast-agent")),
            ..AgentConfig::default()
        };
        assert_eq!(c, expected);
    }

    #[test]
    fn the_packaged_config_parses_and_drives_the_framebuffer() {
        let c = AgentConfig::from_toml(include_str!("../../deploy/agent.toml")).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/ledcast-agent"));
        assert_eq!(c.cache_dir(), PathBuf::from("/var/cache/ledcast-agent"));
        assert_eq!(c.display.sink, SinkKind::Fbdev);
        assert_eq!(c.display.mpv_options, default_mpv_options());
        assert_eq!(
            c.display.fbdev.console_tty,
            Some(PathBuf::from("/dev/tty1"))
        );
        let c = AgentConfig::from_toml("[display.fbdev]\nconsole_tty = \"\"\n").unwrap();
        assert_eq!(c.display.fbdev.console_tty, None);
    }

    #[test]
    fn a_bridge_config_parses() {
        let text = r#"
            [display]
            sink = "bridge"
            width_px = 352
            height_px = 80
            [display.bridge]
            vendor = "huidu"
            address = "192.168.10.20:10001"
            [[display.bridge.brightness]]
            start = "07:00"
            percent = 80
            [[display.bridge.brightness]]
            start = "19:30"
            percent = 30
        "#;
        let c = AgentConfig::from_toml(text).unwrap();
        assert_eq!(c.display.sink, SinkKind::Bridge);
        assert_eq!(c.display.bridge.vendor, BridgeVendor::Huidu);
        assert_eq!(c.display.bridge.address, "192.168.10.20:10001");
        assert_eq!(c.display.bridge.brightness.len(), 2);
        assert_eq!(c.display.bridge.check_interval_seconds, 30);
        let err = AgentConfig::from_toml("[display.bridge]\nvendor = \"acme\"\n").unwrap_err();
        assert!(err.to_string().contains("huidu"), "{err}");
    }

    #[test]
    fn a_full_file_parses() {
        let text = r#"
            data_dir = "/tmp/agent"
            cache_dir = "/var/cache/ledcast-agent"
            [mqtt]
            keep_alive_seconds = 5
            [display]
            sink = "fbdev"
            width_px = 192
            height_px = 32
            [display.fbdev]
            path = "/dev/fb1"
            x_offset_px = 10
        "#;
        let c = AgentConfig::from_toml(text).unwrap();
        assert_eq!(c.mqtt.keep_alive_seconds, 5);
        assert_eq!(c.mqtt.backoff_max_ms, 60_000);
        assert_eq!(c.display.sink, SinkKind::Fbdev);
        assert_eq!(c.display.fbdev.x_offset_px, 10);
        assert_eq!(c.cache_dir(), PathBuf::from("/var/cache/ledcast-agent"));
    }
}
