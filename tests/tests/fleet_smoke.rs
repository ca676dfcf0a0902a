//! The fleet bench's scenarios once each at N = 50, for correctness, not
//! speed: every simulated screen gets the schedule change, shows the alert,
//! reconnects and resyncs after the broker is killed, and every play record
//! reaches the database exactly once. `LEDCAST_TEST_MQTT` runs them on
//! Mosquitto (storm starts its own), `LEDCAST_TEST_DATABASE_URL` on
//! PostgreSQL (a fresh schema, dropped afterwards).

use ledcast_tests::fleet::{self, Args, Outcome, Scenario};

const AGENTS: usize = 50;

async fn run(scenario: Scenario) -> Outcome {
    let mut args = Args::new(scenario, AGENTS);
    args.broker = std::env::var("LEDCAST_TEST_MQTT").ok();
    args.database_url = std::env::var("LEDCAST_TEST_DATABASE_URL").ok();
    args.records = 40;
    args.down_ms = 1000;
    args.relay_exe = Some(env!("CARGO_BIN_EXE_fleet").into());
    if scenario == Scenario::Fanout {
        args.rounds = 2; // back and forth: the second change must arrive too
    }
    let outcome = fleet::run(&args)
        .await
        .unwrap_or_else(|e| panic!("{scenario:?} failed: {e:#}"));
    for line in &outcome.details {
        eprintln!("{line}");
    }
    eprintln!("{}", outcome.line);
    assert!(
        outcome.all_synced && outcome.lagging.is_empty(),
        "{scenario:?}: screens not in the expected state: {:?}\n{}",
        outcome.lagging,
        outcome.line
    );
    assert_eq!(
        outcome.refused, 0,
        "{scenario:?}: refusals: {:?}",
        outcome.details
    );
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_reaches_every_screen() {
    let outcome = run(Scenario::Fanout).await;
    assert!(
        outcome.line.starts_with("fanout agents=50 "),
        "{}",
        outcome.line
    );
    assert!(outcome.line.contains(" reached=50"), "{}", outcome.line);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_is_shown_on_every_screen() {
    let outcome = run(Scenario::Alert).await;
    assert!(outcome.line.contains(" reached=50"), "{}", outcome.line);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_every_screen_reconnects_and_resyncs() {
    let outcome = run(Scenario::Storm).await;
    assert!(
        outcome.line.starts_with("storm agents=50 "),
        "{}",
        outcome.line
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_stores_every_record_once() {
    let outcome = run(Scenario::Ingest).await;
    assert_eq!(outcome.lost, 0, "{}", outcome.line);
    assert_eq!(outcome.duplicated, 0, "{}", outcome.line);
    assert!(outcome.line.contains("records=2000 "), "{}", outcome.line);
}
