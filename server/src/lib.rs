//! The ledcast server library: HTTP API and web UI, store, MQTT publisher and
//! ingest, compliance. The binary in `main.rs` is a thin CLI over it.
//!
//! Entry points: [`service::serve`] (config + shutdown future) and
//! [`router::app`] (the router, for in-process tests).

pub mod applied;
pub mod apply;
pub mod approval;
pub mod auth;
pub mod bench;
pub mod clock;
pub mod compile_cmd;
pub mod compile_gate;
pub mod compliance;
pub mod compliance_report;
pub mod config;
pub mod contact_sheet;
pub mod demo;
pub mod digest;
pub mod events;
pub mod expiry;
pub mod glass;
pub mod http;
pub mod i18n;
pub mod keys;
pub mod legibility;
pub mod materials;
pub mod media_store;
pub mod packs;
pub mod push;
pub mod recompiler;
pub mod replicas;
pub mod router;
pub mod schedule_impact;
pub mod service;
pub mod site_files;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;

pub use service::serve;
