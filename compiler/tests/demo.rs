//! The demo site under `playlists/` compiles cleanly; its diagnostics and
//! timelines are pinned by snapshots; every rotation is structurally valid,
//! covers its horizon, keeps every rule in every opening window, and drops
//! a material at its `valid_until` exactly.

mod common;

use common::{at, demo, demo_window, demo_with, DEMO_FILES};
use ledcast_compiler::calendar::{expand_calendar, CalendarSpec};
use ledcast_compiler::{self as compiler, verify, CompiledScreen, Model, Severity};
use ledcast_protocol::v1 as protocol;

fn rendered(diagnostics: &[compiler::Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("{d}\n")).collect()
}

fn compiled_demo() -> (
    Model,
    compiler::Catalog,
    Vec<CompiledScreen>,
    Vec<compiler::Diagnostic>,
) {
    let (model, catalog, mut diagnostics) = demo();
    let (compiled, more) = compiler::compile(&model, &catalog, demo_window());
    diagnostics.extend(more);
    (model, catalog, compiled, diagnostics)
}

fn check_explain(screen: &str) -> String {
    let (model, catalog, compiled, _) = compiled_demo();
    let c = compiled
        .iter()
        .find(|c| c.rotation.screen_id.as_str() == screen)
        .expect("screen compiled");
    compiler::explain(&model, &catalog, c)
}

#[test]
fn demo_compiles_every_screen_without_errors() {
    let (model, _, compiled, diagnostics) = compiled_demo();
    let errors: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(model.screens.len(), 13);
    assert_eq!(compiled.len(), 13);
    insta::assert_snapshot!("demo_diagnostics", rendered(&diagnostics));
}

#[test]
fn explain_bank_door() {
    insta::assert_snapshot!("explain_icbc_door", check_explain("icbc-door"));
}

#[test]
fn explain_counter_scroller() {
    insta::assert_snapshot!("explain_icbc_counter", check_explain("icbc-counter"));
}

#[test]
fn explain_lobby() {
    insta::assert_snapshot!("explain_icbc_lobby", check_explain("icbc-lobby"));
}

#[test]
fn explain_hall_wall() {
    insta::assert_snapshot!("explain_hall_wall", check_explain("hall-wall"));
}

#[test]
fn rotations_are_valid_and_cover_the_horizon() {
    let (_, _, compiled, _) = compiled_demo();
    let window = demo_window();
    for c in &compiled {
        let r = &c.rotation;
        protocol::check_structure(r).unwrap_or_else(|e| panic!("{}: {e}", r.screen_id));
        assert_eq!(r.version, 0);
        assert_eq!(r.issued_at, window.now);
        assert_eq!(r.blocks.len(), c.origins.len());
        assert!(!r.fallback.is_empty(), "{} has no fallback", r.screen_id);
        assert!(r.fallback.iter().all(|s| s.is_warning));
        // The demo has a default playlist: blocks tile [now, now + 48 h) exactly.
        assert_eq!(r.blocks.first().map(|b| b.from), Some(window.now));
        assert_eq!(
            r.blocks.last().map(|b| b.until.0),
            Some(window.now.0 + window.horizon_ms)
        );
        for pair in r.blocks.windows(2) {
            assert_eq!(
                pair[0].until, pair[1].from,
                "{}: gap or overlap",
                r.screen_id
            );
        }
    }
}

#[test]
fn every_rule_holds_in_every_opening_window() {
    let (model, _, compiled, _) = compiled_demo();
    let window = demo_window();
    let mut windows_checked = 0;
    for c in &compiled {
        let screen = model.screen(c.rotation.screen_id.as_str()).expect("screen");
        let site = &model.sites[screen.site];
        let rules: Vec<_> = model
            .rules
            .iter()
            .filter(|r| r.targets.matches(screen, &site.id))
            .collect();
        assert!(!rules.is_empty(), "every demo screen is under a rule");
        for (days, hours) in &site.opening_hours {
            let spec = CalendarSpec {
                days: *days,
                dates: &[],
                hours,
            };
            for (from, until) in expand_calendar(
                spec,
                screen.timezone,
                window.now.0,
                window.now.0 + window.horizon_ms,
            ) {
                let airtime = verify::airtime(&c.rotation, from, until);
                windows_checked += 1;
                assert_eq!(airtime.blank_ms, 0);
                for rule in &rules {
                    if let Some(gap) = rule.max_gap_seconds {
                        assert!(
                            airtime.longest_gap_ms <= i64::from(gap) * 1000,
                            "{} {}: gap {} ms",
                            screen.id,
                            rule.id,
                            airtime.longest_gap_ms
                        );
                    }
                    if let Some(share) = rule.min_warning_share {
                        assert!(
                            airtime.warning_share() + 1e-9 >= share,
                            "{} {}: share {}",
                            screen.id,
                            rule.id,
                            airtime.warning_share()
                        );
                    }
                }
            }
        }
    }
    assert!(windows_checked > 20);
}

#[test]
fn withdrawn_material_drops_out_at_its_valid_until_exactly() {
    let (_, _, compiled, _) = compiled_demo();
    let cut = at("2026-12-02T00:00:00+08:00");
    // The ATM topper plays the default loop (which queries the county pack) across midnight.
    let door = compiled
        .iter()
        .find(|c| c.rotation.screen_id.as_str() == "icbc-atm")
        .expect("atm");
    let has_refund = |b: &protocol::Block| b.slots.iter().any(|s| s.material_id == "w48-refund");
    let mut seen_before = false;
    for b in &door.rotation.blocks {
        if has_refund(b) {
            assert!(
                b.until <= cut,
                "w48-refund still plays in a block until {:?}",
                b.until
            );
            seen_before |= b.until == cut;
        }
    }
    assert!(
        seen_before,
        "a block carrying w48-refund ends exactly at its valid_until"
    );
    assert!(door.rotation.position_at(cut).is_some());
}

