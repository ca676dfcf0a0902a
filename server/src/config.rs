//! The server configuration: typed TOML, unknown keys refused, every default
//! in [`Config::default`] and the `Default` impls below (one place).
//!
//! It does not read environment variables or touch the database; the
//! `serve` path reads the file once and hands each component its section.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The whole `ledcast.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP listen address (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Base URL agents and browsers reach this server at (e.g.
    /// `http://10.0.0.5:8080`); unset = `http://{bound listen address}`.
    pub public_url: Option<String>,
    /// Where the database (SQLite), media store, screenshots and keys live.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL; unset = SQLite at `{data_dir}/ledcast.db`.
    pub database_url: Option<String>,
    /// True when a TLS-terminating proxy sits in front: session cookies get `Secure`.
    pub behind_tls: bool,
    /// Request size limits.
    pub limits: LimitsConfig,
    /// Rotation horizon and expiry.
    pub rotations: RotationConfig,
    /// Sessions, login throttling, enrollment codes.
    pub auth: AuthConfig,
    /// MQTT broker (owned by the push module).
    pub mqtt: MqttConfig,
    /// The public warning feed and embed page for online-transfer pages.
    pub feed: FeedConfig,
    /// The daily expiry report (issue 10).
    pub reports: ReportsConfig,
    /// Several servers on one PostgreSQL database (issue 21).
    pub replicas: ReplicasConfig,
}

/// `[replicas]`: what several servers on one PostgreSQL database share
/// through it instead of a disk (README, "More than one server").
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicasConfig {
    /// A file holding the deployment's key-encryption key (64 hex digits,
    /// mode 0600, the same file on every replica). When set, the server
    /// signing keys are kept in the database sealed with it, and media and
    /// screenshots are kept in the database too, so a replica needs no
    /// shared `data_dir`. Unset: keys and media live only in `data_dir`.
    pub key_encryption_key_file: Option<PathBuf>,
}

/// `[reports]`: the daily expiry report the running server produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// Time zone of the report's day (default `Asia/Shanghai`).
    pub timezone: String,
    /// Local hour (0-23) at which the day's report is produced (default 7).
    pub expiry_hour: u32,
    /// If set, each new report is POSTed there as JSON (`http://` or `https://`).
    pub expiry_webhook_url: Option<String>,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            timezone: "Asia/Shanghai".into(),
            expiry_hour: 7,
            expiry_webhook_url: None,
        }
    }
}

/// `[feed]`: who may read the warning feed from a browser on another site.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// Origins (`https://ebank.example.com`, scheme + host + optional port)
    /// that get `Access-Control-Allow-Origin` on the feed and may frame
    /// `/embed/warning`. Empty: no other site may.
    pub allowed_origins: Vec<String>,
}

/// `[limits]`: body size caps, per route family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// JSON bodies (most routes).
    pub json_max_bytes: u64,
    /// One material upload (multipart body).
    pub upload_max_bytes: u64,
    /// `POST /api/v1/apply` (the TOML of `playlists/`).
    pub apply_max_bytes: u64,
    /// One screenshot PNG from an agent.
    pub screenshot_max_bytes: u64,
    /// Screenshots kept per screen (oldest dropped).
    pub screenshots_kept: u32,
    /// Material uploads and pack imports handled at once (each may decode
    /// an image of up to the media pipeline's decode cap); more wait.
    pub uploads_at_once: u32,
    /// How long an upload waits for its turn before it is answered 429.
    pub upload_wait_seconds: u64,
}

/// `[rotations]`: how far ahead rotations reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RotationConfig {
    /// Blocks are compiled this far ahead of now.
    pub horizon_hours: i64,
    /// A rotation expires this long after it is issued.
    pub expires_after_hours: i64,
    /// The periodic recompile runs when a screen's rotation expires within this.
    pub refresh_when_expiring_within_hours: i64,
    /// How often the periodic check runs.
    pub check_interval_seconds: u64,
}

