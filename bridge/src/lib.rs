//! `ledcast-bridge`: how ledcast reaches the LED controller cards banks
//! already own. Each vendor module is a pure protocol codec, a sans-IO
//! session (upload a loop, read back what the card reports) and an emulator
//! of the card for tests and the demo. The agent owns the sockets and the
//! clock; this crate does no I/O and never reads the clock.
//!
//! Vendors: [`huidu`] (Huidu SDK over TCP: HD-WF1/WF2 door strips, A/C/D
//! series). `docs/bridges/huidu.md` says why this family came first.

pub mod huidu;
pub mod plan;

pub use plan::{Brightness, BrightnessEntry, LoopPlan, Motion, PlanFile, PlanItem};
