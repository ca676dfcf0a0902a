//! Library editions: supersede, rotation diff before approval, expiry reports.

use super::Route;
use crate::config::Config;

/// This area's routes (merged into [`super::route_table`]).
pub(crate) fn routes(_config: &Config) -> Vec<Route> {
    Vec::new()
}

/// This area's rows of the route × role matrix test.
#[cfg(test)]
pub(crate) fn matrix_rows() -> Vec<super::tests::MatrixRow> {
    Vec::new()
}
