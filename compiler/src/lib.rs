//! The playlist language and the rotation compiler (pure: no I/O, no clock).
//!
//! - [`parse::parse`]: `(file_name, text)` pairs → [`model::Model`] + every
//!   problem as a [`diagnostic::Diagnostic`] (`file:line:column`, hint);
//!   the written forms of days, hours, dates and opening hours are
//!   [`calendar_text`], cron expressions [`cron_text`].
//! - [`catalog`]: the materials the compiler may use ([`catalog::Catalog`],
//!   built by the server) and the `materials.toml` schema of the demo.
//! - [`compile::compile`] / [`compile::recompile`]: model + catalog + time
//!   window → one `protocol::v1::Rotation` per screen with provenance.
//! - [`brightness`]: a panel's brightness schedule (day, night, off hours)
//!   and the concrete windows a rotation carries.
//! - [`explain::explain`]: a compiled screen as a readable timeline.
//! - [`verify::airtime`]: what a rotation shows in a window (rule checks).
//! - [`channel::channel_at`]: what a channel (the online-transfer warning
//!   feed) carries at one instant, from the schedules tagged with its name.
//! - [`synthetic`]: a large deterministic site for the compile benchmark.
//! - [`sample_dates`]: moves the demo site's dates to the day it is loaded.
//!
//! Deliberately not here: reading files, the clock, signing, versions,
//! storage. **Invariant: `compile` never reads the clock; time arrives as
//! `Window::now`.** The same inputs give byte-identical rotations.

pub mod brightness;
pub mod calendar;
pub mod calendar_text;
pub mod catalog;
pub mod channel;
pub mod compile;
pub mod cron_text;
pub mod diagnostic;
pub mod explain;
pub mod model;
pub mod parse;
pub mod sample_dates;
pub mod synthetic;
pub mod verify;

pub use catalog::{
    parse_materials, preview_catalog, Catalog, CatalogMaterial, MaterialEntry, MaterialKind,
    Rendition, TextMetrics,
};
pub use channel::{channel_at, ChannelNow};
pub use compile::{compile, recompile, BlockOrigin, Changes, CompiledScreen, Source, Window};
pub use diagnostic::{Diagnostic, Location, MessageKey, Severity};
pub use explain::explain;
pub use model::Model;
pub use parse::parse;
