//! `ledcast-server bench …`: benchmarks that print one figure line each.
//! Each benchmark lives in its own file, owned with the crate it measures.

pub mod compile;
pub mod import;
pub mod ingest;
pub mod media;
