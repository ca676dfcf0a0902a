//! The ledcast wire vocabulary: everything that crosses the network between the
//! server and the agents, and nothing else.
//!
//! - [`v1`] is the current protocol. Changes inside `v1` are additive only
//!   (agents in the field run old builds); a breaking change is a new module.
//!
//! This crate does no I/O and never reads the clock: every function that needs
//! the time takes `now` as an argument. It depends on serde, serde_json and
//! ed25519-dalek only (a tidy test in `tests/` keeps it that way).

pub mod v1;
