//! The playlist language and the rotation compiler (pure: no I/O, no clock).
pub mod calendar;
pub mod catalog;
pub mod diagnostic;
pub mod model;
pub mod parse;
