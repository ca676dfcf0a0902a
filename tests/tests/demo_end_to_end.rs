//! The README's demo, end to end with real components: the server on
//! SQLite, the embedded broker, the demo site and one in-process agent per
//! demo screen. Every screen must end up playing its signed rotation, with
//! its frame on disk at the profile's native size, and its play records
//! stored on the server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ledcast_bridge::huidu::Fault;
use ledcast_server::demo::{self, DemoArgs};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Width and height from a PNG's IHDR.
fn png_size(path: &Path) -> Option<(u32, u32)> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < 24 || &bytes[1..4] != b"PNG" {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    Some((word(16), word(20)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_screen_plays_its_signed_rotation_and_reports_plays() {
    let data = tempfile::tempdir().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let demo = demo::start(
        DemoArgs {
            data_dir: Some(data.path().to_path_buf()),
            playlists: repo_root().join("playlists"),
            media: repo_root().join("media"),
            no_agents: false,
            broker_url: None,
            no_history: true,
        },
        async {
            let _ = stopped.await;
        },
    )
    .await
    .expect("the demo starts");
    let store = demo.running.state.store.clone();
    let profiles = store.list_profiles().await.unwrap();
    let screens = store.list_screens(None).await.unwrap();
    assert!(
        screens.len() >= 10,
        "the demo site has its screens: {}",
        screens.len()
    );

    // Within 90 s every screen reports the desired version, online.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let lagging = loop {
        let versions = store.screen_versions().await.unwrap();
        let lagging: Vec<String> = versions
            .iter()
            .filter(|v| {
                v.desired_version.is_none()
                    || v.reported_version != v.desired_version
                    || v.status != ledcast_server::store::ScreenPresence::Online
            })
            .map(|v| {
                format!(
                    "{} {:?}/{:?} {}",
                    v.screen_id,
                    v.reported_version,
                    v.desired_version,
                    v.status.as_str()
                )
            })
            .collect();
        if lagging.is_empty() || tokio::time::Instant::now() > deadline {
            break lagging;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        lagging.is_empty(),
        "screens not playing their desired rotation: {lagging:?}"
    );

    // Each agent's frame is on disk at the profile's native size.
    for screen in &screens {
        let profile = profiles.iter().find(|p| p.id == screen.profile_id).unwrap();
        let frame = demo
            .data_dir
            .join("agents")
            .join(&screen.id)
            .join("frame.png");
        assert_eq!(
            png_size(&frame),
            Some((profile.width, profile.height)),
            "{}: frame {} at the profile size",
            screen.id,
            frame.display()
        );
    }

    // Play records reach the server (first items end within one slot; the
    // agents report start records straight away and ends as they happen).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let missing = loop {
        let mut missing = Vec::new();
        for screen in &screens {
            let records = store
                .play_records(&screen.id, 0, i64::MAX, 10)
                .await
                .unwrap();
            if records.is_empty() {
                missing.push(screen.id.clone());
            }
        }
        if missing.is_empty() || tokio::time::Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(missing.is_empty(), "no play records from: {missing:?}");

    bridged_door_strip(&demo).await;

    let _ = stop.send(());
    demo.wait().await.expect("the demo stops cleanly");
}

/// Waits up to `seconds` for `check` to return `Some`.
async fn within<T>(seconds: u64, mut check: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The demo's door strip `icbc-door` plays through the Huidu bridge on an
/// emulated card: the card holds the loop and shows its pixels, the server
/// shows what the card reported, the records are bridged, and while the
/// card is unreachable the records say so and compliance does not count them.
async fn bridged_door_strip(demo: &demo::Demo) {
    let store = demo.running.state.store.clone();
    let card = demo.card.as_ref().expect("the demo runs an emulated card");
    let screen = demo::BRIDGED_SCREEN;
    let state = within(60, async || {
        store
            .screen_state(screen)
            .await
            .unwrap()
            .and_then(|s| s.bridge)
            .filter(|b| b.confirmed)
    })
    .await
    .expect("the server shows the card confirming the uploaded loop");
    assert!(state.reachable);
    assert_eq!(state.vendor, "huidu");
    let uploaded = state.uploaded_loop.clone().unwrap();
    assert!(uploaded.starts_with("icbc-door-v"), "{uploaded}");
    assert_eq!(state.device.as_ref().unwrap().model, "HD-WF2");
    assert_eq!(state.brightness_mode.as_deref(), Some("ploys"));
    {
        let card = card.card.lock().unwrap();
        assert!(
            card.programs()
                .iter()
                .all(|p| p.guid.starts_with(&uploaded)),
            "the card holds the uploaded loop"
        );
        // What the card shows has lit pixels (the door strip is not dark).
        #[allow(clippy::disallowed_methods)]
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let lit = card
            .frame_rgb(now)
            .chunks(3)
            .filter(|p| p.iter().any(|&c| c > 128))
            .count();
        assert!(lit > 0, "the card's panel is lit");
    }
    // The strip's first records started before the card confirmed the loop
    // (the built-in warning, then the first slot during the upload): they are
    // bridged, unconfirmed, and compliance does not count them.
    let plays = store.compliance_plays(screen, 0, i64::MAX).await.unwrap();
    assert!(
        plays.first().is_some_and(|p| p.bridge_unconfirmed),
        "the first record predates the card's confirmation: {plays:?}"
    );
    // Records that start after the confirmation are confirmed (a slot of
    // the strip's loop lasts up to 92 s: its scrolling text).
    let confirmed = within(240, async || {
        let records = store.play_records(screen, 0, i64::MAX, 1000).await.unwrap();
        records
            .iter()
            .any(|r| {
                r.bridge
                    .as_ref()
                    .is_some_and(|b| b.vendor == "huidu" && b.confirmed)
            })
            .then_some(records)
    })
    .await
    .expect("confirmed bridged records reach the server");
    assert!(
        confirmed.iter().all(|r| r.bridge.is_some()),
        "every record of the strip is bridged"
    );

    // The card becomes unreachable: the server shows it, and the agent stops
    // confirming (the record on screen will end unconfirmed).
    card.card.lock().unwrap().add_fault(Fault::Offline);
    within(60, async || {
        store
            .screen_state(screen)
            .await
            .unwrap()
            .and_then(|s| s.bridge)
            .filter(|b| !b.reachable && !b.confirmed && b.last_error.is_some())
    })
    .await
    .expect("the server shows the card unreachable");
    card.card.lock().unwrap().clear_faults();
    within(60, async || {
        store
            .screen_state(screen)
            .await
            .unwrap()
            .and_then(|s| s.bridge)
            .filter(|b| b.reachable && b.confirmed)
    })
    .await
    .expect("the card confirms the loop again");
}

/// A first start gives every demo screen last week and this week so far,
/// played by its agent's real player on a shifted clock and sent through the
/// real MQTT ingest: last week is judged compliant day by day except the
/// ATM topper's Wednesday (its display was unplugged for an afternoon, so
/// that day cannot be judged), the ICBC branch's clerk confirmed last week
/// and reported the outage, and every screen sent a screenshot. A second
/// start on the same data directory adds no past.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_gives_every_screen_a_past_week_through_its_agent() {
    let data = tempfile::tempdir().unwrap();
    let args = DemoArgs {
        data_dir: Some(data.path().to_path_buf()),
        playlists: repo_root().join("playlists"),
        media: repo_root().join("media"),
        no_agents: false,
        broker_url: None,
        no_history: false,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let demo = demo::start(args.clone(), async {
        let _ = stopped.await;
    })
    .await
    .expect("the demo starts");
    let state = demo.running.state.clone();
    let screens = state.store.list_screens(None).await.unwrap();
    let past = demo.past.clone().expect("a first start loads the past");
    assert_eq!(past.screens, screens.len());
    assert_eq!(past.confirmations, 4, "the ICBC branch's four screens");

    // Last week, judged from the stored records as the branch page does.
    let sunday = past.since + chrono::Duration::days(6);
    let now = state.clock.now().as_millis();
    let days =
        ledcast_server::compliance::evaluate::compute(&state, &screens, past.since, sunday, now)
            .await
            .unwrap();
    assert_eq!(days.len(), screens.len() * 7);
    let not_compliant: Vec<String> = days
        .iter()
        .filter(|d| d.day.status != ledcast_server::compliance::Status::Compliant)
        .map(|d| {
            format!(
                "{} {} {:?} {:?}",
                d.screen_id, d.date, d.day.status, d.day.reasons
            )
        })
        .collect();
    let wednesday = (past.since + chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(not_compliant.len(), 1, "{not_compliant:#?}");
    assert!(
        not_compliant[0].starts_with(&format!(
            "{} {wednesday} Unknown",
            demo::history::OUTAGE_SCREEN
        )),
        "{not_compliant:#?}"
    );
    let outage = days
        .iter()
        .find(|d| d.screen_id == demo::history::OUTAGE_SCREEN && d.date == wednesday)
        .unwrap();
    assert_eq!(outage.day.missing_seconds, 150 * 60, "the 2.5 dark hours");

    // The door strip's past was played by its controller card: bridged, confirmed.
    let (from, _) = ledcast_server::compliance::day_bounds(chrono_tz::Asia::Shanghai, past.since);
    let door = state
        .store
        .play_records(demo::BRIDGED_SCREEN, from, from + 86_400_000, 50)
        .await
        .unwrap();
    assert!(!door.is_empty());
    assert!(door.iter().all(|r| r
        .bridge
        .as_ref()
        .is_some_and(|b| b.vendor == "huidu" && b.confirmed)));

    // The branch's confirmations of last week, with the outage reported.
    let week = ledcast_server::compliance::iso_week_of(past.since);
    let confirmations = state
        .store
        .confirmations(Some(&["icbc-gaogang".to_owned()]), Some(&week), None)
        .await
        .unwrap();
    assert_eq!(confirmations.len(), 4);
    let problem: Vec<_> = confirmations
        .iter()
        .filter(|c| c.verdict == ledcast_server::store::BranchVerdict::Problem)
        .collect();
    assert_eq!(problem.len(), 1);
    assert_eq!(problem[0].screen_id, demo::history::OUTAGE_SCREEN);

    // Every screen's agent answered the screenshot request.
    let missing = within(90, async || {
        let mut missing = Vec::new();
        for screen in &screens {
            if state
                .store
                .screenshots(&screen.id)
                .await
                .unwrap()
                .is_empty()
            {
                missing.push(screen.id.clone());
            }
        }
        missing.is_empty().then_some(())
    })
    .await;
    assert!(missing.is_some(), "a screen sent no screenshot");

    let _ = stop.send(());
    demo.wait().await.expect("the demo stops cleanly");

    // A second start on the same data directory: the past is not loaded again.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let again = demo::start(args, async {
        let _ = stopped.await;
    })
    .await
    .expect("the demo starts again");
    assert!(again.past.is_none());
    let confirmations = again
        .running
        .state
        .store
        .confirmations(Some(&["icbc-gaogang".to_owned()]), Some(&week), None)
        .await
        .unwrap();
    assert_eq!(confirmations.len(), 4, "no second set of confirmations");
    let _ = stop.send(());
    again.wait().await.expect("the demo stops cleanly");
}
