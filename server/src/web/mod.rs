//! The web UI for office staff, approvers and bank branches: server-rendered
//! pages in zh-CN (default) and English, all strings from message catalogues.

use crate::config::Config;
use crate::http::Route;

/// The UI's routes (merged into [`crate::http::route_table`]).
pub fn routes(_config: &Config) -> Vec<Route> {
    Vec::new()
}

/// The UI's rows of the route × role matrix test.
#[cfg(test)]
pub(crate) fn matrix_rows() -> Vec<crate::http::tests::MatrixRow> {
    Vec::new()
}