/// `[auth]`: sessions and throttles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// A browser session lives this long.
    pub session_hours: i64,
    /// Failed logins allowed per user name and per address within the window.
    pub login_failures_allowed: u32,
    /// The login throttle window.
    pub login_window_seconds: i64,
    /// Enrollment codes expire this long after creation.
    pub enrollment_code_seconds: i64,
    /// Enrollment codes one screen may get per window (and failed enrolls per address).
    pub enrollment_attempts_allowed: u32,
    /// Window for the enrollment throttles.
    pub enrollment_window_seconds: i64,
    /// A device-signed upload's timestamp must be within this of the server clock.
    pub upload_clock_skew_seconds: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            data_dir: PathBuf::from("ledcast-data"),
            database_url: None,
            behind_tls: false,
            limits: LimitsConfig::default(),
            rotations: RotationConfig::default(),
            auth: AuthConfig::default(),
            mqtt: MqttConfig::default(),
            feed: FeedConfig::default(),
            reports: ReportsConfig::default(),
            replicas: ReplicasConfig::default(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            json_max_bytes: 1024 * 1024,
            upload_max_bytes: 200 * 1024 * 1024,
            apply_max_bytes: 4 * 1024 * 1024,
            screenshot_max_bytes: 2 * 1024 * 1024,
            screenshots_kept: 20,
            uploads_at_once: 2,
            upload_wait_seconds: 20,
        }
    }
}

impl Default for RotationConfig {
    fn default() -> Self {
        RotationConfig {
            horizon_hours: 48,
            expires_after_hours: 72,
            refresh_when_expiring_within_hours: 48,
            check_interval_seconds: 300,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_hours: 12,
            login_failures_allowed: 5,
            login_window_seconds: 15 * 60,
            enrollment_code_seconds: 10 * 60,
            enrollment_attempts_allowed: 10,
            enrollment_window_seconds: 10 * 60,
            upload_clock_skew_seconds: 5 * 60,
        }
    }
}

impl Config {
    /// Parses a configuration text; unknown keys are errors.
    pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("parsing config {}", path.display()))
    }

    /// The database URL in effect (SQLite under the data directory by default).
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("ledcast.db").display()
            ),
        }
    }
}

/// `[mqtt]` section of the server configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// External broker URL (`mqtt://host:1883`, `mqtts://host:8883`); unset = embedded broker.
    pub broker_url: Option<String>,
    /// Where the embedded broker listens.
    pub embedded_listen: String,
    /// Broker user name of the server's own client (external broker).
    pub username: Option<String>,
    /// Broker password of the server's own client (external broker).
    pub password: Option<String>,
    /// Broker URL handed to agents at enrollment; defaults to the one the server uses.
    pub agent_broker_url: Option<String>,
    /// A screen offline longer than this raises an alert.
    pub offline_alert_seconds: u64,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            broker_url: None,
            embedded_listen: "127.0.0.1:1883".to_owned(),
            username: None,
            password: None,
            agent_broker_url: None,
            offline_alert_seconds: 600,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_matches_defaults_where_uncommented() {
        let text = include_str!("../../ledcast.example.toml");
        let config = Config::parse(text).expect("ledcast.example.toml must parse");
        assert_eq!(config.rotations, RotationConfig::default());
        assert_eq!(config.limits, LimitsConfig::default());
        assert_eq!(config.feed, FeedConfig::default());
    }

    #[test]
    fn feed_origins_parse_and_unknown_feed_keys_are_refused() {
        let config =
            Config::parse("[feed]\nallowed_origins = [\"https://ebank.example.com\"]\n").unwrap();
        assert_eq!(config.feed.allowed_origins, ["https://ebank.example.com"]);
        let error = Config::parse("[feed]\nallowed_origin = []\n").unwrap_err();
        assert!(error.to_string().contains("allowed_origin"), "{error}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let error = Config::parse("listen = \"127.0.0.1:0\"\nlsiten = 1\n").unwrap_err();
        assert!(error.to_string().contains("lsiten"), "{error}");
        let error = Config::parse("[limits]\njson_max = 5\n").unwrap_err();
        assert!(error.to_string().contains("json_max"), "{error}");
    }

    #[test]
    fn the_packaged_config_parses() {
        let config = Config::parse(include_str!("../../deploy/server.toml"))
            .expect("deploy/server.toml (the .deb's /etc/ledcast/server.toml) must parse");
        assert_eq!(config.data_dir, Path::new("/var/lib/ledcast"));
    }

    #[test]
    fn empty_config_is_all_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }
}
