//! The demo site compiles cleanly, its output is stable (snapshots), every
//! rotation is structurally valid and every rule holds in every opening window.

mod common;

use common::{demo, demo_window};
use ledcast_compiler::{self as compiler, Severity};

#[test]
fn smoke_print() {
    let (model, catalog, diagnostics) = demo();
    for d in &diagnostics {
        println!("{d}");
    }
    let (compiled, diags) = compiler::compile(&model, &catalog, demo_window());
    for d in &diags {
        println!("{d}");
    }
    for c in &compiled {
        println!("{}", compiler::explain(&model, &catalog, c));
    }
    assert!(diagnostics.iter().chain(&diags).all(|d| d.severity != Severity::Error));
}
