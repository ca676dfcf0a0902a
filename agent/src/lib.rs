//! The ledcast agent library: a sans-IO player core driven by one event loop
//! that owns MQTT, HTTP downloads, the disk and the display sink.
//!
//! - [`player`]: the pure state machine (no I/O, no clock, no tokio).
//! - [`backoff`]: the pure retry delay function.
//! - [`config`]: the typed TOML configuration.
//! - [`identity`]: enrollment and what it stores in the data directory.
//! - [`cache`], [`journal`], [`fsutil`]: the durable state on disk.
//! - [`display`]: the sinks (png, fbdev, mpv) behind one trait.
//! - [`bridge`]: the bridge sink: loops uploaded to a controller card that
//!   plays them by itself, and what the card reports.
//! - [`link`]: blocking HTTP (media, rotation, screenshots, enrollment).
//! - [`driver`]: the one `select!` loop; [`run`] is its entry point. What it
//!   drives besides the network (glass, media store, journal, state files)
//!   comes in through small traits, so the fleet simulator runs it too.
//! - [`clock`]: the only place that reads the wall clock.
//! - [`sim`]: a simulated screen for the fleet bench: the real driver over
//!   in-memory parts (null glass, in-memory media store and journal).
//! - [`replay`]: a screen's past on the real player and a virtual clock,
//!   journaled as an offline agent would have (the demo's past week).

pub mod backoff;
pub mod bridge;
pub mod cache;
pub mod clock;
pub mod config;
pub mod display;
pub mod driver;
pub mod fsutil;
pub mod identity;
pub mod journal;
pub mod link;
pub mod player;
pub mod replay;
pub mod sim;

pub use config::AgentConfig;
pub use driver::run;
pub use identity::enroll;