#[test]
fn unapproved_material_is_never_compiled_in() {
    let (_, _, compiled, _) = compiled_demo();
    for c in &compiled {
        for b in &c.rotation.blocks {
            assert!(b.slots.iter().all(|s| s.material_id != "w49-game-trading"));
        }
    }
}

#[test]
fn same_inputs_give_byte_identical_rotations() {
    let (_, _, first, _) = compiled_demo();
    let (_, _, second, _) = compiled_demo();
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(
            serde_json::to_vec(&a.rotation).expect("json"),
            serde_json::to_vec(&b.rotation).expect("json")
        );
    }
}

fn files_with(replace_file: &str, text: &str) -> Vec<(&'static str, String)> {
    DEMO_FILES
        .iter()
        .map(|(n, t)| {
            (
                *n,
                if *n == replace_file {
                    text.to_owned()
                } else {
                    (*t).to_owned()
                },
            )
        })
        .collect()
}

#[test]
fn an_active_alert_pre_empts_everything_on_its_targets() {
    let alerts = r#"
[[alerts]]
id = "wave"
material = "counter-text-safe-account"
tags = ["bank-door"]
from = 2026-12-01T10:00:00+08:00
until = 2026-12-01T12:00:00+08:00
"#;
    let (model, catalog, diagnostics) = demo_with(&files_with("playlists/alerts.toml", alerts));
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{diagnostics:#?}"
    );
    let (compiled, _) = compiler::compile(&model, &catalog, demo_window());
    for c in &compiled {
        let screen = model.screen(c.rotation.screen_id.as_str()).expect("screen");
        let at_11 = c
            .rotation
            .position_at(at("2026-12-01T11:00:00+08:00"))
            .expect("plays");
        let slot = c.rotation.slot(&at_11).expect("slot");
        let block = at_11.block.map(|b| &c.rotation.blocks[b]);
        if screen.tags.contains(&"bank-door".to_owned()) {
            assert_eq!(
                block.map(|b| b.priority),
                Some(compiler::model::ALERT_PRIORITY)
            );
            let origin = &c.origins[at_11.block.expect("block")];
            assert!(
                matches!(origin.source.as_ref(), compiler::Source::Alert { alert, .. } if alert == "wave")
            );
            assert!(slot.is_warning);
        } else {
            assert!(block.is_some_and(|b| b.priority < compiler::model::ALERT_PRIORITY));
        }
    }
}

#[test]
fn equal_priority_tie_goes_to_the_schedule_id_that_sorts_first() {
    let schedules = r#"
[[schedules]]
id = "b-second"
playlist = "bank-notices"
screens = ["icbc-lobby"]
hours = "10:00-11:00"
priority = 7

[[schedules]]
id = "a-first"
playlist = "county-pack"
screens = ["icbc-lobby"]
hours = "10:30-12:00"
priority = 7
"#;
    let (model, catalog, diagnostics) =
        demo_with(&files_with("playlists/schedules.toml", schedules));
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{diagnostics:#?}"
    );
    let (compiled, _) = compiler::compile(&model, &catalog, demo_window());
    let lobby = compiled
        .iter()
        .find(|c| c.rotation.screen_id.as_str() == "icbc-lobby")
        .expect("lobby");
    let source_at = |t: &str| {
        let p = lobby.rotation.position_at(at(t)).expect("plays");
        lobby.origins[p.block.expect("block")]
            .source
            .as_ref()
            .clone()
    };
    let schedule = |id: &str| compiler::Source::Schedule {
        schedule: id.into(),
        playlist: String::new(),
    };
    let id_of = |s: compiler::Source| match s {
        compiler::Source::Schedule { schedule, .. } => schedule,
        other => format!("{other:?}"),
    };
    let _ = schedule;
    assert_eq!(id_of(source_at("2026-12-01T10:15:00+08:00")), "b-second");
    assert_eq!(id_of(source_at("2026-12-01T10:45:00+08:00")), "a-first");
    assert_eq!(id_of(source_at("2026-12-01T11:30:00+08:00")), "a-first");
}

#[test]
fn changes_between_models_drive_an_incremental_recompile_equal_to_full() {
    let (old_model, catalog, _) = demo();
    let window = demo_window();
    let (mut previous, _) = compiler::compile(&old_model, &catalog, window);
    // Counter warnings move to 09:00 and a comment shifts every line below it.
    let schedules = DEMO_FILES[4].1.replacen(
        "hours = \"08:30-17:00\"\npriority = 10",
        "hours = \"09:00-17:00\"\npriority = 10",
        1,
    );
    let schedules = format!("# moved\n{schedules}");
    let (new_model, _, _) = demo_with(&files_with("playlists/schedules.toml", &schedules));
    let changes = compiler::Changes::between(&old_model, &new_model);
    assert_eq!(changes.schedules, vec!["counter-warnings-open".to_owned()]);
    assert!(changes.playlists.is_empty() && changes.screens.is_empty() && !changes.settings);
    let (touched, _) = compiler::recompile(
        &mut previous,
        &old_model,
        &new_model,
        &catalog,
        window,
        &changes,
    );
    let touched: Vec<&str> = touched.iter().map(|s| s.as_str()).collect();
    assert_eq!(touched, vec!["abc-counter", "icbc-counter", "rcb-counter"]);
    let (full, _) = compiler::compile(&new_model, &catalog, window);
    assert_eq!(previous, full);
}
