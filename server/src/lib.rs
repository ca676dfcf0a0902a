//! The ledcast server library: HTTP API and web UI, store, MQTT publisher and
//! ingest, compliance. The binary in `main.rs` is a thin CLI over it.

pub mod bench;
pub mod clock;
pub mod compile_cmd;
pub mod config;
pub mod keys;
pub mod media_store;
pub mod push;
pub mod store;
