//! Shared helpers for ledcast's end-to-end scenarios and repository checks.

pub mod fleet;
