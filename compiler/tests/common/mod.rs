//! Shared fixtures: the demo site under `playlists/`, compiled in memory.
#![allow(dead_code)]

use ledcast_compiler::{self as compiler, Catalog, Diagnostic, Model, Window};
use ledcast_protocol::v1::Timestamp;

pub const DEMO_FILES: [(&str, &str); 7] = [
    (
        "playlists/alerts.toml",
        include_str!("../../../playlists/alerts.toml"),
    ),
    (
        "playlists/playlists.toml",
        include_str!("../../../playlists/playlists.toml"),
    ),
    (
        "playlists/profiles.toml",
        include_str!("../../../playlists/profiles.toml"),
    ),
    (
        "playlists/rules.toml",
        include_str!("../../../playlists/rules.toml"),
    ),
    (
        "playlists/schedules.toml",
        include_str!("../../../playlists/schedules.toml"),
    ),
    (
        "playlists/settings.toml",
        include_str!("../../../playlists/settings.toml"),
    ),
    (
        "playlists/sites.toml",
        include_str!("../../../playlists/sites.toml"),
    ),
];

pub const DEMO_MATERIALS: &str = include_str!("../../../playlists/materials.toml");

/// The demo model and catalog, with every parse diagnostic.
pub fn demo() -> (Model, Catalog, Vec<Diagnostic>) {
    demo_with(&DEMO_FILES.map(|(n, t)| (n, t.to_owned())))
}

/// Like [`demo`] with replaced file texts.
pub fn demo_with(files: &[(&str, String)]) -> (Model, Catalog, Vec<Diagnostic>) {
    let inputs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let (model, mut diagnostics) = compiler::parse(&inputs);
    let (entries, problems) = compiler::parse_materials(
        "playlists/materials.toml",
        DEMO_MATERIALS,
        model.settings.timezone,
    );
    diagnostics.extend(problems);
    let catalog = compiler::preview_catalog(&entries, &model);
    (model, catalog, diagnostics)
}

/// Milliseconds of an RFC 3339 instant.
pub fn at(rfc3339: &str) -> Timestamp {
    Timestamp(
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .expect("test instant")
            .timestamp_millis(),
    )
}

/// The demo's compile window: Tuesday 2026-12-01 09:00 Shanghai, 48 h.
pub fn demo_window() -> Window {
    Window::hours(at("2026-12-01T09:00:00+08:00"), 48, 72)
}
